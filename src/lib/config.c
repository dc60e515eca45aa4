/* config: the posthorn.conf parser and validator (see config.h and
 * posthorn.conf(5)). Keys are described by tables of name, type and field
 * offset, so adding a setting is one table row plus its documentation. The
 * first error stops the parse; it names file:line so the operator can go
 * straight to it. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/* A config file larger than this is surely a mistake (a binary, a log). */
#define CONFIG_MAX_FILE (1024 * 1024)
#define CONFIG_MAX_NAME 64

enum key_type {
	KEY_HOSTNAME,   /* char *: a plausible domain name */
	KEY_STRING,     /* char *: non-empty, no further syntax */
	KEY_PATH,       /* char *: made absolute; empty means unset */
	KEY_DOMAINS,    /* cfg->domains */
	KEY_NETWORKS,   /* cfg->relay_networks */
	KEY_RESOLVER,   /* char *: "addr", "addr:port" or "[v6]:port" */
	KEY_BOOL,       /* int */
	KEY_BARE_LF,    /* int: 1 for reject, 0 for normalise */
	KEY_SIZE,       /* size_t, optional K/M/G suffix */
	KEY_COUNT,      /* size_t, plain number */
	KEY_INT,        /* int, plain number */
	KEY_SECONDS,    /* int, optional s/m/h suffix */
	KEY_DURATION,   /* int, optional s/m/h/d suffix */
	KEY_RETRY,      /* cfg->queue.retry: a list of durations */
	KEY_ADDRESS,    /* char *: numeric IPv4 or IPv6 */
	KEY_PROTO,      /* enum cfg_proto */
	KEY_TLS,        /* enum cfg_tls */
};

struct key {
	const char *name;
	enum key_type type;
	size_t offset;            /* into the section's struct */
	unsigned long long min;   /* numeric types only */
	unsigned long long max;
};

#define MAIN(n, t, f) {n, t, offsetof(struct posthorn_config, f), 0, 0}
static const struct key main_keys[] = {
	MAIN("hostname", KEY_HOSTNAME, hostname),
	MAIN("domains", KEY_DOMAINS, domains),
	MAIN("data_dir", KEY_PATH, data_dir),
	MAIN("tls_cert", KEY_PATH, tls_cert),
	MAIN("tls_key", KEY_PATH, tls_key),
	MAIN("user", KEY_STRING, run_user),
	MAIN("pid_file", KEY_PATH, pid_file),
	MAIN("relay_networks", KEY_NETWORKS, relay_networks),
	MAIN("plaintext_auth_loopback", KEY_BOOL, plaintext_auth_loopback),
	MAIN("bare_lf", KEY_BARE_LF, bare_lf_reject),
	MAIN("resolver", KEY_RESOLVER, resolver),
};
/* Indexes of main_keys the defaults look at. */
enum { M_DOMAINS = 1, M_RELAY_NETWORKS = 7 };

#define LIMIT(n, t, f, lo, hi) {n, t, offsetof(struct cfg_limits, f), lo, hi}
static const struct key limit_keys[] = {
	LIMIT("message_size", KEY_SIZE, message_size, 1024, 1ULL << 40),
	LIMIT("recipients", KEY_COUNT, recipients, 1, 100000),
	LIMIT("line_length", KEY_SIZE, line_length, 512, 1 << 20),
	LIMIT("header_size", KEY_SIZE, header_size, 1024, 1ULL << 30),
	LIMIT("commands_before_mail", KEY_INT, commands_before_mail, 1, INT_MAX),
	LIMIT("errors", KEY_INT, errors, 1, INT_MAX),
	LIMIT("connections", KEY_INT, connections, 1, INT_MAX),
	LIMIT("connections_per_ip", KEY_INT, connections_per_ip, 1, INT_MAX),
	LIMIT("command_timeout", KEY_SECONDS, command_timeout, 1, 86400),
	LIMIT("data_timeout", KEY_SECONDS, data_timeout, 1, 86400),
	LIMIT("auth_failures", KEY_INT, auth_failures, 1, INT_MAX),
	LIMIT("auth_delay_ms", KEY_INT, auth_delay_ms, 0, 60000),
	LIMIT("shutdown_timeout", KEY_SECONDS, shutdown_timeout, 1, 86400),
	LIMIT("pop3_timeout", KEY_SECONDS, pop3_timeout, 1, 86400),
};

#define QUEUE(n, t, f, lo, hi) {n, t, offsetof(struct cfg_queue, f), lo, hi}
static const struct key queue_keys[] = {
	QUEUE("retry", KEY_RETRY, retry, 1, 30 * 86400),
	QUEUE("lifetime", KEY_DURATION, lifetime, 1, 365 * 86400),
	QUEUE("delay_warning", KEY_DURATION, delay_warning, 0, 365 * 86400),
	QUEUE("connections", KEY_INT, connections, 1, 1000),
	QUEUE("connections_per_domain", KEY_INT, connections_per_domain, 1, 1000),
	QUEUE("remote_port", KEY_INT, remote_port, 1, 65535),
	QUEUE("max_received", KEY_INT, max_received, 1, 1000),
	QUEUE("command_timeout", KEY_DURATION, command_timeout, 1, 3600),
	QUEUE("scan_interval", KEY_DURATION, scan_interval, 1, 86400),
};

#define LISTENER(n, t, f, lo, hi) {n, t, offsetof(struct cfg_listener, f), lo, hi}
static const struct key listener_keys[] = {
	LISTENER("address", KEY_ADDRESS, address, 0, 0),
	LISTENER("port", KEY_INT, port, 1, 65535),
	LISTENER("protocol", KEY_PROTO, proto, 0, 0),
	LISTENER("tls", KEY_TLS, tls, 0, 0),
	LISTENER("require_auth", KEY_BOOL, require_auth, 0, 0),
	LISTENER("vrfy", KEY_BOOL, vrfy, 0, 0),
};
enum { L_ADDRESS, L_PORT, L_PROTOCOL, L_TLS, L_REQUIRE_AUTH, L_VRFY, L_NKEYS };

#define NKEYS(t) (sizeof(t) / sizeof *(t))

enum section { SECTION_MAIN, SECTION_LIMITS, SECTION_LISTENER, SECTION_QUEUE,
               SECTION_TRANSPORT };

/* Where each key was set (0 = not set), for duplicate errors and for
 * defaults that depend on what the file left out. */
struct listener_seen {
	int line[L_NKEYS];
};

