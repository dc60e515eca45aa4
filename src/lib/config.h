/* config: posthorn.conf, the one configuration file of the server. The
 * format is small INI: "key = value" lines, "#" comments, and sections
 * "[limits]" and "[listener NAME]". Relative paths are relative to the
 * directory of the config file. Errors name file:line and the reason.
 *
 *   hostname = mail.example.org
 *   domains = example.org, example.net
 *   data_dir = data
 *   tls_cert = tls/cert.pem
 *   tls_key = tls/key.pem
 *   user = posthorn                 # privileges are dropped to it when root
 *   pid_file = posthornd.pid
 *   relay_networks = 127.0.0.0/8, ::1/128
 *   plaintext_auth_loopback = yes   # AUTH without TLS from 127.0.0.0/8, ::1
 *   bare_lf = normalise             # or reject (inside DATA; see smtpd)
 *
 *   [limits]
 *   message_size = 26214400
 *   recipients = 100
 *   ...
 *
 *   [listener submission]
 *   address = 127.0.0.1
 *   port = 10587
 *   protocol = submission           # smtp submission smtps pop3 pop3s imap imaps
 *   tls = starttls                  # none starttls implicit
 *   vrfy = no                       # answer VRFY/EXPN from users and aliases
 *
 *   [queue]                         # outbound delivery (posthorn.conf(5))
 *   retry = 1m, 5m, 15m, 30m, 1h, 2h, 4h
 *   lifetime = 5d
 *   ...
 *
 *   [transport]                     # DOMAIN = ROUTE [OPTION=VALUE...]
 *   example.com = smtp:[relay.example.net]:587 auth=user password_file=pw
 *   .example.com = smtp:[relay.example.net]   # its subdomains
 *   secure.example = dns tls=verify
 *   * = smtp:[smarthost.example.net]:25       # every other remote domain
 */
#ifndef POSTHORN_CONFIG_H
#define POSTHORN_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>

#include "buf.h"

enum cfg_proto {
	CFG_PROTO_SMTP,        /* port 25: MX service, no AUTH needed */
	CFG_PROTO_SUBMISSION,  /* port 587: AUTH required before MAIL */
	CFG_PROTO_SMTPS,       /* port 465: submission over implicit TLS */
	CFG_PROTO_POP3,
	CFG_PROTO_POP3S,
	CFG_PROTO_IMAP,
	CFG_PROTO_IMAPS,
};

enum cfg_tls {
	CFG_TLS_NONE,
	CFG_TLS_STARTTLS,      /* STARTTLS / STLS offered (needs cert and key) */
	CFG_TLS_IMPLICIT,      /* TLS from the first byte */
};

struct cfg_listener {
	char *name;            /* from "[listener NAME]"; owned */
	char *address;         /* numeric IPv4 or IPv6 address; owned */
	int port;
	enum cfg_proto proto;
	enum cfg_tls tls;      /* default: implicit for smtps/pop3s/imaps,
	                        * starttls when a cert is configured, else none */
	int require_auth;      /* default 1 for submission and smtps, else 0 */
	int vrfy;              /* answer VRFY/EXPN (default 0): when 0 they get
	                        * 252; on submission/smtps only after AUTH */
	int line;              /* line of the section, for messages */
};

struct cfg_network {
	int family;            /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;            /* bits */
};

struct cfg_limits {
	size_t message_size;        /* bytes, SIZE advertised (default 25 MiB) */
	size_t recipients;          /* per message (default 100) */
	size_t line_length;         /* command and text lines, bytes including
	                             * CRLF (default 1000 = RFC 5321 4.5.3.1.6;
	                             * never below 512) */
	size_t header_size;         /* buffered header block (default 1 MiB) */
	int commands_before_mail;   /* NOOP/RSET/VRFY... without a MAIL (default 50) */
	int errors;                 /* error replies before 421 (default 10) */
	int connections;            /* concurrent sessions in total (default 1000) */
	int connections_per_ip;     /* concurrent sessions per address (default 20) */
	int command_timeout;        /* seconds waiting for a command (default 300) */
	int data_timeout;           /* seconds waiting for a DATA block (default 180) */
	int auth_failures;          /* failed AUTH attempts before 421 (default 3) */
	int auth_delay_ms;          /* pause before answering a failed AUTH (default 1000) */
	int shutdown_timeout;       /* seconds sessions get on SIGTERM (default 30) */
	int pop3_timeout;           /* seconds a POP3 session may idle (default
	                             * 600, RFC 1939 3's ten minutes) */
};

/* Outbound queue: retry schedule and limits ([queue]). */
#define CFG_RETRY_MAX 32
struct cfg_queue {
	int retry[CFG_RETRY_MAX];   /* seconds to wait after attempt 1, 2, ...;
	                             * the last repeats (default 1m, 5m, 15m,
	                             * 30m, 1h, 2h, 4h) */
	size_t nretry;              /* >= 1 */
	int lifetime;               /* seconds before bouncing (default 5d) */
	int delay_warning;          /* seconds before one "delayed" DSN; 0 off
	                             * (default) */
	int connections;            /* deliveries at once (default 20) */
	int connections_per_domain; /* ... to one domain (default 4) */
	int remote_port;            /* port of MX hosts (default 25) */
	int max_received;           /* more Received: fields is a loop (50) */
	int command_timeout;        /* seconds per SMTP command (default 300) */
	int scan_interval;          /* seconds between full rescans (60) */
};

