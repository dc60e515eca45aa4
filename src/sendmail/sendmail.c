/* posthorn-sendmail: the classic sendmail(1) injector for cron, scripts and
 * mail user agents. Reads one message on standard input, completes its
 * header (From, Date, Message-ID added when missing; Bcc removed) and hands
 * it to posthornd over SMTP on the server's own smtp listener, which queues
 * or delivers it. Exit statuses are those of sysexits(3). */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/config.h"
#include "../lib/net.h"
#include "../msg/address.h"
#include "../msg/date.h"
#include "../msg/header.h"
#include "../msg/msgid.h"
#include "../smtp/smtpc.h"

#ifndef SENDMAIL_DEFAULT_CONFIG
#define SENDMAIL_DEFAULT_CONFIG "/etc/posthorn/posthorn.conf"
#endif
/* The largest message read from standard input. */
#define SENDMAIL_INPUT_MAX ((size_t)64 << 20)
/* Header fields parsed; the rest of a bigger header is passed on as is. */
#define SENDMAIL_HEADER_FIELDS 10000
/* Seconds for connecting and for each reply (the final 250 waits for an
 * fsync on the server). */
#define SENDMAIL_TIMEOUT 120
/* Longest sender or full name taken from the command line. */
#define SENDMAIL_ARG_MAX 998

static const char usage_text[] =
	"usage: posthorn-sendmail [-t] [-i] [-f SENDER] [-F FULLNAME] [-C CONFIG] [-v]\n"
	"                         [--] [RECIPIENT...]\n"
	"\n"
	"Reads a message on standard input and hands it to posthornd for delivery.\n"
	"\n"
	"  -t            take recipients from To, Cc and Bcc too (Bcc is always removed)\n"
	"  -i, -oi       a line of a single \".\" does not end the input\n"
	"  -f SENDER     the envelope sender (Return-Path); \"<>\" is the null sender\n"
	"  -r SENDER     the same as -f\n"
	"  -F FULLNAME   the name in a From field that is added\n"
	"  -C CONFIG     posthornd's configuration (default: $POSTHORN_CONF, else\n"
	"                " SENDMAIL_DEFAULT_CONFIG ")\n"
	"  -N DSN        DSN notify: never, or a list of success, failure, delay\n"
	"  -R RET        DSN return: full or hdrs\n"
	"  -V ENVID      DSN envelope id\n"
	"  -v            show the SMTP dialogue on standard error\n"
	"  -bm           deliver mail (the default and only mode)\n"
	"  -oem -oee -oep -oeq -oew -odb -odi -odq  accepted and ignored; other\n"
	"                -oX options are ignored with a warning\n"
	"  --help        this text\n"
	"\n"
	"Exit status (sysexits.h): 0 sent, 64 usage (e.g. no recipients), 65 bad\n"
	"message, 66 empty input, 67 a recipient refused, 69 the server refused,\n"
	"70 internal error, 75 temporary failure (try again later), 78 config.\n"
	"See posthorn-sendmail(8).\n";

struct sendmail_opts {
	int from_headers;        /* -t */
	int ignore_dots;         /* -i, -oi */
	int verbose;             /* -v */
	const char *sender;      /* -f/-r or NULL */
	const char *fullname;    /* -F or NULL */
	const char *config;      /* -C or NULL */
	const char *notify;      /* -N: DSN NOTIFY for every recipient, or NULL */
	const char *ret;         /* -R: DSN RET, or NULL */
	const char *envid;       /* -V: DSN ENVID, or NULL */
	char **rcpt_args;        /* the recipient arguments */
	int nrcpt_args;
};

struct rcpt_list {
	char **v;                /* owned strings, distinct case-insensitively */
	size_t n, cap;
};

/* The DSN parameters (RFC 3461) as they go on the wire; "" when unset.
 * posthornd drops them when it does not offer DSN. */
