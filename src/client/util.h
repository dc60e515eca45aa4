/* util: what the client commands share: argument parsing, loading and
 * judging a message, the readable text of a message (HTML turned into plain
 * text), terminal-safe output and digests. */
#ifndef POSTHORN_CLIENT_UTIL_H
#define POSTHORN_CLIENT_UTIL_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../msg/address.h"
#include "../msg/header.h"
#include "../msg/message.h"

/* Exit statuses (commands.h). */
enum {
	EXIT_OK = 0,
	EXIT_PARTIAL = 1,
	EXIT_USAGE = 2,
	EXIT_INPUT = 3,
	/* the mail client's commands (doc/posthorn.1 EXIT STATUS) */
	EXIT_CONFIG = 4,      /* no config/account, bad setting, no password */
	EXIT_LOCAL = 5,       /* the local mail store could not be written */
	EXIT_DNS = 6,         /* host name not found */
	EXIT_REFUSED = 7,     /* connection refused */
	EXIT_TIMEOUT = 8,     /* connection or server timed out */
	EXIT_TLS_VERIFY = 9,  /* certificate not trusted */
	EXIT_TLS = 10,        /* TLS failed, or STARTTLS/STLS not offered */
	EXIT_LOGIN = 11,      /* login rejected */
	EXIT_RELAY = 12,      /* relay denied */
	EXIT_RECIPIENT = 13,  /* unknown recipient */
	EXIT_FULL = 14,       /* mailbox full */
	EXIT_TOO_BIG = 15,    /* message too big */
	EXIT_LOCKED = 16,     /* POP3 mailbox locked */
	EXIT_SERVER = 17,     /* other server refusal or protocol error */
	EXIT_TEMP = 18,       /* temporary server failure: try later */
	EXIT_NETWORK = 19,    /* other network failure (unreachable, reset) */
};

/* One option of a command. flag options set *flag to 1; options with an
 * argument (--name VALUE or --name=VALUE) store it in *value. */
struct util_opt {
	const char *name;    /* "--json" */
	const char **value;  /* NULL for a flag */
	int *flag;           /* NULL for an option with an argument */
};

/* Parses argv[1..argc) (argv[0] is the command name) into options and up
 * to maxpos positional arguments ("-" is positional; "--" ends options).
 * Returns 0 with *npos set, 1 when --help/-h was given, or -1 after
 * printing "posthorn CMD: problem" to stderr (a usage error). */
int util_parse_args(int argc, char **argv, const struct util_opt *opts,
                    size_t nopts, char **pos, size_t maxpos, size_t *npos);

/* A message read from a file or stdin and parsed. */
struct util_input {
	const char *name;         /* for messages: the path, or "stdin" */
	struct buf raw;           /* the bytes; owned */
	struct msg_message *msg;  /* owned; points into raw */
};

/* Reads and parses path ("-" is stdin). Returns 0, or EXIT_INPUT after
 * printing one line on stderr (unreadable, empty, not a message). A
 * damaged but usable message gives 0 and one "posthorn: warning:" line.
 * Free in with util_input_free in every case. */
int util_input_load(const char *path, struct util_input *in);
void util_input_free(struct util_input *in);

/* Renders one loaded message into out; json asks for the --json form.
 * Returns 0 or -1 (out of memory). */
typedef int (*util_render_fn)(const struct util_input *in, int json,
                              struct buf *out);

/* The whole of a `posthorn NAME [--json] FILE|-` command: arguments,
 * --help (usage printed to stdout), loading, rendering, writing stdout.
 * Returns the exit status. */
int util_run_render(int argc, char **argv, const char *name,
                    const char *usage, util_render_fn render);

/* Appends s[0..n) made safe for a terminal: invalid UTF-8 becomes U+FFFD,
 * C0/C1 controls and DEL are dropped except \n and \t, which become spaces
 * when oneline is set. 0 or -1 (limit or memory). */
int util_term_safe(const char *s, size_t n, int oneline, struct buf *out);

/* Appends a crude but readable plain-text rendering of HTML: tags, scripts,
 * styles and comments dropped, common entities decoded, line breaks for
 * br/p/div/li and friends, whitespace collapsed. 0 or -1. */
int util_html_to_text(const char *s, size_t n, struct buf *out);

/* Appends the readable text of m as UTF-8 with LF line ends (the text part,
 * converted from HTML when that is all there is). Returns 0, 1 when the
 * charset conversion was lossy or the charset unknown, -1 on memory. */
int util_readable_text(const struct msg_message *m, struct buf *out);

/* Appends the decoded (RFC 2047) unfolded value of the first field name.
 * Returns 1 when appended, 0 when the field is absent, -1 on memory. */
int util_header_text(const struct msg_header *h, const char *name,
                     struct buf *out);

/* Parses every field called name into list. Returns 0, 1 when a field had
 * a syntax error (list holds what could be recovered), -1 on memory. */
int util_header_addresses(const struct msg_header *h, const char *name,
                          struct msg_address_list *list);

/* Appends "local@domain", or just the local part when there is no domain. */
int util_address_spec(const struct msg_address *a, struct buf *out);

/* The first Message-ID without brackets as a new string, or NULL. */
char *util_message_id(const struct msg_header *h);

/* Writes the SHA-256 of p[0..n) as 64 lowercase hex digits and a NUL.
 * Returns 0 or -1. */
int util_sha256_hex(const void *p, size_t n, char hex[65]);

/* Columns s[0..n) of UTF-8 takes on a terminal (East Asian wide = 2). */
size_t util_display_width(const char *s, size_t n);

/* Writes b to stdout and flushes. 0, or -1 after reporting the error. */
int util_write_stdout(const struct buf *b);

#endif