/* The TLS policy of a route; the same order as outbound_tls in
 * smtp/outbound.h (which src/lib cannot include). */
enum cfg_transport_tls {
	CFG_TTLS_MAY,       /* STARTTLS when offered */
	CFG_TTLS_NONE,
	CFG_TTLS_ENCRYPT,   /* STARTTLS required, certificate not checked */
	CFG_TTLS_VERIFY,    /* STARTTLS required, certificate verified */
	CFG_TTLS_IMPLICIT,  /* TLS from the first byte, verified */
};

/* One [transport] line: "DOMAIN = smtp:[HOST]:PORT options" (a smarthost)
 * or "DOMAIN = dns options" (MX lookup with a policy). */
struct cfg_transport {
	char *domain;          /* "example.com", ".example.com" (subdomains
	                        * only) or "*"; lowercase; owned */
	char *host;            /* smarthost, or NULL for dns; owned */
	int port;              /* smarthost port (default 25, 465 with
	                        * tls=implicit); 0 for dns */
	enum cfg_transport_tls tls;  /* default may; encrypt for a smarthost
	                              * with auth */
	char *auth_user;       /* auth=USER or NULL; owned */
	char *password;        /* first line of password_file, read at load;
	                        * owned; NULL without auth */
	char *ca_file;         /* absolute or NULL; owned */
	int line;
};

struct posthorn_config {
	char *path;                 /* absolute path of the file; owned */
	char *dir;                  /* its directory; owned */
	char *hostname;             /* default: gethostname() */
	char **domains;             /* lowercased local domains; owned */
	size_t ndomains;
	char *data_dir;             /* absolute; owned */
	char *tls_cert;             /* absolute or NULL; owned */
	char *tls_key;              /* absolute or NULL; owned */
	char *run_user;             /* default "posthorn", falling back to
	                             * "nobody" when that user does not exist */
	char *pid_file;             /* absolute or NULL (none) */
	struct cfg_listener *listeners;
	size_t nlisteners;
	struct cfg_network *relay_networks;
	size_t nrelay;
	int plaintext_auth_loopback;  /* default 0 */
	int bare_lf_reject;           /* bare_lf = reject (default normalise: 0) */
	struct cfg_limits limits;
	char *resolver;             /* "addr[:port]" nameserver or NULL (system);
	                             * also used for MX lookups */
	struct cfg_queue queue;
	struct cfg_transport *transports;  /* owned, in file order */
	size_t ntransports;
	char *warnings;             /* "path:line: text" lines about things that
	                             * work but should be fixed (a world-readable
	                             * password_file), or NULL; owned */
};

/* Reads path into cfg (zeroed by the call). On error returns -1 and appends
 * "path:line: reason" (or "path: reason") to err; cfg is then freed. Checks
 * what can be checked without touching the network: known keys, values in
 * range, at least one domain, listeners with distinct address:port, TLS
 * modes that need a cert have tls_cert and tls_key set. */
int config_load(const char *path, struct posthorn_config *cfg,
                struct buf *err);

void config_free(struct posthorn_config *cfg);

/* True when domain (case-insensitive, trailing dot ignored) is local. */
int config_is_local_domain(const struct posthorn_config *cfg,
                           const char *domain);

/* The route for a remote domain (case-insensitive, trailing dot ignored):
 * the exact domain's entry, else the longest ".suffix" entry the domain
 * ends with, else "*", else NULL (plain DNS). Lives as long as cfg. */
const struct cfg_transport *config_transport(const struct posthorn_config *cfg,
                                             const char *domain);

/* "may", "none", "encrypt", "verify", "implicit". */
const char *config_transport_tls_name(enum cfg_transport_tls tls);

/* True when the peer address is inside relay_networks. */
int config_relay_allowed(const struct posthorn_config *cfg,
                         const struct sockaddr *peer);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
int config_is_loopback(const struct sockaddr *peer);

/* "smtp", "submission", ... and "none", "starttls", "implicit". */
const char *config_proto_name(enum cfg_proto proto);
const char *config_tls_name(enum cfg_tls tls);

/* Writes a complete, commented config for a new setup (posthornctl init):
 * hostname, domains, data_dir "data", tls files "tls/cert.pem" and
 * "tls/key.pem", and listeners for every protocol on listen_addr with the
 * standard ports plus port_base (DESIGN.md: smtp 25, submission 587,
 * smtps 465, pop3 110, pop3s 995, imap 143, imaps 993).
 * plaintext_auth_loopback is yes when listen_addr is a loopback address.
 * Appends to out and returns 0; -1 with errno EINVAL (hostname or a domain
 * not a domain name, no domains, listen_addr not numeric, port_base outside
 * 0..64540) or ENOMEM, out unchanged. */
int config_write_default(struct buf *out, const char *hostname,
                         char *const *domains, size_t ndomains,
                         const char *listen_addr, int port_base);

#endif