struct sendmail_dsn {
	char notify[32];         /* "NEVER" or e.g. "SUCCESS,FAILURE" */
	char ret[8];             /* "FULL" or "HDRS" */
	char envid[101];         /* xtext, at most 100 characters (RFC 3461 4.4) */
};

/* What the message header needs and where to change it. */
struct sendmail_msg {
	const char *data;        /* the input (owned by the caller) */
	size_t len;
	struct msg_header h;
	const char *eol;         /* "\r\n" or "\n", as the input's first line */
};

static int fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints "posthorn-sendmail: ..." and returns status. */
static int fail(int status, const char *fmt, ...)
{
	va_list ap;
	fputs("posthorn-sendmail: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static int usage_error(const char *what, const char *arg)
{
	fail(EX_USAGE, "%s%s", what, arg ? arg : "");
	fputs("try 'posthorn-sendmail --help'\n", stderr);
	return EX_USAGE;
}

/* The value of an option: the rest of the argument ("-fuser") or the next
 * one ("-f user"). NULL when missing. */
static const char *opt_value(int argc, char **argv, int *i)
{
	if (argv[*i][2])
		return argv[*i] + 2;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* -oX: the old sendmail.cf options. -oi matters; the error and delivery
 * modes make no sense for a program that always answers at once. */
static void parse_o_option(struct sendmail_opts *o, const char *arg)
{
	static const char *const quiet[] = {"oem", "oee", "oep", "oeq", "oew",
	                                    "odb", "odi", "odq", "odd", "om"};
	if (strcmp(arg + 1, "oi") == 0) {
		o->ignore_dots = 1;
		return;
	}
	for (size_t k = 0; k < sizeof quiet / sizeof *quiet; k++)
		if (strcmp(arg + 1, quiet[k]) == 0)
			return;
	fprintf(stderr, "posthorn-sendmail: warning: ignoring option %.80s\n", arg);
}

/* Flags that may be grouped ("-ti"). n, m, U, G are accepted and ignored:
 * no aliasing, me too, initial submission, gateway submission. */
static int parse_flags(struct sendmail_opts *o, const char *arg)
{
	if (!arg[1] || strspn(arg + 1, "tivnmUG") != strlen(arg + 1))
		return -1;
	for (const char *p = arg + 1; *p; p++) {
		if (*p == 't')
			o->from_headers = 1;
		else if (*p == 'i')
			o->ignore_dots = 1;
		else if (*p == 'v')
			o->verbose = 1;
	}
	return 0;
}

/* -b modes: only -bm (deliver) is ours; say where the others went. */
static int parse_b_option(const char *arg)
{
	if (strcmp(arg, "-bm") == 0)
		return 0;
	if (strcmp(arg, "-bp") == 0)
		return usage_error("-bp is not supported: use 'posthornctl queue list'", NULL);
	if (strcmp(arg, "-bi") == 0)
		return usage_error("-bi is not supported: aliases need no rebuild"
		                   " ('posthornctl alias')", NULL);
	return usage_error("unsupported mode ", arg);
}

/* 0, -1 after --help, or an exit status. */
static int parse_args(int argc, char **argv, struct sendmail_opts *o)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0) {
			fputs(usage_text, stdout);
			return -1;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (parse_flags(o, a) == 0)
			continue;
		const char **dest = NULL, *v;
		switch (a[1]) {
		case 'f': case 'r': dest = &o->sender; break;
		case 'F': dest = &o->fullname; break;
		case 'C': dest = &o->config; break;
		case 'o': parse_o_option(o, a); continue;
		case 'b':
			if (parse_b_option(a))
				return EX_USAGE;
			continue;
		case 'N': dest = &o->notify; break;
		case 'R': dest = &o->ret; break;
		case 'V': dest = &o->envid; break;
		case 'B': case 'h': case 'L':
			/* body type, hop count, log label: nothing to do with them */
			if (!opt_value(argc, argv, &i))
				return usage_error("missing value for ", a);
			fprintf(stderr, "posthorn-sendmail: warning: ignoring option %.80s\n", a);
			continue;
		default:
			return usage_error("unknown option ", a);
		}
		if (!(v = opt_value(argc, argv, &i)))
			return usage_error("missing value for ", a);
		if (strlen(v) > SENDMAIL_ARG_MAX)
			return usage_error("value too long for ", a);
		*dest = v;
	}
	o->rcpt_args = argv + i;
	o->nrcpt_args = argc - i;
	return 0;
}

/* Upper-cases src into dst (n bytes); -1 when it does not fit. */
static int upper_copy(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);
	if (len >= n)
		return -1;
	for (size_t i = 0; i <= len; i++)
		dst[i] = (char)toupper((unsigned char)src[i]);
	return 0;
}