struct parser {
	const char *path;          /* as the caller gave it, for messages */
	int line;
	struct buf *err;
	struct posthorn_config *cfg;
	enum section section;
	int limits_line;
	int queue_section_line;
	int transport_line;
	int main_line[NKEYS(main_keys)];
	int limit_line[NKEYS(limit_keys)];
	int queue_line[NKEYS(queue_keys)];
	struct listener_seen *seen; /* parallel to cfg->listeners */
};

static const char *const proto_names[] = {
	"smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps",
};
static const int proto_ports[] = {25, 587, 465, 110, 995, 143, 993};
static const char *const tls_names[] = {"none", "starttls", "implicit"};

const char *config_proto_name(enum cfg_proto proto)
{
	if ((size_t)proto >= NKEYS(proto_names))
		return "unknown";
	return proto_names[proto];
}

const char *config_tls_name(enum cfg_tls tls)
{
	if ((size_t)tls >= NKEYS(tls_names))
		return "unknown";
	return tls_names[tls];
}

__attribute__((format(printf, 3, 4)))
static int perr_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	if (line > 0)
		buf_printf(p->err, "%s:%d: ", p->path, line);
	else
		buf_printf(p->err, "%s: ", p->path);
	va_start(ap, fmt);
	buf_vprintf(p->err, fmt, ap);
	va_end(ap);
	return -1;
}

#define perr(p, ...) perr_at((p), (p)->line, __VA_ARGS__)

/* ---- value syntax ---------------------------------------------------- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < NKEYS(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* Decimal digits with an optional one-letter unit (case-insensitive) from
 * units, whose multipliers are mult. -1 on syntax or overflow. */
static int parse_scaled(const char *s, const char *units,
                        const unsigned long long *mult, unsigned long long *out)
{
	if (!isdigit((unsigned char)*s))
		return -1;
	unsigned long long v = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*s) {
		const char *u = s[1] ? NULL : strchr(units, tolower((unsigned char)*s));
		if (!u || !*u)
			return -1;
		unsigned long long m = mult[u - units];
		if (v > ULLONG_MAX / m)
			return -1;
		v *= m;
	}
	*out = v;
	return 0;
}

/* A DNS name made of LDH labels (RFC 1123), trailing dot allowed. */
static int plausible_domain(const char *s)
{
	size_t total = strlen(s);
	if (total > 0 && s[total - 1] == '.')
		total--;
	if (total == 0 || total > 253)
		return 0;
	size_t label = 0;
	for (size_t i = 0; i < total; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum(c) || c == '-') {
			if (c == '-' && label == 0)
				return 0;
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return s[total - 1] != '-';
}

/* Numeric address of either family into 16 bytes; returns the family or 0. */
static int parse_address(const char *s, unsigned char addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, s, addr) == 1)
		return AF_INET6;
	return 0;
}

/* "addr" or "addr/prefix"; host bits beyond the prefix are cleared so
 * 192.168.1.1/24 means the network 192.168.1.0/24. */
static int parse_network(const char *s, struct cfg_network *net)
{
	char text[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof text)
		return -1;
	strcpy(text, s);
	char *slash = strchr(text, '/');
	if (slash)
		*slash++ = '\0';
	net->family = parse_address(text, net->addr);
	if (!net->family)
		return -1;
	int bits = net->family == AF_INET ? 32 : 128;
	net->prefix = bits;
	if (slash) {
		unsigned long long v;
		if (parse_scaled(slash, "", NULL, &v) < 0 || v > (unsigned)bits)
			return -1;
		net->prefix = (int)v;
	}
	for (int i = net->prefix; i < bits; i++)
		net->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	return 0;
}

/* "addr", "addr:port" (IPv4) or "[addr]:port"; a bare IPv6 address has
 * colons of its own, so it takes a port only in brackets. */
static int valid_resolver(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	size_t n;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return 0;
		n = (size_t)(end - s - 1);
		s++;
		port = end[1] ? end + 2 : NULL;
	} else {
		const char *colon = strchr(s, ':');
		n = strlen(s);
		if (colon && !strchr(colon + 1, ':')) {
			n = (size_t)(colon - s);
			port = colon + 1;
		}
	}
	if (n >= sizeof host)
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	unsigned char addr[16];
	unsigned long long v;
	if (!parse_address(host, addr))
		return 0;
	return !port || (parse_scaled(port, "", NULL, &v) == 0 && v >= 1 &&
	                 v <= 65535);
}

/* Splits a list at commas and blanks; calls add for each item. */
static int split_list(struct parser *p, char *value, const char *key,
                      int (*add)(struct parser *, const char *, const char *))
{
	char *save = NULL;
	for (char *item = strtok_r(value, ", \t", &save); item;
	     item = strtok_r(NULL, ", \t", &save))
		if (add(p, key, item) < 0)
			return -1;
	return 0;
}

