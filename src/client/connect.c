/* connect: reaching an account's servers, and saying clearly why not. */
#include "connect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int client_account(struct account_config *cfg, const char *name,
                   const struct account **a)
{
	struct buf path = BUF_INIT, why = BUF_INIT;
	int exists = 0, rc = EXIT_CONFIG;
	memset(cfg, 0, sizeof *cfg);
	*a = NULL;
	if (account_config_path(client_globals.config, &path) < 0) {
		fprintf(stderr, "posthorn: cannot find the config file: set HOME, "
		        "or give --config FILE\n");
		goto out;
	}
	if (account_config_load(buf_cstr(&path), cfg, &exists, &why) < 0) {
		fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		goto out;
	}
	*a = account_find(cfg, name ? name : client_globals.account, &why);
	if (!*a) {
		fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		goto out;
	}
	rc = 0;
out:
	buf_free(&path);
	buf_free(&why);
	return rc;
}

/* Each class of failure with the exit status and what to try next. */
static const struct {
	enum net_err err;
	int status;
	const char *hint;
} net_hints[] = {
	{NET_ERR_DNS, EXIT_DNS, "check the host name in the account "
	 "(smtp_host/pop3_host) and that this machine can resolve names"},
	{NET_ERR_REFUSED, EXIT_REFUSED, "nothing listens there: check the port "
	 "(smtp_port/pop3_port) and that the server is running"},
	{NET_ERR_TIMEOUT, EXIT_TIMEOUT, "the server did not answer in time: "
	 "check the host and port, the TLS mode (a TLS port such as 465 or 995 "
	 "needs smtp_tls/pop3_tls = tls), a firewall, or raise 'timeout'"},
	{NET_ERR_TLS_VERIFY, EXIT_TLS_VERIFY, "to trust this server, add "
	 "'ca_file = /path/to/ca-or-server-cert.pem' to the account (for a "
	 "self-signed server, its certificate file)"},
	{NET_ERR_TLS, EXIT_TLS, "check the TLS mode (smtp_tls/pop3_tls: "
	 "starttls, tls or none) against the port"},
	{NET_ERR_UNREACHABLE, EXIT_NETWORK, "check the network connection"},
	{NET_ERR_CLOSED, EXIT_NETWORK, "the server hung up: try again, or "
	 "run with --trace to see where"},
	{NET_ERR_IO, EXIT_NETWORK, "try again, or run with --trace to see where"},
	{NET_ERR_PROTOCOL, EXIT_SERVER, "the server answered something that is "
	 "not the protocol: check the port and TLS mode, or run with --trace"},
	{NET_ERR_MEMORY, EXIT_LOCAL, "out of memory"},
};

int client_net_fail(enum net_err err, const char *what, const char *why)
{
	for (size_t i = 0; i < sizeof net_hints / sizeof net_hints[0]; i++) {
		if (net_hints[i].err != err)
			continue;
		fprintf(stderr, "posthorn: %s: %s\n", what,
		        why && *why ? why : net_err_name(err));
		fprintf(stderr, "posthorn: %s\n", net_hints[i].hint);
		return net_hints[i].status;
	}
	fprintf(stderr, "posthorn: %s: %s\n", what, why && *why ? why : "failed");
	return EXIT_NETWORK;
}

int client_smtp_exit(const struct smtpc_reply *r)
{
	const char *e = r->enhanced;
	const char *text = r->text.data ? buf_cstr((struct buf *)&r->text) : "";
	if (r->code == 535 || r->code == 534 || !strcmp(e, "5.7.8"))
		return EXIT_LOGIN;
	if (!strcmp(e, "5.2.2") || !strcmp(e, "4.2.2"))
		return EXIT_FULL;
	if (!strcmp(e, "5.3.4") || !strcmp(e, "5.2.3") ||
	    (r->code == 552 && strcasestr(text, "too big")))
		return EXIT_TOO_BIG;
	if (!strcmp(e, "5.7.1") && strcasestr(text, "relay"))
		return EXIT_RELAY;
	if (strcasestr(text, "relay") && r->code >= 550)
		return EXIT_RELAY;
	if (!strcmp(e, "5.1.1") || !strcmp(e, "5.1.0") || !strcmp(e, "5.1.6") ||
	    (r->code == 550 && (strcasestr(text, "unknown") ||
	                        strcasestr(text, "no such"))))
		return EXIT_RECIPIENT;
	if (r->code == 552 && !*e)
		return EXIT_FULL;
	if (r->code >= 400 && r->code < 500)
		return EXIT_TEMP;
	return EXIT_SERVER;
}

/* The password asked once per run: account test and anything else that
 * opens both servers must not prompt twice. Wiped at exit. */
static struct buf client_pw_cache;
static char client_pw_account[128];

static void client_pw_wipe(void)
{
	if (client_pw_cache.data)
		explicit_bzero(client_pw_cache.data, client_pw_cache.cap);
	buf_free(&client_pw_cache);
}

/* The account's password into out, prompting as "user@host". 0 or
 * EXIT_CONFIG after printing why. */