/* Checks -N, -R and -V and puts them into wire form. 0 or EX_USAGE. */
static int dsn_options(const struct sendmail_opts *o, struct sendmail_dsn *d)
{
	memset(d, 0, sizeof *d);
	if (o->notify) {
		if (upper_copy(d->notify, sizeof d->notify, o->notify) < 0)
			return usage_error("bad -N value ", o->notify);
		int never = 0, other = 0;
		char copy[sizeof d->notify], *save = NULL;
		memcpy(copy, d->notify, sizeof copy);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strcmp(t, "NEVER") == 0)
				never++;
			else if (strcmp(t, "SUCCESS") && strcmp(t, "FAILURE") && strcmp(t, "DELAY"))
				return usage_error("bad -N value (never, or success, failure,"
				                   " delay): ", o->notify);
			else
				other++;
		}
		if (never + other == 0 || (never && (never > 1 || other)))
			return usage_error("bad -N value (never, or success, failure,"
			                   " delay): ", o->notify);
	}
	if (o->ret && (upper_copy(d->ret, sizeof d->ret, o->ret) < 0 ||
	               (strcmp(d->ret, "FULL") && strcmp(d->ret, "HDRS"))))
		return usage_error("bad -R value (full or hdrs): ", o->ret);
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)o->envid; p && *p; p++) {
		int plain = *p >= '!' && *p <= '~' && *p != '+' && *p != '=';
		if (n + (plain ? 1 : 3) >= sizeof d->envid)
			return usage_error("-V value too long (100 characters at most)", NULL);
		n += (size_t)snprintf(d->envid + n, sizeof d->envid - n,
		                      plain ? "%c" : "+%02X", *p);
	}
	return 0;
}

/* Reads standard input into msg. Without ignore_dots a line holding only
 * "." ends the message (it is not part of it). 0 or an exit status. */
static int read_message(int ignore_dots, struct buf *msg)
{
	char chunk[65536];
	size_t line_start = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail(EX_IOERR, "reading standard input: %s", strerror(errno));
		if (r == 0)
			break;
		if (buf_append(msg, chunk, (size_t)r) < 0)
			return msg->len + (size_t)r > msg->max
				? fail(EX_DATAERR, "the message is larger than %zu MiB: not sent",
				       msg->max >> 20)
				: fail(EX_SOFTWARE, "out of memory");
		while (!ignore_dots) {
			char *nl = memchr(msg->data + line_start, '\n', msg->len - line_start);
			if (!nl)
				break;
			size_t end = (size_t)(nl - msg->data), n = end - line_start;
			if (msg->data[line_start] == '.' &&
			    (n == 1 || (n == 2 && msg->data[line_start + 1] == '\r'))) {
				buf_truncate(msg, line_start);
				return 0;
			}
			line_start = end + 1;
		}
	}
	/* a last "." without a line end ends it just the same */
	if (!ignore_dots && msg->len == line_start + 1 && msg->data[line_start] == '.')
		buf_truncate(msg, line_start);
	return 0;
}

