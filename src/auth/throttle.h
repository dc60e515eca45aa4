/* throttle: failed logins counted per client address across sessions, so
 * a guesser that opens a new connection for every try is slowed down as
 * much as one that stays. Bounded memory: a fixed table where the oldest
 * entry makes room. Not thread-safe: the daemon uses it from its event
 * loop thread only. */
#ifndef POSTHORN_THROTTLE_H
#define POSTHORN_THROTTLE_H

#include <time.h>

#define THROTTLE_SLOTS 1024
/* Failures older than this are forgotten. */
#define THROTTLE_WINDOW 900
/* The longest delay it ever asks for. */
#define THROTTLE_MAX_DELAY_MS 15000

struct throttle_entry {
	char ip[64];
	unsigned failures;
	time_t last;
};

struct throttle {
	struct throttle_entry slots[THROTTLE_SLOTS];
};

/* How long to wait before answering a failed login from ip: base_ms for a
 * first failure, doubled for each recent one before it, at most
 * THROTTLE_MAX_DELAY_MS. 0 when base_ms is 0. */
int throttle_delay_ms(const struct throttle *t, const char *ip, int base_ms,
                      time_t now);

/* Counts a failed login from ip; returns the recent failures, this one
 * included. */
unsigned throttle_failed(struct throttle *t, const char *ip, time_t now);

/* A successful login from ip clears its count. */
void throttle_succeeded(struct throttle *t, const char *ip);

#endif
