/* cmd_account: `posthorn account add|list|test|remove`: keeping the
 * accounts of the config file, and checking that an account's servers
 * answer, speak TLS and accept the login. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "connect.h"
#include "util.h"

static const char account_usage[] =
	"usage: posthorn account add|list|test|remove ...\n"
	"\n"
	"  account add [--name N --address A ...]  add an account (asks on a\n"
	"                                 terminal for what is missing)\n"
	"  account list                   the accounts; * marks the default\n"
	"  account test [NAME]            connect to both servers, check TLS\n"
	"                                 and the login\n"
	"  account remove NAME            forget an account (its mail is kept)\n"
	"\n"
	"'posthorn account SUBCOMMAND --help' describes each. The accounts live\n"
	"in the config file (--config, $POSTHORN_CONFIG, else\n"
	"$XDG_CONFIG_HOME/posthorn/config or ~/.config/posthorn/config).\n";

static const char account_add_usage[] =
	"usage: posthorn account add [options]\n"
	"\n"
	"Adds an account to the config file. On a terminal it asks for a\n"
	"missing name, address and server; otherwise those options are needed.\n"
	"The first account becomes the default. Comments in the config file\n"
	"are not kept when it is rewritten.\n"
	"\n"
	"  --name N               the account's name (letters, digits, . _ -)\n"
	"  --address A            your address, alice@example.org\n"
	"  --display-name D       your name as it appears in From\n"
	"  --smtp-host H          the submission server\n"
	"  --smtp-port P          default 587, or 465 with --smtp-tls tls\n"
	"  --smtp-tls MODE        starttls (default), tls or none\n"
	"  --smtp-user U          login name (default: the address; \"\" = none)\n"
	"  --pop3-host H          the POP3 server\n"
	"  --pop3-port P          default 995 with tls, else 110\n"
	"  --pop3-tls MODE        tls (default), starttls or none\n"
	"  --pop3-user U          login name (default: the SMTP login)\n"
	"  --mail-dir DIR         local Maildir++ folders (default ~/Mail/NAME)\n"
	"  --keep yes|no          leave fetched mail on the server (default yes)\n"
	"  --password-cmd CMD     prints the password (e.g. 'pass show mail')\n"
	"  --password-env VAR     or the environment variable holding it\n"
	"  --ca-file F            also trust this CA or self-signed certificate\n"
	"  --default              make it the default account\n"
	"  --help                 this text\n"
	"\n"
	"Without --password-cmd or --password-env the password is taken from\n"
	"$POSTHORN_PASSWORD or asked on the terminal. It is never stored.\n";

static const char account_list_usage[] =
	"usage: posthorn account list\n"
	"\n"
	"One line per account: name, address, the SMTP and POP3 servers with\n"
	"their TLS mode. * marks the default account.\n";

static const char account_test_usage[] =
	"usage: posthorn account test [NAME]\n"
	"\n"
	"Connects to the account's SMTP and POP3 servers (NAME, else --account,\n"
	"else the default) and reports each step: the connection, TLS (protocol\n"
	"and cipher), the login, the server's size limit and the messages\n"
	"waiting. Exits with the status of the first failure (see\n"
	"doc/client.md), 0 when both servers work. --trace shows the dialogue.\n";

static const char account_remove_usage[] =
	"usage: posthorn account remove NAME\n"
	"\n"
	"Removes the account from the config file. Its mail directory is kept.\n";

/* Prints usage for --help (stdout, 0) or a usage error (stderr, 2). */
static int account_help(int r, const char *usage)
{
	if (r == 1) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "%.*s\n", (int)strcspn(usage, "\n"), usage);
	return EXIT_USAGE;
}

/* Loads the config of --config. EXIT_OK, or EXIT_CONFIG after saying why.
 * Free cfg in both cases. */