static void rcpt_list_free(struct rcpt_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* Adds a copy of addr unless it is there already. 0 or -1 (memory). */
static int rcpt_list_add(struct rcpt_list *l, const char *addr)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], addr) == 0)
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(addr)))
		return -1;
	l->n++;
	return 0;
}

/* True when an address can be given to MAIL or RCPT: no controls, no
 * spaces outside quotes, no angle brackets. */
static int address_usable(const char *a)
{
	int quoted = 0;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
			return 0;
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ' ' && !quoted)
			return 0;
	}
	return *a != '\0';
}

/* Parses an address list (a header value or an argument) and adds every
 * address, an address without a domain qualified with domain. 0, or -1
 * with why set (a static string) or errno ENOMEM. */
static int add_addresses(struct rcpt_list *l, const char *s, size_t len,
                         const char *domain, const char **why)
{
	struct msg_address_list al = {0};
	struct buf spec = BUF_INIT;
	int rc = msg_address_parse(s, len, &al, NULL, why);
	if (rc == -2)
		*why = "out of memory";
	for (size_t i = 0; rc == 0 && i < al.count; i++) {
		const struct msg_address *a = &al.items[i];
		if (!*a->local && !*a->domain)
			continue;  /* "<>" */
		buf_reset(&spec);
		if (msg_address_spec(a, &spec) < 0 ||
		    (!*a->domain && buf_printf(&spec, "@%s", domain) < 0) || !buf_cstr(&spec)) {
			*why = "out of memory";
			rc = -1;
		} else if (!*a->local || !address_usable(spec.data)) {
			*why = "not a usable mail address";
			rc = -1;
		} else if (rcpt_list_add(l, spec.data) < 0) {
			*why = "out of memory";
			rc = -1;
		}
	}
	buf_free(&spec);
	msg_address_list_free(&al);
	return rc < 0 ? -1 : 0;
}

/* -t: the recipients of To, Cc and Bcc. 0 or an exit status. */
static int rcpts_from_header(const struct sendmail_msg *m, const char *domain,
                             struct rcpt_list *l)
{
	static const char *const names[] = {"To", "Cc", "Bcc"};
	struct buf v = BUF_INIT;
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < 3; k++) {
		for (const struct msg_field *f = msg_header_get(&m->h, names[k]);
		     f && rc == 0; f = msg_header_next(&m->h, f)) {
			const char *why = NULL;
			buf_reset(&v);
			if (msg_field_unfold(f, &v) < 0)
				rc = fail(EX_SOFTWARE, "out of memory");
			else if (v.len && add_addresses(l, v.data, v.len, domain, &why) < 0)
				rc = fail(EX_DATAERR, "the %s field \"%.200s\": %s", names[k],
				          buf_cstr(&v) ? v.data : "", why ? why : "syntax error");
		}
	}
	buf_free(&v);
	return rc;
}

/* The domain that completes addresses without one: the hostname when it is
 * a local domain, else the first local domain (so replies to root@... come
 * back here instead of being relayed away). */
static const char *qualify_domain(const struct posthorn_config *cfg)
{
	if (config_is_local_domain(cfg, cfg->hostname) || cfg->ndomains == 0)
		return cfg->hostname;
	return cfg->domains[0];
}

/* The login name of the user running us, and the full name from the
 * password database's GECOS field ("" when none). */
static void who_am_i(char *login, size_t nlogin, char *name, size_t nname)
{
	struct passwd *pw = getpwuid(getuid());
	const char *env = getenv("LOGNAME");
	if (!env || !*env)
		env = getenv("USER");
	snprintf(login, nlogin, "%s", pw ? pw->pw_name : env && *env ? env : "nobody");
	name[0] = '\0';
	if (pw && pw->pw_gecos)
		snprintf(name, nname, "%.*s", (int)strcspn(pw->pw_gecos, ","), pw->pw_gecos);
}