static int add_domain(struct parser *p, const char *key, const char *item)
{
	struct posthorn_config *cfg = p->cfg;
	if (!plausible_domain(item))
		return perr(p, "%s: '%s' is not a domain name", key, item);
	char *d = strdup(item);
	if (!d)
		return perr(p, "out of memory");
	size_t n = strlen(d);
	if (d[n - 1] == '.')
		d[n - 1] = '\0';
	for (char *c = d; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	char **grown = realloc(cfg->domains, (cfg->ndomains + 1) * sizeof *grown);
	if (!grown) {
		free(d);
		return perr(p, "out of memory");
	}
	cfg->domains = grown;
	cfg->domains[cfg->ndomains++] = d;
	return 0;
}

static int add_network(struct parser *p, const char *key, const char *item)
{
	struct posthorn_config *cfg = p->cfg;
	struct cfg_network net;
	if (parse_network(item, &net) < 0)
		return perr(p, "%s: '%s' is not an address or address/prefix "
		            "(prefix 0-32 for IPv4, 0-128 for IPv6)", key, item);
	struct cfg_network *grown =
		realloc(cfg->relay_networks, (cfg->nrelay + 1) * sizeof *grown);
	if (!grown)
		return perr(p, "out of memory");
	cfg->relay_networks = grown;
	cfg->relay_networks[cfg->nrelay++] = net;
	return 0;
}

/* ---- setting keys ---------------------------------------------------- */

/* value made absolute against the config file's directory. */
static char *absolute_path(const struct posthorn_config *cfg, const char *value)
{
	struct buf b = BUF_INIT;
	if (value[0] != '/' && (buf_puts(&b, cfg->dir) < 0 ||
	                        buf_putc(&b, '/') < 0)) {
		buf_free(&b);
		return NULL;
	}
	if (buf_puts(&b, value) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static int set_string(struct parser *p, char **field, char *value)
{
	free(*field);
	*field = value;
	return value ? 0 : perr(p, "out of memory");
}

/* An empty value: the setting goes back to unset. */
static int clear_string(char **field)
{
	free(*field);
	*field = NULL;
	return 0;
}

static const unsigned long long time_mult[] = {1, 60, 3600, 86400};

static int set_number(struct parser *p, const struct key *k, void *field,
                      const char *value)
{
	static const unsigned long long size_mult[] = {1ULL << 10, 1ULL << 20,
	                                               1ULL << 30};
	unsigned long long v;
	int r;
	if (k->type == KEY_SIZE)
		r = parse_scaled(value, "kmg", size_mult, &v);
	else if (k->type == KEY_SECONDS)
		r = parse_scaled(value, "smh", time_mult, &v);
	else if (k->type == KEY_DURATION)
		r = parse_scaled(value, "smhd", time_mult, &v);
	else
		r = parse_scaled(value, "", NULL, &v);
	if (r < 0)
		return perr(p, "%s: '%s' is not a number%s", k->name, value,
		            k->type == KEY_SIZE ? " (suffix K, M or G allowed)" :
		            k->type == KEY_SECONDS ? " of seconds (suffix s, m or h allowed)" :
		            k->type == KEY_DURATION ? " of seconds (suffix s, m, h or d "
		            "allowed)" : "");
	if (v < k->min || v > k->max)
		return perr(p, "%s: %s is out of range (%llu to %llu)", k->name,
		            value, k->min, k->max);
	if (k->type == KEY_SIZE || k->type == KEY_COUNT)
		*(size_t *)field = (size_t)v;
	else
		*(int *)field = (int)v;
	return 0;
}

static int set_enum(struct parser *p, const struct key *k, void *field,
                    const char *value, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(value, names[i]) == 0) {
			if (k->type == KEY_PROTO)
				*(enum cfg_proto *)field = (enum cfg_proto)i;
			else
				*(enum cfg_tls *)field = (enum cfg_tls)i;
			return 0;
		}
	}
	buf_printf(p->err, "%s:%d: %s: '%s' is not one of", p->path, p->line,
	           k->name, value);
	for (size_t i = 0; i < n; i++)
		buf_printf(p->err, "%s %s", i ? "," : "", names[i]);
	return -1;
}

/* "1m, 5m, 1h": the waits between attempts, at most CFG_RETRY_MAX. */
static int set_retry(struct parser *p, const struct key *k, char *value)
{
	struct cfg_queue *q = &p->cfg->queue;
	char *save = NULL;
	q->nretry = 0;
	for (char *item = strtok_r(value, ", \t", &save); item;
	     item = strtok_r(NULL, ", \t", &save)) {
		unsigned long long v;
		if (q->nretry == CFG_RETRY_MAX)
			return perr(p, "%s: more than %d waits", k->name, CFG_RETRY_MAX);
		if (parse_scaled(item, "smhd", time_mult, &v) < 0)
			return perr(p, "%s: '%s' is not a number of seconds (suffix s, "
			            "m, h or d allowed)", k->name, item);
		if (v < k->min || v > k->max)
			return perr(p, "%s: %s is out of range (%llu to %llu)", k->name,
			            item, k->min, k->max);
		q->retry[q->nretry++] = (int)v;
	}
	return q->nretry ? 0 : perr(p, "%s: empty value", k->name);
}

/* Stores value (trimmed, non-NULL) into the field k describes in base. */
static int set_value(struct parser *p, const struct key *k, void *base,
                     char *value)
{
	void *field = (char *)base + k->offset;
	struct posthorn_config *cfg = p->cfg;
	int flag;
	if (!*value && k->type != KEY_PATH && k->type != KEY_NETWORKS &&
	    k->type != KEY_RESOLVER)
		return perr(p, "%s: empty value", k->name);
	switch (k->type) {
	case KEY_HOSTNAME:
		if (!plausible_domain(value))
			return perr(p, "%s: '%s' is not a domain name", k->name, value);
		return set_string(p, field, strdup(value));
	case KEY_STRING:
		return set_string(p, field, strdup(value));
	case KEY_PATH:
		if (!*value)
			return clear_string(field);
		return set_string(p, field, absolute_path(cfg, value));
	case KEY_DOMAINS:
		return split_list(p, value, k->name, add_domain);
	case KEY_NETWORKS:
		return split_list(p, value, k->name, add_network);
	case KEY_RESOLVER:
		if (!*value)
			return clear_string(field);
		if (!valid_resolver(value))
			return perr(p, "%s: '%s' is not ADDRESS, IPV4:PORT or "
			            "[IPV6]:PORT", k->name, value);
		return set_string(p, field, strdup(value));
	case KEY_BOOL:
		if (parse_bool(value, field) < 0)
			return perr(p, "%s: '%s' is not yes or no", k->name, value);
		return 0;
	case KEY_BARE_LF:
		flag = strcmp(value, "reject") == 0;
		if (!flag && strcmp(value, "normalise") && strcmp(value, "normalize"))
			return perr(p, "%s: '%s' is not normalise or reject", k->name,
			            value);
		*(int *)field = flag;
		return 0;
	case KEY_SIZE:
	case KEY_COUNT:
	case KEY_INT:
	case KEY_SECONDS:
	case KEY_DURATION:
		return set_number(p, k, field, value);
	case KEY_RETRY:
		return set_retry(p, k, value);
	case KEY_ADDRESS: {
		unsigned char addr[16];
		if (!parse_address(value, addr))
			return perr(p, "%s: '%s' is not a numeric IPv4 or IPv6 address",
			            k->name, value);
		return set_string(p, field, strdup(value));
	}
	case KEY_PROTO:
		return set_enum(p, k, field, value, proto_names, NKEYS(proto_names));
	case KEY_TLS:
		return set_enum(p, k, field, value, tls_names, NKEYS(tls_names));
	}
	return perr(p, "%s: internal error: unknown key type", k->name);
}

/* ---- lines and sections ---------------------------------------------- */

static const struct key *find_key(const struct key *keys, size_t n,
                                  const char *name, size_t *index)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			*index = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* Records where a key was set; a second setting is an error because the
 * reader of the file could not tell which one wins. */
static int mark_seen(struct parser *p, int *line, const char *key)
{
	if (*line)
		return perr(p, "duplicate key '%s' (first set on line %d)", key,
		            *line);
	*line = p->line;
	return 0;
}

static int set_key(struct parser *p, const char *name, char *value)
{
	struct posthorn_config *cfg = p->cfg;
	const struct key *k;
	size_t i;
	if (p->section == SECTION_MAIN) {
		if (!(k = find_key(main_keys, NKEYS(main_keys), name, &i)))
			return perr(p, "unknown key '%s'", name);
		if (mark_seen(p, &p->main_line[i], name) < 0)
			return -1;
		return set_value(p, k, cfg, value);
	}
	if (p->section == SECTION_LIMITS) {
		if (!(k = find_key(limit_keys, NKEYS(limit_keys), name, &i)))
			return perr(p, "unknown key '%s' in [limits]", name);
		if (mark_seen(p, &p->limit_line[i], name) < 0)
			return -1;
		return set_value(p, k, &cfg->limits, value);
	}
	if (p->section == SECTION_QUEUE) {
		if (!(k = find_key(queue_keys, NKEYS(queue_keys), name, &i)))
			return perr(p, "unknown key '%s' in [queue]", name);
		if (mark_seen(p, &p->queue_line[i], name) < 0)
			return -1;
		return set_value(p, k, &cfg->queue, value);
	}
	struct cfg_listener *l = &cfg->listeners[cfg->nlisteners - 1];
	if (!(k = find_key(listener_keys, NKEYS(listener_keys), name, &i)))
		return perr(p, "unknown key '%s' in [listener %s]", name, l->name);
	if (mark_seen(p, &p->seen[cfg->nlisteners - 1].line[i], name) < 0)
		return -1;
	return set_value(p, k, l, value);
}

static int valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CONFIG_MAX_NAME)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return 0;
	return 1;
}