static int account_load(struct account_config *cfg, int *exists)
{
	struct buf path = BUF_INIT, why = BUF_INIT;
	int rc = EXIT_OK;
	memset(cfg, 0, sizeof *cfg);
	if (account_config_path(client_globals.config, &path) < 0) {
		fprintf(stderr, "posthorn: cannot find the config file: set HOME, "
		        "or give --config FILE\n");
		rc = EXIT_CONFIG;
	} else if (account_config_load(buf_cstr(&path), cfg, exists, &why) < 0) {
		fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		fprintf(stderr, "posthorn: fix the config file, then try again\n");
		rc = EXIT_CONFIG;
	}
	buf_free(&path);
	buf_free(&why);
	return rc;
}

static int account_save(const struct account_config *cfg)
{
	struct buf why = BUF_INIT;
	int rc = EXIT_OK;
	if (account_config_save(cfg, &why) < 0) {
		fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		rc = EXIT_CONFIG;
	}
	buf_free(&why);
	return rc;
}

/* --- add --- */

/* The options of `account add` that are keys of the file. */
static const struct {
	const char *option;
	const char *key;
} account_add_keys[] = {
	{"--address", "address"},       {"--display-name", "name"},
	{"--smtp-host", "smtp_host"},   {"--smtp-port", "smtp_port"},
	{"--smtp-tls", "smtp_tls"},     {"--smtp-user", "smtp_user"},
	{"--pop3-host", "pop3_host"},   {"--pop3-port", "pop3_port"},
	{"--pop3-tls", "pop3_tls"},     {"--pop3-user", "pop3_user"},
	{"--mail-dir", "mail_dir"},     {"--keep", "keep"},
	{"--password-cmd", "password_cmd"},
	{"--password-env", "password_env"},
	{"--ca-file", "ca_file"},
};
#define ACCOUNT_ADD_NKEYS (sizeof account_add_keys / sizeof account_add_keys[0])
enum { ADD_ADDRESS = 0, ADD_SMTP_HOST = 2, ADD_POP3_HOST = 6 };

/* Asks on the terminal; an empty answer takes suggestion (when not NULL).
 * 0 with the answer in out (reset first), -1 at end of input. */
static int account_ask(const char *question, const char *suggestion,
                       struct buf *out)
{
	char line[1024];
	for (;;) {
		if (suggestion)
			fprintf(stderr, "%s [%s]: ", question, suggestion);
		else
			fprintf(stderr, "%s: ", question);
		fflush(stderr);
		if (!fgets(line, sizeof line, stdin)) {
			fputc('\n', stderr);
			return -1;
		}
		size_t n = strcspn(line, "\r\n");
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		size_t start = strspn(line, " \t");
		buf_reset(out);
		if (start < n) {
			if (buf_append(out, line + start, n - start) < 0)
				return -1;
		} else if (suggestion) {
			if (buf_puts(out, suggestion) < 0)
				return -1;
		} else {
			continue;
		}
		buf_cstr(out);
		return 0;
	}
}

/* The questions ended early (end of input): say so, as a usage error. */
static int account_add_cancelled(void)
{
	fprintf(stderr, "posthorn account add: cancelled, nothing added\n");
	return EXIT_USAGE;
}

/* The answers to the questions, owned here while add runs. */
struct account_answers {
	struct buf name, address, smtp_host, pop3_host;
};

/* Fills what the options left out: asked on a terminal, else an error
 * naming the option. EXIT_OK or EXIT_USAGE. */