/* The envelope sender into out ("" for <>): -f without its brackets,
 * qualified when it has no domain; else login@domain. 0 or a status. */
static int envelope_sender(const struct sendmail_opts *o, const char *login,
                           const char *domain, struct buf *out)
{
	if (!o->sender)
		return buf_printf(out, "%s@%s", login, domain) < 0 || !buf_cstr(out)
			? fail(EX_SOFTWARE, "out of memory") : 0;
	const char *s = o->sender;
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	if (buf_append(out, s, n) < 0 || !buf_cstr(out))
		return fail(EX_SOFTWARE, "out of memory");
	if (n == 0)
		return 0;
	if (!address_usable(out->data) || out->data[0] == '@' || out->data[n - 1] == '@')
		return usage_error("bad sender address ", o->sender);
	if (!strchr(out->data, '@') && buf_printf(out, "@%s", domain) < 0)
		return fail(EX_SOFTWARE, "out of memory");
	return buf_cstr(out) ? 0 : fail(EX_SOFTWARE, "out of memory");
}

/* Appends "From: " and the address with its display name. */
static int format_from(const char *name, const char *addr, struct buf *out)
{
	const char *at = strrchr(addr, '@');
	struct msg_address a = {0};
	int rc = -1;
	a.name = strdup(name);
	for (char *p = a.name; p && *p; p++)  /* -F must not add header lines */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	a.local = at ? strndup(addr, (size_t)(at - addr)) : strdup(addr);
	a.domain = strdup(at ? at + 1 : "");
	/* a quoted local part loses its quotes here and gets them back from
	 * msg_address_format */
	size_t n = a.local ? strlen(a.local) : 0;
	if (n >= 2 && a.local[0] == '"' && a.local[n - 1] == '"') {
		size_t o = 0;
		for (size_t i = 1; i + 1 < n; i++) {
			if (a.local[i] == '\\' && i + 2 < n)
				i++;
			a.local[o++] = a.local[i];
		}
		a.local[o] = '\0';
	}
	if (a.name && a.local && a.domain)
		rc = buf_puts(out, "From: ") < 0 ? -1 : msg_address_format(&a, out);
	free(a.name);
	free(a.local);
	free(a.domain);
	return rc;
}

/* Appends the fields the message lacks (each ending in m->eol). */
static int missing_fields(const struct sendmail_msg *m, const struct sendmail_opts *o,
                          const char *from_addr, const char *gecos,
                          const struct posthorn_config *cfg, struct buf *out)
{
	if (!msg_header_get(&m->h, "From")) {
		const char *name = o->fullname ? o->fullname : o->sender ? "" : gecos;
		if (format_from(name, from_addr, out) < 0 || buf_puts(out, m->eol) < 0)
			return -1;
	}
	if (!msg_header_get(&m->h, "Date")) {
		char date[64];
		time_t now = time(NULL);
		struct tm tm;
		int off = localtime_r(&now, &tm) ? (int)(tm.tm_gmtoff / 60) : 0;
		if (msg_date_format((int64_t)now, off, date, sizeof date) < 0 ||
		    buf_printf(out, "Date: %s%s", date, m->eol) < 0)
			return -1;
	}
	if (!msg_header_get(&m->h, "Message-ID")) {
		char id[512];
		if (msg_id_generate(cfg->hostname, id, sizeof id) < 0 &&
		    msg_id_generate(NULL, id, sizeof id) < 0)
			return -1;
		if (buf_printf(out, "Message-ID: %s%s", id, m->eol) < 0)
			return -1;
	}
	return 0;
}

/* Where added fields go: after the last field (0 when there is none). */
static size_t header_end(const struct sendmail_msg *m)
{
	if (m->h.count == 0)
		return 0;
	const struct msg_field *f = &m->h.fields[m->h.count - 1];
	return f->offset + f->raw_len;
}