static int add_listener(struct parser *p, const char *name)
{
	struct posthorn_config *cfg = p->cfg;
	for (size_t i = 0; i < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return perr(p, "duplicate section [listener %s] (first on "
			            "line %d)", name, cfg->listeners[i].line);
	size_t n = cfg->nlisteners + 1;
	struct cfg_listener *l = realloc(cfg->listeners, n * sizeof *l);
	if (l)
		cfg->listeners = l;
	struct listener_seen *s = realloc(p->seen, n * sizeof *s);
	if (s)
		p->seen = s;
	char *copy = strdup(name);
	if (!l || !s || !copy) {
		free(copy);
		return perr(p, "out of memory");
	}
	memset(&cfg->listeners[n - 1], 0, sizeof *l);
	memset(&p->seen[n - 1], 0, sizeof *s);
	cfg->listeners[n - 1].name = copy;
	cfg->listeners[n - 1].line = p->line;
	cfg->nlisteners = n;
	p->section = SECTION_LISTENER;
	return 0;
}

/* "[limits]" or "[listener NAME]", blanks allowed inside the brackets. */
static int parse_section(struct parser *p, char *line)
{
	size_t n = strlen(line);
	if (line[n - 1] != ']')
		return perr(p, "section header must end with ']'");
	line[n - 1] = '\0';
	char *inner = trim(line + 1);
	static const struct {
		const char *name;
		enum section section;
		size_t line;
	} simple[] = {
		{"limits", SECTION_LIMITS, offsetof(struct parser, limits_line)},
		{"queue", SECTION_QUEUE, offsetof(struct parser, queue_section_line)},
		{"transport", SECTION_TRANSPORT,
		 offsetof(struct parser, transport_line)},
	};
	for (size_t i = 0; i < NKEYS(simple); i++) {
		if (strcmp(inner, simple[i].name) != 0)
			continue;
		int *seen = (int *)((char *)p + simple[i].line);
		if (*seen)
			return perr(p, "duplicate section [%s] (first on line %d)",
			            inner, *seen);
		*seen = p->line;
		p->section = simple[i].section;
		return 0;
	}
	if (strncmp(inner, "listener", 8) == 0 &&
	    (inner[8] == ' ' || inner[8] == '\t')) {
		char *name = trim(inner + 8);
		if (!valid_name(name))
			return perr(p, "listener name '%s' must be 1-%d letters, "
			            "digits, '.', '_' or '-'", name, CONFIG_MAX_NAME);
		return add_listener(p, name);
	}
	if (strcmp(inner, "listener") == 0)
		return perr(p, "[listener] needs a name: [listener NAME]");
	return perr(p, "unknown section [%s]", inner);
}

/* "#" starts a comment at the start of a line or after a blank, so values
 * such as "a#b" keep their '#'. */
static void strip_comment(char *line)
{
	for (char *c = line; *c; c++) {
		if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
			*c = '\0';
			return;
		}
	}
}

/* ---- [transport] ------------------------------------------------------ */

static const char *const transport_tls_names[] = {
	"may", "none", "encrypt", "verify", "implicit",
};

const char *config_transport_tls_name(enum cfg_transport_tls tls)
{
	if ((size_t)tls >= NKEYS(transport_tls_names))
		return "unknown";
	return transport_tls_names[tls];
}

