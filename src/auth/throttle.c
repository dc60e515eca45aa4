/* throttle: per-address failed-login counts (see throttle.h). A linear
 * scan of 1024 small slots costs less than a failed yescrypt check, and
 * only failures and successes touch the table. */
#include "throttle.h"

#include <stdio.h>
#include <string.h>

static struct throttle_entry *throttle_find(const struct throttle *t,
                                            const char *ip, time_t now)
{
	for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
		const struct throttle_entry *e = &t->slots[i];
		if (e->failures && now - e->last < THROTTLE_WINDOW &&
		    strcmp(e->ip, ip) == 0)
			return (struct throttle_entry *)e;
	}
	return NULL;
}

int throttle_delay_ms(const struct throttle *t, const char *ip, int base_ms,
                      time_t now)
{
	if (base_ms <= 0)
		return 0;
	const struct throttle_entry *e = throttle_find(t, ip, now);
	long long delay = base_ms;
	for (unsigned n = e ? e->failures : 0; n > 0; n--) {
		delay *= 2;
		if (delay >= THROTTLE_MAX_DELAY_MS)
			return THROTTLE_MAX_DELAY_MS;
	}
	return (int)delay;
}

/* A free or expired slot, else the one unused longest. */
static struct throttle_entry *throttle_take(struct throttle *t, time_t now)
{
	struct throttle_entry *oldest = &t->slots[0];
	for (size_t i = 0; i < THROTTLE_SLOTS; i++) {
		struct throttle_entry *e = &t->slots[i];
		if (!e->failures || now - e->last >= THROTTLE_WINDOW)
			return e;
		if (e->last < oldest->last)
			oldest = e;
	}
	return oldest;
}

unsigned throttle_failed(struct throttle *t, const char *ip, time_t now)
{
	struct throttle_entry *e = throttle_find(t, ip, now);
	if (!e) {
		e = throttle_take(t, now);
		snprintf(e->ip, sizeof e->ip, "%s", ip);
		e->failures = 0;
	}
	if (e->failures < 1000)
		e->failures++;
	e->last = now;
	return e->failures;
}

void throttle_succeeded(struct throttle *t, const char *ip)
{
	for (size_t i = 0; i < THROTTLE_SLOTS; i++)
		if (t->slots[i].failures && strcmp(t->slots[i].ip, ip) == 0)
			t->slots[i].failures = 0;
}