static int client_password(const struct account *a,
                           const struct account_server *srv, struct buf *out)
{
	struct buf why = BUF_INIT, what = BUF_INIT;
	int rc = 0;
	if (client_pw_cache.len && !strcmp(client_pw_account, a->name))
		return buf_append(out, client_pw_cache.data, client_pw_cache.len) < 0
		       ? EXIT_LOCAL : 0;
	buf_printf(&what, "%s@%s", srv->user, srv->host);
	if (account_password(a, buf_cstr(&what), out, &why) < 0) {
		fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		rc = EXIT_CONFIG;
	} else {
		static int registered;
		if (!registered && atexit(client_pw_wipe) == 0)
			registered = 1;
		client_pw_wipe();
		snprintf(client_pw_account, sizeof client_pw_account, "%s", a->name);
		buf_append(&client_pw_cache, out->data ? out->data : "", out->len);
	}
	buf_free(&why);
	buf_free(&what);
	return rc;
}

static void client_trace(void *arg, char dir, const char *line, size_t len)
{
	(void)arg;
	struct buf safe = BUF_INIT;
	if (util_term_safe(line, len, 1, &safe) == 0)
		fprintf(stderr, "%c: %s\n", dir, buf_cstr(&safe));
	buf_free(&safe);
}

static void client_net_options(const struct account *a, struct net_options *o)
{
	memset(o, 0, sizeof *o);
	o->timeout = a->timeout;
	o->ca_file = a->ca_file;
	if (client_globals.trace)
		o->trace = client_trace;
}

/* "SMTP server host:port" for messages. */
static void client_server_name(const char *proto,
                               const struct account_server *srv,
                               char *out, size_t n)
{
	snprintf(out, n, "%s server %s:%d", proto, srv->host, srv->port);
}

/* The common part: a configured server, the TLS mode, a connection. */
static int client_connect(const struct account *a, const char *proto,
                          const struct account_server *srv,
                          struct net_conn **c, char *what, size_t whatlen)
{
	struct net_options o;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	client_server_name(proto, srv, what, whatlen);
	if (!srv->host || !*srv->host) {
		fprintf(stderr, "posthorn: account '%s' has no %s server: add "
		        "%s_host to it in the config\n", a->name, proto,
		        !strcmp(proto, "SMTP") ? "smtp" : "pop3");
		return EXIT_CONFIG;
	}
	if (a->ca_file && access(a->ca_file, R_OK) != 0) {
		fprintf(stderr, "posthorn: account '%s': ca_file %s cannot be read: "
		        "%s\n", a->name, a->ca_file, strerror(errno));
		return EXIT_CONFIG;
	}
	client_net_options(a, &o);
	*c = net_connect(srv->host, srv->port,
	                 srv->tls == ACCOUNT_TLS_IMPLICIT ? NET_TLS_IMPLICIT
	                                                  : NET_TLS_NONE,
	                 &o, &err, &why);
	int rc = 0;
	if (!*c)
		rc = client_net_fail(err, what, buf_cstr(&why));
	buf_free(&why);
	return rc;
}

/* Reports a refusing SMTP reply (or the net error behind a missing one). */
static int client_smtp_fail(const char *what, const char *doing,
                            const struct smtpc_reply *r, enum net_err err,
                            struct buf *why)
{
	if (r->code == 0)
		return client_net_fail(err ? err : NET_ERR_PROTOCOL, what,
		                       buf_cstr(why));
	struct buf text = BUF_INIT;
	util_term_safe(r->text.data ? r->text.data : "", r->text.len, 1, &text);
	fprintf(stderr, "posthorn: %s refused %s: %d %s%s%s\n", what, doing,
	        r->code, r->enhanced, *r->enhanced ? " " : "", buf_cstr(&text));
	buf_free(&text);
	return client_smtp_exit(r);
}

static int client_smtp_login(const struct account *a, struct smtpc *s,
                             const char *what)
{
	struct buf pw = BUF_INIT, why = BUF_INIT;
	struct smtpc_reply r;
	enum net_err err = NET_OK;
	int rc = 0;
	smtpc_reply_init(&r);
	if ((rc = client_password(a, &a->smtp, &pw)) != 0) {
		/* printed */
	} else if (smtpc_auth(s, a->smtp.user, buf_cstr(&pw), &r, &err,
	                      &why) < 0) {
		if (r.code == 0 && err == NET_OK) {
			fprintf(stderr, "posthorn: %s: %s\n", what, buf_cstr(&why));
			rc = EXIT_SERVER;
		} else if (r.code == 538 || (r.code == 530 &&
		           strstr(r.enhanced, "5.7.0") && !net_is_tls(smtpc_conn(s)))) {
			rc = client_smtp_fail(what, "the login", &r, err, &why);
			fprintf(stderr, "posthorn: the server wants TLS before the "
			        "login: set smtp_tls = starttls or tls\n");
			rc = EXIT_TLS;
		} else {
			rc = client_smtp_fail(what, "the login", &r, err, &why);
			if (rc == EXIT_LOGIN)
				fprintf(stderr, "posthorn: check smtp_user ('%s') and "
				        "the password of account '%s'\n",
				        a->smtp.user, a->name);
		}
	}
	if (pw.data)
		explicit_bzero(pw.data, pw.cap);
	buf_free(&pw);
	buf_free(&why);
	smtpc_reply_free(&r);
	return rc;
}