/* "*", "example.com" or ".example.com", lowercased in place. */
static int transport_domain_valid(char *d)
{
	for (char *c = d; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	size_t n = strlen(d);
	if (n > 1 && d[n - 1] == '.')
		d[n - 1] = '\0';
	if (strcmp(d, "*") == 0)
		return 1;
	return plausible_domain(d[0] == '.' ? d + 1 : d) && d[strlen(d) - 1] != '.';
}

static int transport_port(const char *s, int *port)
{
	unsigned long long v;
	if (parse_scaled(s, "", NULL, &v) < 0 || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* "smtp:[HOST]", "smtp:[HOST]:PORT", "smtp:HOST" or "smtp:HOST:PORT";
 * HOST is a domain name or a numeric address (IPv6 only in brackets). */
static int transport_smarthost(struct parser *p, struct cfg_transport *t,
                               const char *route)
{
	const char *s = route + 5, *port = NULL;
	char host[256];
	size_t n;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			return perr(p, "transport %s: '%s': expected smtp:[HOST]:PORT",
			            t->domain, route);
		n = (size_t)(end - s - 1);
		s++;
		port = end[1] ? end + 2 : NULL;
	} else {
		n = strcspn(s, ":");
		port = s[n] ? s + n + 1 : NULL;
	}
	unsigned char addr[16];
	if (n == 0 || n >= sizeof host)
		return perr(p, "transport %s: '%s': no host name", t->domain, route);
	memcpy(host, s, n);
	host[n] = '\0';
	if (!plausible_domain(host) && !parse_address(host, addr))
		return perr(p, "transport %s: '%s' is not a host name or address",
		            t->domain, host);
	if (port && transport_port(port, &t->port) < 0)
		return perr(p, "transport %s: port '%s' is not 1-65535", t->domain,
		            port);
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!(t->host = strdup(host)))
		return perr(p, "out of memory");
	return 0;
}

/* Reads the first line of a password_file (relative to the config's
 * directory); warns when others may read it. */
static int transport_password(struct parser *p, struct cfg_transport *t,
                              const char *value)
{
	char *path = absolute_path(p->cfg, value);
	struct buf text = BUF_INIT;
	struct stat st;
	int r = -1;
	if (!path)
		r = perr(p, "out of memory");
	else if (stat(path, &st) == 0 && access(path, R_OK) < 0 &&
	         errno == EACCES) {
		/* A program run by another user (posthorn-sendmail from a
		 * user's cron job) reads the same config but needs no relay
		 * password: the transport simply has none here. */
		struct buf w = BUF_INIT;
		if (p->cfg->warnings)
			buf_puts(&w, p->cfg->warnings);
		buf_printf(&w, "%s:%d: password_file %s cannot be read by this "
		           "user: transport %s has no password here\n", p->path,
		           p->line, path, t->domain);
		free(p->cfg->warnings);
		p->cfg->warnings = buf_steal(&w, NULL);
		free(path);
		return 0;
	} else if (fs_read_file(path, 4096, &text) < 0 || stat(path, &st) < 0)
		r = perr(p, "transport %s: password_file %s: %s", t->domain, path,
		         errno == EFBIG ? "larger than 4 KiB" : strerror(errno));
	else if (!buf_cstr(&text))
		r = perr(p, "out of memory");
	else if ((text.data[strcspn(text.data, "\r\n")] = '\0', !*text.data))
		r = perr(p, "transport %s: password_file %s: empty first line",
		         t->domain, path);
	else if (!(t->password = strdup(text.data)))
		r = perr(p, "out of memory");
	else
		r = 0;
	if (r == 0 && (st.st_mode & (S_IROTH | S_IWOTH))) {
		struct buf w = BUF_INIT;
		if (p->cfg->warnings)
			buf_puts(&w, p->cfg->warnings);
		buf_printf(&w, "%s:%d: password_file %s can be read by every user: "
		           "chmod o-rwx it\n", p->path, p->line, path);
		free(p->cfg->warnings);
		p->cfg->warnings = buf_steal(&w, NULL);
	}
	if (text.data)
		explicit_bzero(text.data, text.cap);
	buf_free(&text);
	free(path);
	return r;
}

/* One "NAME=VALUE" option after the route. */
static int transport_option(struct parser *p, struct cfg_transport *t,
                            char *opt, int *tls_set, int *has_password)
{
	char *eq = strchr(opt, '=');
	if (!eq || eq == opt || !eq[1])
		return perr(p, "transport %s: '%s' is not OPTION=VALUE", t->domain,
		            opt);
	*eq++ = '\0';
	if (strcmp(opt, "tls") == 0 && !*tls_set) {
		for (size_t i = 0; i < NKEYS(transport_tls_names); i++)
			if (strcmp(eq, transport_tls_names[i]) == 0) {
				t->tls = (enum cfg_transport_tls)i;
				*tls_set = 1;
				return 0;
			}
		return perr(p, "transport %s: tls: '%s' is not one of may, none, "
		            "encrypt, verify, implicit", t->domain, eq);
	}
	if (strcmp(opt, "auth") == 0 && !t->auth_user)
		return set_string(p, &t->auth_user, strdup(eq));
	if (strcmp(opt, "ca_file") == 0 && !t->ca_file)
		return set_string(p, &t->ca_file, absolute_path(p->cfg, eq));
	if (strcmp(opt, "password_file") == 0 && !*has_password) {
		*has_password = 1;
		return transport_password(p, t, eq);
	}
	if (strcmp(opt, "tls") == 0 || strcmp(opt, "auth") == 0 ||
	    strcmp(opt, "ca_file") == 0 || strcmp(opt, "password_file") == 0)
		return perr(p, "transport %s: %s given twice", t->domain, opt);
	return perr(p, "transport %s: unknown option '%s' (tls, auth, "
	            "password_file, ca_file)", t->domain, opt);
}

/* The route and options of t; checks that they fit together. */
static int transport_parse(struct parser *p, struct cfg_transport *t,
                           char *value)
{
	char *save = NULL;
	char *route = strtok_r(value, " \t", &save);
	int tls_set = 0, has_password = 0;
	if (!route)
		return perr(p, "transport %s: empty value", t->domain);
	if (strncmp(route, "smtp:", 5) == 0) {
		if (transport_smarthost(p, t, route) < 0)
			return -1;
	} else if (strcmp(route, "dns") != 0) {
		return perr(p, "transport %s: '%s' is not dns or smtp:[HOST]:PORT",
		            t->domain, route);
	}
	for (char *opt = strtok_r(NULL, " \t", &save); opt;
	     opt = strtok_r(NULL, " \t", &save))
		if (transport_option(p, t, opt, &tls_set, &has_password) < 0)
			return -1;
	if (!t->host && (t->auth_user || t->tls == CFG_TTLS_IMPLICIT))
		return perr(p, "transport %s: %s needs a smarthost (smtp:[HOST])",
		            t->domain, t->auth_user ? "auth" : "tls=implicit");
	if (!t->auth_user != !has_password)
		return perr(p, "transport %s: auth and password_file go together",
		            t->domain);
	if (t->auth_user && tls_set && t->tls == CFG_TTLS_NONE)
		return perr(p, "transport %s: auth with tls=none would send the "
		            "password in the clear", t->domain);
	if (!tls_set)
		t->tls = t->auth_user ? CFG_TTLS_ENCRYPT : CFG_TTLS_MAY;
	if (t->host && !t->port)
		t->port = t->tls == CFG_TTLS_IMPLICIT ? 465 : 25;
	return 0;
}

static void transport_free(struct cfg_transport *t)
{
	free(t->domain);
	free(t->host);
	free(t->auth_user);
	if (t->password)
		explicit_bzero(t->password, strlen(t->password));
	free(t->password);
	free(t->ca_file);
	memset(t, 0, sizeof *t);
}

static int transport_add(struct parser *p, char *key, char *value)
{
	struct posthorn_config *cfg = p->cfg;
	char shown[80];
	snprintf(shown, sizeof shown, "%s", key);
	if (!transport_domain_valid(key))
		return perr(p, "transport: '%s' is not a domain, .domain or *",
		            shown);
	for (size_t i = 0; i < cfg->ntransports; i++)
		if (strcmp(cfg->transports[i].domain, key) == 0)
			return perr(p, "duplicate transport '%s' (first on line %d)",
			            key, cfg->transports[i].line);
	struct cfg_transport *grown =
		realloc(cfg->transports, (cfg->ntransports + 1) * sizeof *grown);
	if (!grown)
		return perr(p, "out of memory");
	cfg->transports = grown;
	struct cfg_transport *t = &cfg->transports[cfg->ntransports];
	memset(t, 0, sizeof *t);
	t->line = p->line;
	if (!(t->domain = strdup(key)))
		return perr(p, "out of memory");
	if (transport_parse(p, t, value) < 0) {
		transport_free(t);
		return -1;
	}
	cfg->ntransports++;
	return 0;
}

const struct cfg_transport *config_transport(const struct posthorn_config *cfg,
                                             const char *domain)
{
	if (!cfg || !domain)
		return NULL;
	size_t n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	const struct cfg_transport *best = NULL, *star = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < cfg->ntransports; i++) {
		const struct cfg_transport *t = &cfg->transports[i];
		size_t len = strlen(t->domain);
		if (strcmp(t->domain, "*") == 0)
			star = t;
		else if (t->domain[0] != '.' && len == n &&
		         strncasecmp(t->domain, domain, n) == 0)
			return t;
		else if (t->domain[0] == '.' && len < n && len > best_len &&
		         strncasecmp(t->domain, domain + n - len, len) == 0) {
			best = t;
			best_len = len;
		}
	}
	return best ? best : star;
}