static int is_bcc(const struct msg_field *f)
{
	return (f->name_len == 3 && strncasecmp(f->name, "Bcc", 3) == 0) ||
	       (f->name_len == 10 && strncasecmp(f->name, "Resent-Bcc", 10) == 0);
}

/* The message as it is sent: the header without Bcc fields, the missing
 * fields, a blank line when the input had none before its body, the body. */
static int rewrite_message(const struct sendmail_msg *m, const struct buf *added,
                           struct buf *out)
{
	size_t end = header_end(m), pos = 0;
	int rc = 0;
	for (size_t i = 0; i < m->h.count && rc == 0; i++) {
		const struct msg_field *f = &m->h.fields[i];
		if (!is_bcc(f))
			continue;
		rc = buf_append(out, m->data + pos, f->offset - pos);
		pos = f->offset + f->raw_len;
	}
	if (rc == 0 && end > pos)
		rc = buf_append(out, m->data + pos, end - pos);
	if (rc == 0 && end > 0 && m->data[end - 1] != '\n')
		rc = buf_puts(out, m->eol);
	if (rc == 0)
		rc = buf_append(out, added->data, added->len);
	int no_blank = (m->h.flags & MSG_HDR_NO_BLANK) && m->h.body_offset < m->len;
	if (m->h.count == 0)
		no_blank = !(m->len && (m->data[0] == '\n' ||
		             (m->len > 1 && m->data[0] == '\r' && m->data[1] == '\n')));
	if (rc == 0 && no_blank && end < m->len)
		rc = buf_puts(out, m->eol);
	if (rc == 0 && m->len > end)
		rc = buf_append(out, m->data + end, m->len - end);
	return rc;
}

static void trace_stderr(void *arg, char dir, const char *line, size_t len)
{
	(void)arg;
	fprintf(stderr, "%c: %.*s\n", dir, (int)len, line);
}

/* One line of text from a reply (its lines joined with " "). */
static const char *reply_text(struct smtpc_reply *r)
{
	char *t = buf_cstr(&r->text);
	if (!t)
		return "";
	for (char *p = t; *p; p++)
		if (*p == '\n' || (unsigned char)*p < 0x20)
			*p = ' ';
	return t;
}

static int status_of(int code, int five)
{
	return code >= 500 ? five : EX_TEMPFAIL;
}

/* The server's answer to each recipient; the exit status. */
static int report_rcpts(struct smtpc_rcpt *rcpts, size_t n, int accepted)
{
	int status = EX_OK;
	for (size_t i = 0; i < n; i++) {
		struct smtpc_reply *r = &rcpts[i].reply;
		if (r->code >= 200 && r->code < 300)
			continue;
		fail(0, "<%s>: %d %s%s%s", rcpts[i].address, r->code, r->enhanced,
		     *r->enhanced ? " " : "", reply_text(r));
		int s = status_of(r->code, EX_NOUSER);
		if (status == EX_OK || s == EX_NOUSER)
			status = s;
	}
	if (status != EX_OK && accepted > 0)
		fail(0, "the message was sent to the other %d recipient%s", accepted,
		     accepted == 1 ? "" : "s");
	else if (status != EX_OK)
		fail(0, "the message was not sent");
	return status;
}

/* Where posthornd listens for SMTP: the first smtp listener, with a
 * wildcard address replaced by loopback; else 127.0.0.1 port 25. */
static const char *server_address(const struct posthorn_config *cfg, int *port)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_listener *l = &cfg->listeners[i];
		if (l->proto != CFG_PROTO_SMTP)
			continue;
		*port = l->port;
		if (strcmp(l->address, "0.0.0.0") == 0)
			return "127.0.0.1";
		if (strcmp(l->address, "::") == 0)
			return "::1";
		return l->address;
	}
	*port = 25;
	return "127.0.0.1";
}