int client_smtp_open(const struct account *a, struct smtpc **s)
{
	char what[300], host[256] = "localhost";
	struct net_conn *c = NULL;
	struct smtpc_reply r;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	*s = NULL;
	int rc = client_connect(a, "SMTP", &a->smtp, &c, what, sizeof what);
	if (rc)
		return rc;
	if (gethostname(host, sizeof host - 1) < 0 || !*host)
		strcpy(host, "localhost");
	smtpc_reply_init(&r);
	*s = smtpc_start(c, host, &r, &err, &why);
	if (!*s) {
		rc = client_smtp_fail(what, "the connection", &r, err, &why);
		goto out;
	}
	if (a->smtp.tls == ACCOUNT_TLS_STARTTLS) {
		if (!smtpc_ext(*s)->starttls) {
			fprintf(stderr, "posthorn: %s does not offer STARTTLS; not "
			        "sending the password in the clear (use smtp_tls = "
			        "tls with port 465, or none if you must)\n", what);
			rc = EXIT_TLS;
			goto out;
		}
		if (smtpc_starttls(*s, &r, &err, &why) < 0) {
			rc = r.code ? client_smtp_fail(what, "STARTTLS", &r, err, &why)
			            : client_net_fail(err, what, buf_cstr(&why));
			if (r.code)
				rc = EXIT_TLS;
			goto out;
		}
	}
	if (a->smtp.user && *a->smtp.user)
		rc = client_smtp_login(a, *s, what);
out:
	if (rc && *s)
		smtpc_quit(s);
	smtpc_reply_free(&r);
	buf_free(&why);
	return rc;
}

/* The exit status for a POP3 -ERR: RFC 2449/3206 response codes first. */
static int client_pop3_fail(const char *what, const char *doing,
                            const struct pop3c_error *e, enum net_err err,
                            struct buf *why)
{
	if (err != NET_OK && err != NET_ERR_PROTOCOL)
		return client_net_fail(err, what, buf_cstr(why));
	struct buf text = BUF_INIT;
	util_term_safe(e->text.data ? e->text.data : "", e->text.len, 1, &text);
	if (!text.len && why->len)
		buf_puts(&text, buf_cstr(why));
	fprintf(stderr, "posthorn: %s refused %s: %s%s%s%s\n", what, doing,
	        *e->code ? "[" : "", e->code, *e->code ? "] " : "",
	        buf_cstr(&text));
	buf_free(&text);
	if (!strcmp(e->code, "IN-USE")) {
		fprintf(stderr, "posthorn: another program is reading this mailbox "
		        "(a mail client left open?); try again when it is done\n");
		return EXIT_LOCKED;
	}
	if (!strcmp(e->code, "SYS/TEMP") || !strcmp(e->code, "LOGIN-DELAY"))
		return EXIT_TEMP;
	return EXIT_SERVER;
}

int client_pop3_open(const struct account *a, struct pop3c **p)
{
	char what[300];
	struct net_conn *c = NULL;
	struct pop3c_error e;
	struct buf why = BUF_INIT, pw = BUF_INIT;
	enum net_err err = NET_OK;
	*p = NULL;
	int rc = client_connect(a, "POP3", &a->pop3, &c, what, sizeof what);
	if (rc)
		return rc;
	pop3c_error_init(&e);
	*p = pop3c_start(c, &e, &err, &why);
	if (!*p) {
		rc = client_pop3_fail(what, "the connection", &e, err, &why);
		goto out;
	}
	if (a->pop3.tls == ACCOUNT_TLS_STARTTLS) {
		if (!pop3c_caps(*p)->stls) {
			fprintf(stderr, "posthorn: %s does not offer STLS; not sending "
			        "the password in the clear (use pop3_tls = tls with "
			        "port 995, or none if you must)\n", what);
			rc = EXIT_TLS;
			goto out;
		}
		if (pop3c_stls(*p, &e, &err, &why) < 0) {
			rc = client_pop3_fail(what, "STLS", &e, err, &why);
			if (err == NET_OK || err == NET_ERR_PROTOCOL)
				rc = EXIT_TLS;
			goto out;
		}
	}
	if ((rc = client_password(a, &a->pop3, &pw)) != 0)
		goto out;
	if (pop3c_login(*p, a->pop3.user, buf_cstr(&pw), &e, &err, &why) < 0) {
		rc = client_pop3_fail(what, "the login", &e, err, &why);
		if (rc == EXIT_SERVER) {
			fprintf(stderr, "posthorn: check pop3_user ('%s') and the "
			        "password of account '%s'\n", a->pop3.user, a->name);
			rc = EXIT_LOGIN;
		}
	}
out:
	if (rc && *p)
		pop3c_abort(p);
	if (pw.data)
		explicit_bzero(pw.data, pw.cap);
	buf_free(&pw);
	buf_free(&why);
	pop3c_error_free(&e);
	return rc;
}