static int parse_line(struct parser *p, char *line)
{
	strip_comment(line);
	line = trim(line);
	if (!*line)
		return 0;
	if (*line == '[')
		return parse_section(p, line);
	char *eq = strchr(line, '=');
	if (!eq)
		return perr(p, "expected 'key = value' or '[section]'");
	*eq = '\0';
	char *key = trim(line);
	if (!*key)
		return perr(p, "missing key before '='");
	if (p->section == SECTION_TRANSPORT)
		return transport_add(p, key, trim(eq + 1));
	for (const char *c = key; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) &&
		    *c != '_')
			return perr(p, "bad key name '%s' (lowercase letters, digits "
			            "and '_')", key);
	return set_key(p, key, trim(eq + 1));
}

static int parse_text(struct parser *p, char *text, size_t len)
{
	if (memchr(text, '\0', len)) {
		p->line = 1;
		for (size_t i = 0; text[i]; i++)
			p->line += text[i] == '\n';
		return perr(p, "NUL byte in the file");
	}
	char *save = text;
	for (p->line = 1; save < text + len; p->line++) {
		char *line = save;
		char *nl = strchr(line, '\n');
		if (nl) {
			*nl = '\0';
			save = nl + 1;
		} else {
			save = text + len;
		}
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (parse_line(p, line) < 0)
			return -1;
	}
	return 0;
}

/* ---- defaults and checks after the whole file is read ---------------- */

static void default_limits(struct cfg_limits *l)
{
	l->message_size = 25 * 1024 * 1024;
	l->recipients = 100;
	l->line_length = 1000;
	l->header_size = 1024 * 1024;
	l->commands_before_mail = 50;
	l->errors = 10;
	l->connections = 1000;
	l->connections_per_ip = 20;
	l->command_timeout = 300;
	l->data_timeout = 180;
	l->auth_failures = 3;
	l->auth_delay_ms = 1000;
	l->shutdown_timeout = 30;
	l->pop3_timeout = 600;
}

static void default_queue(struct cfg_queue *q)
{
	static const int retry[] = {60, 300, 900, 1800, 3600, 7200, 14400};
	memcpy(q->retry, retry, sizeof retry);
	q->nretry = NKEYS(retry);
	q->lifetime = 5 * 86400;
	q->delay_warning = 0;
	q->connections = 20;
	q->connections_per_domain = 4;
	q->remote_port = 25;
	q->max_received = 50;
	q->command_timeout = 300;
	q->scan_interval = 60;
}

static int default_server(struct parser *p)
{
	struct posthorn_config *cfg = p->cfg;
	if (!cfg->hostname) {
		char host[256] = "";
		if (gethostname(host, sizeof host - 1) < 0 || !plausible_domain(host))
			return perr_at(p, 0, "hostname is not set and the system's "
			               "name '%s' is not a domain name", host);
		if (!(cfg->hostname = strdup(host)))
			return perr_at(p, 0, "out of memory");
	}
	if (cfg->ndomains == 0)
		return perr_at(p, p->main_line[M_DOMAINS], "no local domains: set "
		               "'domains = example.org'");
	if (!cfg->data_dir && !(cfg->data_dir = absolute_path(cfg, "data")))
		return perr_at(p, 0, "out of memory");
	if (!cfg->run_user) {
		/* Resolved now so the daemon and posthornctl check agree on it. */
		const char *user = getpwnam("posthorn") ? "posthorn" : "nobody";
		if (!(cfg->run_user = strdup(user)))
			return perr_at(p, 0, "out of memory");
	}
	if (!p->main_line[M_RELAY_NETWORKS]) {
		/* relay_networks left out: the local host may relay. */
		char v4[] = "127.0.0.0/8", v6[] = "::1/128";
		if (add_network(p, "relay_networks", v4) < 0 ||
		    add_network(p, "relay_networks", v6) < 0)
			return -1;
	}
	return 0;
}

static int default_listener(struct parser *p, struct cfg_listener *l,
                            const struct listener_seen *seen)
{
	const struct posthorn_config *cfg = p->cfg;
	if (!seen->line[L_PROTOCOL])
		return perr_at(p, l->line, "[listener %s]: 'protocol' is not set "
		               "(smtp, submission, smtps, pop3, pop3s, imap, imaps)",
		               l->name);
	if (!seen->line[L_ADDRESS])
		return perr_at(p, l->line, "[listener %s]: 'address' is not set",
		               l->name);
	if (!seen->line[L_PORT])
		l->port = proto_ports[l->proto];
	int implicit = l->proto == CFG_PROTO_SMTPS || l->proto == CFG_PROTO_POP3S ||
	               l->proto == CFG_PROTO_IMAPS;
	if (!seen->line[L_TLS])
		l->tls = implicit ? CFG_TLS_IMPLICIT :
		         cfg->tls_cert && cfg->tls_key ? CFG_TLS_STARTTLS : CFG_TLS_NONE;
	if (implicit && l->tls != CFG_TLS_IMPLICIT)
		return perr_at(p, seen->line[L_TLS], "[listener %s]: protocol %s "
		               "needs tls = implicit", l->name, proto_names[l->proto]);
	if (l->tls != CFG_TLS_NONE && (!cfg->tls_cert || !cfg->tls_key))
		return perr_at(p, seen->line[L_TLS] ? seen->line[L_TLS] : l->line,
		               "[listener %s]: tls = %s needs tls_cert and tls_key",
		               l->name, tls_names[l->tls]);
	if (!seen->line[L_REQUIRE_AUTH])
		l->require_auth = l->proto == CFG_PROTO_SUBMISSION ||
		                  l->proto == CFG_PROTO_SMTPS;
	return 0;
}