/* Connects and sends. The exit status. */
static int submit(const struct posthorn_config *cfg, int verbose, const char *sender,
                  const struct rcpt_list *l, const struct buf *msg,
                  struct smtpc_params *params)
{
	struct net_options opt = {.timeout = SENDMAIL_TIMEOUT};
	struct smtpc_reply last;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	int port, status = EX_OK;
	const char *host = server_address(cfg, &port);
	if (verbose)
		opt.trace = trace_stderr;
	smtpc_reply_init(&last);
	struct smtpc_rcpt *rcpts = calloc(l->n, sizeof *rcpts);
	struct net_conn *c = rcpts ? net_connect(host, port, NET_TLS_NONE, &opt, &err, &why)
	                           : NULL;
	struct smtpc *s = c ? smtpc_start(c, cfg->hostname, &last, &err, &why) : NULL;
	if (!rcpts) {
		status = fail(EX_SOFTWARE, "out of memory");
	} else if (!c) {
		status = fail(EX_TEMPFAIL, "%s (is posthornd running?); the message was"
		              " not sent", buf_cstr(&why));
	} else if (!s) {
		status = last.code ? fail(status_of(last.code, EX_UNAVAILABLE),
		                          "posthornd at %s port %d answered %d %s",
		                          host, port, last.code, reply_text(&last))
		                   : fail(EX_TEMPFAIL, "%s", buf_cstr(&why));
	} else {
		for (size_t i = 0; i < l->n; i++) {
			rcpts[i].address = l->v[i];
			smtpc_reply_init(&rcpts[i].reply);
		}
		int n = smtpc_send_ex(s, sender, rcpts, l->n, msg->data, msg->len, params,
		                      NULL, &last, &err, &why);
		if (n < 0 && last.code)
			status = fail(status_of(last.code, EX_UNAVAILABLE), "the server refused"
			              " the message: %d %s%s%s", last.code, last.enhanced,
			              *last.enhanced ? " " : "", reply_text(&last));
		else if (n < 0)
			status = fail(err == NET_ERR_PROTOCOL ? EX_DATAERR : EX_TEMPFAIL,
			              "%s; the message was not sent", buf_cstr(&why));
		else
			status = report_rcpts(rcpts, l->n, n);
		for (size_t i = 0; i < l->n; i++)
			smtpc_reply_free(&rcpts[i].reply);
	}
	smtpc_quit(&s);
	free(rcpts);
	smtpc_reply_free(&last);
	buf_free(&why);
	return status;
}

/* The DSN parameters for every recipient, then submit. The exit status. */
static int send_message(const struct posthorn_config *cfg, const struct sendmail_opts *o,
                        const struct sendmail_msg *m, const char *sender,
                        const struct rcpt_list *l, const struct buf *out,
                        const struct sendmail_dsn *dsn)
{
	const struct sendmail_dsn d = *dsn;
	const char **notify = *d.notify ? calloc(l->n, sizeof *notify) : NULL;
	if (*d.notify && !notify)
		return fail(EX_SOFTWARE, "out of memory");
	for (size_t i = 0; notify && i < l->n; i++)
		notify[i] = d.notify;
	struct smtpc_params params = {
		.ret = *d.ret ? d.ret : NULL,
		.envid = *d.envid ? d.envid : NULL,
		.notify = notify,
		/* a UTF-8 header needs SMTPUTF8 when the server has it (RFC 6531 3.4) */
		.smtputf8 = (m->h.flags & MSG_HDR_8BIT) != 0,
	};
	int rc = submit(cfg, o->verbose, sender, l, out, &params);
	free(notify);
	return rc;
}

static const char *config_path(const struct sendmail_opts *o)
{
	const char *env = getenv("POSTHORN_CONF");
	if (o->config)
		return o->config;
	if (env && *env)
		return env;
	env = getenv("POSTHORN_CONFIG");  /* posthornctl's name for it */
	return env && *env ? env : SENDMAIL_DEFAULT_CONFIG;
}