static int account_add_missing(const char **name, const char **values,
                               struct account_config *cfg,
                               struct account_answers *ans)
{
	int tty = isatty(STDIN_FILENO);
	const char *missing = !*name ? "--name"
	                      : !values[ADD_ADDRESS] ? "--address"
	                      : !values[ADD_SMTP_HOST] ? "--smtp-host"
	                      : !values[ADD_POP3_HOST] ? "--pop3-host" : NULL;
	if (missing && !tty) {
		fprintf(stderr, "posthorn account add: missing %s (or run it on a "
		        "terminal to be asked)\n", missing);
		return EXIT_USAGE;
	}
	while (!*name) {
		if (account_ask("Account name (e.g. work)", NULL, &ans->name) < 0)
			return account_add_cancelled();
		if (!account_name_valid(ans->name.data))
			fprintf(stderr, "  a name is 1 to 64 letters, digits, '.', '_' "
			        "or '-'\n");
		else if (account_config_find(cfg, ans->name.data))
			fprintf(stderr, "  there is already an account '%s'\n",
			        ans->name.data);
		else
			*name = ans->name.data;
	}
	while (!values[ADD_ADDRESS]) {
		if (account_ask("Your address", NULL, &ans->address) < 0)
			return account_add_cancelled();
		if (!strchr(ans->address.data, '@'))
			fprintf(stderr, "  an address looks like alice@example.org\n");
		else
			values[ADD_ADDRESS] = ans->address.data;
	}
	const char *at = strrchr(values[ADD_ADDRESS], '@');
	struct buf guess = BUF_INIT;
	int r = 0;
	if (!values[ADD_SMTP_HOST]) {
		r = buf_printf(&guess, "mail.%s", at ? at + 1 : "example.org");
		r = r < 0 ? r : account_ask("SMTP server (sending)", buf_cstr(&guess),
		                            &ans->smtp_host);
		values[ADD_SMTP_HOST] = ans->smtp_host.data;
	}
	if (r == 0 && !values[ADD_POP3_HOST]) {
		r = account_ask("POP3 server (receiving)", values[ADD_SMTP_HOST],
		                &ans->pop3_host);
		values[ADD_POP3_HOST] = ans->pop3_host.data;
	}
	buf_free(&guess);
	return r < 0 ? account_add_cancelled() : EXIT_OK;
}

/* Builds the account from the options. EXIT_OK or a status after saying
 * why. */