/* Two listeners on one address and port would fail at bind time; saying
 * so here names both sections. Addresses compare in binary form. */
static int check_distinct(struct parser *p)
{
	const struct posthorn_config *cfg = p->cfg;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_listener *a = &cfg->listeners[i];
		unsigned char abin[16], bbin[16];
		int af = parse_address(a->address, abin);
		for (size_t j = 0; j < i; j++) {
			const struct cfg_listener *b = &cfg->listeners[j];
			if (b->port == a->port && parse_address(b->address, bbin) == af &&
			    memcmp(abin, bbin, 16) == 0)
				return perr_at(p, a->line, "[listener %s]: %s port %d is "
				               "already used by [listener %s] on line %d",
				               a->name, a->address, a->port, b->name,
				               b->line);
		}
	}
	return 0;
}

static int finish(struct parser *p)
{
	if (default_server(p) < 0)
		return -1;
	for (size_t i = 0; i < p->cfg->nlisteners; i++)
		if (default_listener(p, &p->cfg->listeners[i], &p->seen[i]) < 0)
			return -1;
	return check_distinct(p);
}

/* cfg->path (absolute, symlinks resolved) and cfg->dir. */
static int set_location(struct parser *p)
{
	struct posthorn_config *cfg = p->cfg;
	cfg->path = realpath(p->path, NULL);
	if (!cfg->path)
		return perr_at(p, 0, "%s", strerror(errno));
	char *slash = strrchr(cfg->path, '/');
	size_t n = slash == cfg->path ? 1 : (size_t)(slash - cfg->path);
	cfg->dir = strndup(cfg->path, n);
	return cfg->dir ? 0 : perr_at(p, 0, "out of memory");
}

int config_load(const char *path, struct posthorn_config *cfg,
                struct buf *err)
{
	memset(cfg, 0, sizeof *cfg);
	default_limits(&cfg->limits);
	default_queue(&cfg->queue);
	struct parser p = {.path = path, .err = err, .cfg = cfg};
	struct buf text = BUF_INIT;
	int r = -1;
	if (fs_read_file(path, CONFIG_MAX_FILE, &text) < 0)
		perr_at(&p, 0, "%s", errno == EFBIG ? "file is larger than 1 MiB" :
		        strerror(errno));
	else if (!buf_cstr(&text))
		perr_at(&p, 0, "out of memory");
	else if (set_location(&p) == 0 && parse_text(&p, text.data, text.len) == 0)
		r = finish(&p);
	buf_free(&text);
	free(p.seen);
	if (r < 0)
		config_free(cfg);
	return r;
}

void config_free(struct posthorn_config *cfg)
{
	free(cfg->path);
	free(cfg->dir);
	free(cfg->hostname);
	for (size_t i = 0; i < cfg->ndomains; i++)
		free(cfg->domains[i]);
	free(cfg->domains);
	free(cfg->data_dir);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->run_user);
	free(cfg->pid_file);
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		free(cfg->listeners[i].name);
		free(cfg->listeners[i].address);
	}
	free(cfg->listeners);
	free(cfg->relay_networks);
	free(cfg->resolver);
	for (size_t i = 0; i < cfg->ntransports; i++)
		transport_free(&cfg->transports[i]);
	free(cfg->transports);
	free(cfg->warnings);
	memset(cfg, 0, sizeof *cfg);
}

/* ---- queries --------------------------------------------------------- */

int config_is_local_domain(const struct posthorn_config *cfg,
                           const char *domain)
{
	if (!cfg || !domain)
		return 0;
	size_t n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < cfg->ndomains; i++)
		if (strlen(cfg->domains[i]) == n &&
		    strncasecmp(cfg->domains[i], domain, n) == 0)
			return 1;
	return 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *net,
                        int prefix)
{
	int full = prefix / 8;
	if (memcmp(a, net, (size_t)full) != 0)
		return 0;
	if (prefix % 8 == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff00u >> (prefix % 8));
	return (a[full] & mask) == (net[full] & mask);
}

/* The peer as IPv4 (v4 or v4-mapped v6) and as IPv6 (v6 or v4 mapped into
 * ::ffff:0:0/96), so either kind of network can match either kind of peer.
 * Returns 0 for families other than AF_INET and AF_INET6. */
static int peer_forms(const struct sockaddr *peer, unsigned char v4[4],
                      int *has_v4, unsigned char v6[16])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	                                         0xff, 0xff};
	if (!peer)
		return 0;
	if (peer->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)peer;
		memcpy(v4, &sin->sin_addr, 4);
		memcpy(v6, mapped, 12);
		memcpy(v6 + 12, v4, 4);
		*has_v4 = 1;
		return 1;
	}
	if (peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;
		memcpy(v6, &sin6->sin6_addr, 16);
		*has_v4 = memcmp(v6, mapped, 12) == 0;
		if (*has_v4)
			memcpy(v4, v6 + 12, 4);
		return 1;
	}
	return 0;
}

int config_relay_allowed(const struct posthorn_config *cfg,
                         const struct sockaddr *peer)
{
	unsigned char v4[4], v6[16];
	int has_v4 = 0;
	if (!cfg || !peer_forms(peer, v4, &has_v4, v6))
		return 0;
	for (size_t i = 0; i < cfg->nrelay; i++) {
		const struct cfg_network *net = &cfg->relay_networks[i];
		if (net->family == AF_INET && has_v4 &&
		    prefix_match(v4, net->addr, net->prefix))
			return 1;
		if (net->family == AF_INET6 && prefix_match(v6, net->addr, net->prefix))
			return 1;
	}
	return 0;
}

int config_is_loopback(const struct sockaddr *peer)
{
	static const unsigned char one[16] = {[15] = 1};
	unsigned char v4[4], v6[16];
	int has_v4 = 0;
	if (!peer_forms(peer, v4, &has_v4, v6))
		return 0;
	return (has_v4 && v4[0] == 127) || memcmp(v6, one, 16) == 0;
}

/* ---- a new config ---------------------------------------------------- */