/* Builds the message to send and its recipients. The exit status. */
static int prepare(const struct posthorn_config *cfg, const struct sendmail_opts *o,
                   struct sendmail_msg *m, struct buf *sender, struct rcpt_list *l,
                   struct buf *out)
{
	const char *domain = qualify_domain(cfg), *why = NULL;
	char login[256], gecos[256];
	struct buf added = BUF_INIT;
	who_am_i(login, sizeof login, gecos, sizeof gecos);
	int rc = envelope_sender(o, login, domain, sender);
	for (int i = 0; rc == 0 && i < o->nrcpt_args; i++)
		if (add_addresses(l, o->rcpt_args[i], strlen(o->rcpt_args[i]), domain, &why) < 0)
			rc = usage_error("bad recipient address ", o->rcpt_args[i]);
	if (rc == 0 && msg_header_parse(m->data, m->len, SENDMAIL_HEADER_FIELDS, &m->h) < 0)
		rc = fail(EX_SOFTWARE, "out of memory");
	if (rc == 0 && o->from_headers)
		rc = rcpts_from_header(m, domain, l);
	if (rc == 0 && l->n == 0)
		rc = usage_error(o->from_headers ? "no recipients: none given and none in"
		                 " To, Cc or Bcc" : "no recipients given (or use -t)", NULL);
	struct buf from = BUF_INIT;
	if (rc == 0 && (sender->len ? buf_append(&from, sender->data, sender->len)
	                            : buf_printf(&from, "%s@%s", login, domain)) < 0)
		rc = fail(EX_SOFTWARE, "out of memory");
	if (rc == 0 && (!buf_cstr(&from) ||
	                missing_fields(m, o, from.data, gecos, cfg, &added) < 0 ||
	                rewrite_message(m, &added, out) < 0))
		rc = fail(EX_SOFTWARE, "out of memory");
	buf_free(&from);
	buf_free(&added);
	return rc;
}

/* Drops a leading mbox "From " line (some programs write one). */
static void skip_mbox_line(struct sendmail_msg *m)
{
	if (m->len < 5 || memcmp(m->data, "From ", 5) != 0)
		return;
	const char *nl = memchr(m->data, '\n', m->len);
	size_t skip = nl ? (size_t)(nl - m->data) + 1 : m->len;
	m->data += skip;
	m->len -= skip;
}

int main(int argc, char **argv)
{
	struct sendmail_opts o = {0};
	struct posthorn_config cfg;
	struct buf input, out = BUF_INIT, sender = BUF_INIT, err = BUF_INIT;
	struct rcpt_list l = {0};
	struct sendmail_msg m = {0};
	struct sendmail_dsn dsn;
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc < 0 ? EX_OK : rc;
	if ((rc = dsn_options(&o, &dsn)))
		return rc;
	if (config_load(config_path(&o), &cfg, &err) < 0) {
		rc = fail(EX_CONFIG, "%s", err.len ? buf_cstr(&err) : config_path(&o));
		buf_free(&err);
		return rc;
	}
	buf_init(&input, SENDMAIL_INPUT_MAX);
	rc = read_message(o.ignore_dots, &input);
	m.data = input.data;
	m.len = input.len;
	skip_mbox_line(&m);
	const char *nl = m.len ? memchr(m.data, '\n', m.len) : NULL;
	m.eol = nl && nl > m.data && nl[-1] == '\r' ? "\r\n" : "\n";
	if (rc == 0 && m.len == 0)
		rc = fail(EX_NOINPUT, "no message on standard input: nothing sent");
	if (rc == 0)
		rc = prepare(&cfg, &o, &m, &sender, &l, &out);
	if (rc == 0)
		rc = send_message(&cfg, &o, &m, buf_cstr(&sender), &l, &out, &dsn);
	msg_header_free(&m.h);
	rcpt_list_free(&l);
	buf_free(&input);
	buf_free(&out);
	buf_free(&sender);
	config_free(&cfg);
	return rc;
}