static int account_add_build(struct account *a, const char *name,
                             const char **values)
{
	struct buf why = BUF_INIT;
	int rc = EXIT_OK;
	account_init(a);
	if (!(a->name = strdup(name))) {
		fprintf(stderr, "posthorn: out of memory\n");
		return EXIT_LOCAL;
	}
	for (size_t i = 0; i < ACCOUNT_ADD_NKEYS && rc == EXIT_OK; i++) {
		if (!values[i])
			continue;
		if (account_set(a, account_add_keys[i].key, values[i], NULL,
		                &why) < 0) {
			fprintf(stderr, "posthorn account add: %s: %s\n",
			        account_add_keys[i].option, buf_cstr(&why));
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK && account_complete(a, &why) < 0) {
		fprintf(stderr, "posthorn account add: %s\n", buf_cstr(&why));
		rc = EXIT_CONFIG;
	}
	if (rc == EXIT_OK && a->ca_file && access(a->ca_file, R_OK) < 0)
		fprintf(stderr, "posthorn: warning: cannot read the CA file %s "
		        "yet\n", a->ca_file);
	buf_free(&why);
	return rc;
}

static int account_add_save(struct account_config *cfg, struct account *a,
                            int make_default)
{
	char *name = strdup(a->name);
	if (!name) {
		fprintf(stderr, "posthorn: out of memory\n");
		return EXIT_LOCAL;
	}
	if (make_default || (cfg->n == 0 && !cfg->default_name)) {
		free(cfg->default_name);
		cfg->default_name = name;
		name = NULL;
	}
	free(name);
	if (account_config_add(cfg, a) < 0) {
		fprintf(stderr, "posthorn: out of memory\n");
		return EXIT_LOCAL;
	}
	return account_save(cfg);
}

static int account_add(int argc, char **argv)
{
	const char *name = NULL, *values[ACCOUNT_ADD_NKEYS] = {0};
	int make_default = 0, exists = 0;
	struct util_opt opts[ACCOUNT_ADD_NKEYS + 2];
	for (size_t i = 0; i < ACCOUNT_ADD_NKEYS; i++)
		opts[i] = (struct util_opt){account_add_keys[i].option, &values[i],
		                            NULL};
	opts[ACCOUNT_ADD_NKEYS] = (struct util_opt){"--name", &name, NULL};
	opts[ACCOUNT_ADD_NKEYS + 1] = (struct util_opt){"--default", NULL,
	                                                &make_default};
	size_t npos;
	int r = util_parse_args(argc, argv, opts, ACCOUNT_ADD_NKEYS + 2, NULL, 0,
	                        &npos);
	if (r != 0)
		return account_help(r, account_add_usage);
	if (name && !account_name_valid(name)) {
		fprintf(stderr, "posthorn account add: bad name '%s': 1 to 64 "
		        "letters, digits, '.', '_' or '-', starting with a letter "
		        "or digit\n", name);
		return EXIT_USAGE;
	}
	struct account_config cfg;
	struct account_answers ans = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
	struct account a;
	account_init(&a);
	int rc = account_load(&cfg, &exists);
	if (rc == EXIT_OK && name && account_config_find(&cfg, name)) {
		fprintf(stderr, "posthorn account add: there is already an account "
		        "'%s' in %s ('posthorn account remove %s' first to replace "
		        "it)\n", name, cfg.path, name);
		rc = EXIT_USAGE;
	}
	if (rc == EXIT_OK)
		rc = account_add_missing(&name, values, &cfg, &ans);
	if (rc == EXIT_OK)
		rc = account_add_build(&a, name, values);
	if (rc == EXIT_OK)
		rc = account_add_save(&cfg, &a, make_default);
	if (rc == EXIT_OK) {
		const struct account *added = account_config_find(&cfg, name);
		printf("added account %s (%s); test it with 'posthorn account test "
		       "%s'\n", added->name, added->address, added->name);
		if (!added->password_cmd && !added->password_env)
			printf("the password will be taken from $POSTHORN_PASSWORD or "
			       "asked on the terminal (--password-cmd or --password-env "
			       "set another way)\n");
	}
	account_free(&a);
	account_config_free(&cfg);
	buf_free(&ans.name);
	buf_free(&ans.address);
	buf_free(&ans.smtp_host);
	buf_free(&ans.pop3_host);
	return rc;
}

/* --- list, remove --- */

static int account_put_server(struct buf *out, const char *proto,
                              const struct account_server *s)
{
	if (!s->host)
		return buf_printf(out, "  %s -", proto);
	return buf_printf(out, "  %s %s:%d %s", proto, s->host, s->port,
	                  account_tls_name(s->tls));
}

static int account_list(int argc, char **argv)
{
	size_t npos;
	int exists, r = util_parse_args(argc, argv, NULL, 0, NULL, 0, &npos);
	if (r != 0)
		return account_help(r, account_list_usage);
	struct account_config cfg;
	struct buf out = BUF_INIT;
	int rc = account_load(&cfg, &exists);
	if (rc == EXIT_OK && cfg.n == 0)
		fprintf(stderr, "posthorn: no accounts yet in %s: 'posthorn account "
		        "add' creates one\n", cfg.path);
	size_t wname = 0, waddr = 0;
	for (size_t i = 0; rc == EXIT_OK && i < cfg.n; i++) {
		size_t n = strlen(cfg.accounts[i].name);
		size_t m = util_display_width(cfg.accounts[i].address,
		                              strlen(cfg.accounts[i].address));
		wname = n > wname ? n : wname;
		waddr = m > waddr ? m : waddr;
	}
	const char *def = cfg.default_name ? cfg.default_name
	                  : cfg.n ? cfg.accounts[0].name : "";
	for (size_t i = 0; rc == EXIT_OK && i < cfg.n; i++) {
		const struct account *a = &cfg.accounts[i];
		size_t pad = waddr - util_display_width(a->address,
		                                        strlen(a->address));
		r = buf_printf(&out, "%c %-*s  %s%*s", strcmp(a->name, def) ? ' '
		               : '*', (int)wname, a->name, a->address, (int)pad, "");
		r |= account_put_server(&out, "smtp", &a->smtp);
		r |= account_put_server(&out, "pop3", &a->pop3);
		r |= buf_putc(&out, '\n');
		if (r < 0) {
			fprintf(stderr, "posthorn: out of memory\n");
			rc = EXIT_LOCAL;
		}
	}
	if (rc == EXIT_OK && util_write_stdout(&out) < 0)
		rc = EXIT_PARTIAL;
	buf_free(&out);
	account_config_free(&cfg);
	return rc;
}

static int account_remove(int argc, char **argv)
{
	char *pos[1];
	size_t npos;
	int exists, r = util_parse_args(argc, argv, NULL, 0, pos, 1, &npos);
	if (r == 0 && npos != 1) {
		fprintf(stderr, "posthorn account remove: which account? Give its "
		        "name\n");
		r = -1;
	}
	if (r != 0)
		return account_help(r, account_remove_usage);
	struct account_config cfg;
	int rc = account_load(&cfg, &exists);
	struct account *a = rc == EXIT_OK ? account_config_find(&cfg, pos[0])
	                                  : NULL;
	if (rc == EXIT_OK && !a) {
		fprintf(stderr, "posthorn: no account '%s' in %s; 'posthorn account "
		        "list' shows them\n", pos[0], cfg.path);
		rc = EXIT_CONFIG;
	}
	char *dir = a ? strdup(a->mail_dir) : NULL;
	if (a && !dir) {
		fprintf(stderr, "posthorn: out of memory\n");
		rc = EXIT_LOCAL;
	}
	if (rc == EXIT_OK) {
		account_config_remove(&cfg, pos[0]);
		rc = account_save(&cfg);
	}
	if (rc == EXIT_OK) {
		printf("removed account %s; its mail in %s is kept\n", pos[0], dir);
		if (!cfg.default_name && cfg.n > 0)
			printf("the default account is now %s\n", cfg.accounts[0].name);
	}
	free(dir);
	account_config_free(&cfg);
	return rc;
}

/* --- test --- */

/* "25 MB", "12.3 KB", "512 bytes". */
static void account_size(unsigned long long n, char *out, size_t len)
{
	const unsigned long long mib = 1024 * 1024;
	if (n >= mib && n % mib == 0)
		snprintf(out, len, "%llu MB", n / mib);
	else if (n >= mib)
		snprintf(out, len, "%.1f MB", (double)n / (double)mib);
	else if (n >= 1024)
		snprintf(out, len, "%.1f KB", (double)n / 1024.0);
	else
		snprintf(out, len, "%llu byte%s", n, n == 1 ? "" : "s");
}

/* One step's line on stdout, flushed so it stays in order with stderr. */
static void account_step(const char *proto, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void account_step(const char *proto, const char *fmt, ...)
{
	va_list ap;
	printf("%s: ", proto);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void account_tls_step(const char *proto, struct net_conn *c,
                             const char *key)
{
	if (net_is_tls(c))
		account_step(proto, "TLS %s, certificate verified", net_tls_desc(c));
	else
		account_step(proto, "no TLS (%s = none): the login and the mail "
		             "travel in the clear", key);
}

static int account_test_smtp(const struct account *a)
{
	struct smtpc *s = NULL;
	char size[64];
	int rc = client_smtp_open(a, &s);
	if (rc != EXIT_OK) {
		account_step("smtp", "FAILED (see above)");
		return rc;
	}
	const struct smtpc_ext *x = smtpc_ext(s);
	account_step("smtp", "connected to %s:%d", a->smtp.host, a->smtp.port);
	account_tls_step("smtp", smtpc_conn(s), "smtp_tls");
	if (*a->smtp.user)
		account_step("smtp", "logged in as %s", a->smtp.user);
	else
		account_step("smtp", "no login (smtp_user is empty)");
	account_step("smtp", "extensions:%s%s%s%s%s%s%s",
	             x->pipelining ? " PIPELINING" : "",
	             x->eightbitmime ? " 8BITMIME" : "",
	             x->smtputf8 ? " SMTPUTF8" : "",
	             x->chunking ? " CHUNKING" : "",
	             x->enhanced ? " ENHANCEDSTATUSCODES" : "",
	             x->auth_plain ? " AUTH-PLAIN" : "",
	             x->auth_login ? " AUTH-LOGIN" : "");
	if (x->size) {
		account_size(x->size, size, sizeof size);
		account_step("smtp", "size limit %s (%llu bytes)", size, x->size);
	} else {
		account_step("smtp", "no size limit announced");
	}
	smtpc_quit(&s);
	return EXIT_OK;
}

/* LIST on an open session: how much mail waits, and whether UIDL works. */
static int account_test_list(const struct account *a, struct pop3c *p)
{
	struct pop3c_msg *msgs = NULL;
	struct pop3c_error e;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	size_t n = 0;
	char size[64], what[300];
	int rc = EXIT_OK;
	pop3c_error_init(&e);
	snprintf(what, sizeof what, "POP3 server %s:%d", a->pop3.host,
	         a->pop3.port);
	if (pop3c_list(p, &msgs, &n, &e, &err, &why) < 0) {
		if (err != NET_OK)
			rc = client_net_fail(err, what, buf_cstr(&why));
		else {
			fprintf(stderr, "posthorn: %s: LIST refused: %s\n", what,
			        buf_cstr(&e.text));
			rc = EXIT_SERVER;
		}
		account_step("pop3", "FAILED (see above)");
	} else {
		unsigned long long total = 0;
		for (size_t i = 0; i < n; i++)
			total += msgs[i].size;
		account_size(total, size, sizeof size);
		account_step("pop3", "%zu message%s on the server (%s)", n,
		             n == 1 ? "" : "s", size);
		const struct pop3c_caps *caps = pop3c_caps(p);
		if ((caps->capa && !caps->uidl) || (n > 0 && !msgs[0].uidl[0]))
			account_step("pop3", "warning: no UIDL: fetch cannot tell "
			             "new messages from those fetched before");
	}
	free(msgs);
	pop3c_error_free(&e);
	buf_free(&why);
	return rc;
}

static int account_test_pop3(const struct account *a)
{
	struct pop3c *p = NULL;
	struct pop3c_error e;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	int rc = client_pop3_open(a, &p);
	if (rc != EXIT_OK) {
		account_step("pop3", "FAILED (see above)");
		return rc;
	}
	account_step("pop3", "connected to %s:%d", a->pop3.host, a->pop3.port);
	account_tls_step("pop3", pop3c_conn(p), "pop3_tls");
	account_step("pop3", "logged in as %s", a->pop3.user);
	rc = account_test_list(a, p);
	pop3c_error_init(&e);
	pop3c_quit(&p, &e, &err, &why);
	pop3c_error_free(&e);
	buf_free(&why);
	return rc;
}

static int account_test(int argc, char **argv)
{
	char *pos[1];
	size_t npos;
	int r = util_parse_args(argc, argv, NULL, 0, pos, 1, &npos);
	if (r != 0)
		return account_help(r, account_test_usage);
	struct account_config cfg;
	const struct account *a;
	int rc = client_account(&cfg, npos ? pos[0] : NULL, &a);
	if (rc == EXIT_OK) {
		printf("testing account %s (%s)\n", a->name, a->address);
		fflush(stdout);
		int smtp = account_test_smtp(a);
		int pop3 = account_test_pop3(a);
		rc = smtp ? smtp : pop3;
		if (rc == EXIT_OK)
			printf("account %s works: it can send and fetch mail\n", a->name);
	}
	account_config_free(&cfg);
	return rc;
}

int cmd_account(int argc, char **argv)
{
	static char full_add[] = "account add", full_list[] = "account list",
	            full_test[] = "account test",
	            full_remove[] = "account remove";
	static const struct {
		const char *name;
		char *full;
		int (*run)(int argc, char **argv);
	} subs[] = {
		{"add", full_add, account_add},
		{"list", full_list, account_list},
		{"test", full_test, account_test},
		{"remove", full_remove, account_remove},
	};
	if (argc < 2) {
		fputs(account_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(account_usage, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		if (strcmp(argv[1], subs[i].name) != 0)
			continue;
		argv[1] = subs[i].full;
		return subs[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "posthorn account: unknown subcommand '%s': add, list, "
	        "test or remove\n", argv[1]);
	return EXIT_USAGE;
}