static const char default_header[] =
	"# posthorn.conf: the configuration of posthornd (see posthorn.conf(5)).\n"
	"# Relative paths are relative to the directory of this file.\n"
	"\n"
	"# The name this server gives in its greeting and Received: headers.\n"
	"hostname = %s\n"
	"# Mail for these domains is delivered here; anything else is relayed\n"
	"# only for authenticated users and relay_networks.\n"
	"domains = ";

static const char default_body[] =
	"\n"
	"# Users, aliases, mailboxes (mail/) and the outbound queue (queue/).\n"
	"data_dir = data\n"
	"# Certificate chain and private key (PEM) for STARTTLS and implicit TLS.\n"
	"tls_cert = tls/cert.pem\n"
	"tls_key = tls/key.pem\n"
	"# Started as root, posthornd binds its ports and then becomes this user.\n"
	"#user = posthorn\n"
	"pid_file = posthornd.pid\n"
	"# Clients in these networks may relay without AUTH.\n"
	"relay_networks = 127.0.0.0/8, ::1/128\n"
	"# Allow AUTH without TLS from 127.0.0.0/8 and ::1 (for local testing).\n"
	"plaintext_auth_loopback = %s\n"
	"# A bare LF inside DATA: normalise it to CRLF, or reject the message.\n"
	"bare_lf = normalise\n"
	"# Nameserver for MX lookups (ADDRESS or ADDRESS:PORT); the system's\n"
	"# resolv.conf when unset.\n"
	"#resolver = 127.0.0.1:53\n"
	"\n"
	"# Every limit with its default; uncomment a line to change it.\n"
	"[limits]\n"
	"#message_size = 25M          # SIZE advertised by EHLO\n"
	"#recipients = 100            # per message (RFC 5321 asks for 100)\n"
	"#line_length = 1000          # bytes per line including CRLF, >= 512\n"
	"#header_size = 1M            # the header block of one message\n"
	"#commands_before_mail = 50   # NOOP, RSET, VRFY... without a MAIL\n"
	"#errors = 10                 # error replies before 421 and close\n"
	"#connections = 1000          # concurrent sessions in total\n"
	"#connections_per_ip = 20     # concurrent sessions per client address\n"
	"#command_timeout = 5m        # waiting for a command\n"
	"#data_timeout = 3m           # waiting for the next DATA block\n"
	"#auth_failures = 3           # failed AUTH attempts before 421\n"
	"#auth_delay_ms = 1000        # pause before a failed AUTH is answered\n"
	"#shutdown_timeout = 30s      # time sessions get on SIGTERM\n"
	"#pop3_timeout = 10m          # POP3 idle time (RFC 1939: >= 10m)\n"
	"\n"
	"# Outbound delivery: the queue manager's schedule and limits.\n"
	"[queue]\n"
	"#retry = 1m, 5m, 15m, 30m, 1h, 2h, 4h   # waits; the last one repeats\n"
	"#lifetime = 5d               # then the sender gets a bounce\n"
	"#delay_warning = 0           # e.g. 4h: one \"delayed\" notice (0 = off)\n"
	"#connections = 20            # deliveries at once\n"
	"#connections_per_domain = 4  # deliveries at once to one domain\n"
	"#remote_port = 25            # SMTP port of MX hosts\n"
	"#max_received = 50           # more Received: fields = a mail loop\n"
	"#command_timeout = 5m        # per SMTP command to other servers\n"
	"#scan_interval = 1m          # full rescan of the queue directory\n"
	"\n"
	"# Routes for remote domains (default: DNS MX lookup). Examples:\n"
	"#   * = smtp:[smarthost.example.net]:587 auth=me password_file=relay.pw\n"
	"#   .example.com = smtp:[10.0.0.5]:25 tls=none\n"
	"#   secure.example = dns tls=verify\n"
	"[transport]\n";

struct default_listener {
	enum cfg_proto proto;
	const char *comment;
};

static const struct default_listener default_listeners[] = {
	{CFG_PROTO_SMTP, "SMTP from other servers (MX); STARTTLS offered"},
	{CFG_PROTO_SUBMISSION, "mail submission by users: STARTTLS, then AUTH"},
	{CFG_PROTO_SMTPS, "submission over implicit TLS"},
	{CFG_PROTO_POP3, "POP3 with STLS"},
	{CFG_PROTO_POP3S, "POP3 over implicit TLS"},
	{CFG_PROTO_IMAP, "IMAP with STARTTLS"},
	{CFG_PROTO_IMAPS, "IMAP over implicit TLS"},
};

static int write_listener(struct buf *out, const struct default_listener *d,
                          const char *addr, int port_base)
{
	const char *name = proto_names[d->proto];
	int implicit = d->proto == CFG_PROTO_SMTPS || d->proto == CFG_PROTO_POP3S ||
	               d->proto == CFG_PROTO_IMAPS;
	return buf_printf(out, "\n# %s\n[listener %s]\naddress = %s\nport = %d\n"
	                  "protocol = %s\ntls = %s\n%s", d->comment, name, addr,
	                  port_base + proto_ports[d->proto], name,
	                  implicit ? "implicit" : "starttls",
	                  d->proto == CFG_PROTO_SMTP ? "vrfy = no\n" : "");
}

int config_write_default(struct buf *out, const char *hostname,
                         char *const *domains, size_t ndomains,
                         const char *listen_addr, int port_base)
{
	unsigned char addr[16];
	int family = listen_addr ? parse_address(listen_addr, addr) : 0;
	if (!hostname || !plausible_domain(hostname) || ndomains == 0 ||
	    !family || port_base < 0 || port_base > 65535 - 995) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < ndomains; i++) {
		if (!domains[i] || !plausible_domain(domains[i])) {
			errno = EINVAL;
			return -1;
		}
	}
	struct sockaddr_storage ss = {.ss_family = (sa_family_t)family};
	if (family == AF_INET)
		memcpy(&((struct sockaddr_in *)&ss)->sin_addr, addr, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr, addr, 16);
	int loopback = config_is_loopback((struct sockaddr *)&ss);

	size_t old = out->len;
	int r = buf_printf(out, default_header, hostname);
	for (size_t i = 0; i < ndomains && r == 0; i++)
		r = buf_printf(out, "%s%s", i ? ", " : "", domains[i]);
	if (r == 0)
		r = buf_printf(out, default_body, loopback ? "yes" : "no");
	for (size_t i = 0; i < NKEYS(default_listeners) && r == 0; i++)
		r = write_listener(out, &default_listeners[i], listen_addr, port_base);
	if (r < 0) {
		buf_truncate(out, old);
		errno = ENOMEM;
	}
	return r;
}
