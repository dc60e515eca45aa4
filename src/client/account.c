/* account: the client's config file (a small INI of [account NAME]
 * sections), where the client's files live, and how a password is found
 * without ever storing it: a command, an environment variable or the
 * terminal. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "account.h"

#define ACCOUNT_FILE_MAX (1024 * 1024)  /* a config is a few KiB */
#define ACCOUNT_VALUE_MAX 4096
#define ACCOUNT_PASSWORD_MAX 1024
#define ACCOUNT_CMD_OUTPUT_MAX (1024 * 1024)

/* An environment variable, treating "" like unset. */
static const char *account_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

int account_config_path(const char *path, struct buf *out)
{
	const char *v;
	if (path)
		return buf_puts(out, path);
	if ((v = account_env("POSTHORN_CONFIG")))
		return buf_puts(out, v);
	/* XDG: a relative value is invalid and must be ignored */
	if ((v = account_env("XDG_CONFIG_HOME")) && v[0] == '/')
		return buf_printf(out, "%s/posthorn/config", v);
	if ((v = account_env("HOME")))
		return buf_printf(out, "%s/.config/posthorn/config", v);
	return -1;
}

/* The directory part of path ("." when there is none). */
static int account_dirname(const char *path, struct buf *out)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return buf_puts(out, ".");
	if (slash == path)
		return buf_puts(out, "/");
	return buf_append(out, path, (size_t)(slash - path));
}

int account_contacts_path(const char *config_path_arg, struct buf *out)
{
	const char *v;
	const char *config = config_path_arg ? config_path_arg
	                                     : account_env("POSTHORN_CONFIG");
	if (config) {
		size_t old = out->len;
		if (account_dirname(config, out) == 0 &&
		    buf_puts(out, "/contacts.vcf") == 0)
			return 0;
		buf_truncate(out, old);
		return -1;
	}
	if ((v = account_env("XDG_DATA_HOME")) && v[0] == '/')
		return buf_printf(out, "%s/posthorn/contacts.vcf", v);
	if ((v = account_env("HOME")))
		return buf_printf(out, "%s/.local/share/posthorn/contacts.vcf", v);
	return -1;
}

const char *account_tls_name(enum account_tls tls)
{
	switch (tls) {
	case ACCOUNT_TLS_STARTTLS:
		return "starttls";
	case ACCOUNT_TLS_IMPLICIT:
		return "tls";
	case ACCOUNT_TLS_NONE:
		return "none";
	}
	return "?";
}

int account_default_port(int smtp, enum account_tls tls)
{
	if (smtp)
		return tls == ACCOUNT_TLS_IMPLICIT ? 465 : 587;
	return tls == ACCOUNT_TLS_IMPLICIT ? 995 : 110;
}

int account_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > 64 || !isalnum((unsigned char)name[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return 0;
	return 1;
}

void account_init(struct account *a)
{
	memset(a, 0, sizeof *a);
	a->smtp.tls = ACCOUNT_TLS_STARTTLS;
	a->pop3.tls = ACCOUNT_TLS_IMPLICIT;
	a->keep = 1;
	a->timeout = 30;
}

void account_free(struct account *a)
{
	if (!a)
		return;
	free(a->name);
	free(a->address);
	free(a->display_name);
	free(a->smtp.host);
	free(a->smtp.user);
	free(a->pop3.host);
	free(a->pop3.user);
	free(a->mail_dir);
	free(a->password_cmd);
	free(a->password_env);
	free(a->ca_file);
	account_init(a);
}

/* --- one key --- */

struct account_key;
typedef int (*account_setter)(struct account *a, const struct account_key *k,
                              const char *value, const char *base,
                              struct buf *why);

struct account_key {
	const char *name;
	account_setter set;
	size_t offset;        /* of the char * or int it sets */
	int flags;
};

enum {
	KEY_EMPTY_OK = 1,     /* "" is a value (smtp_user: no AUTH) */
	KEY_NO_SPACE = 2,     /* host names and addresses */
};

static char **account_str(struct account *a, const struct account_key *k)
{
	return (char **)(void *)((char *)a + k->offset);
}

static int *account_int(struct account *a, const struct account_key *k)
{
	return (int *)(void *)((char *)a + k->offset);
}

/* value need not be NUL-terminated (a struct buf's data), so copy n
 * bytes rather than strndup, which may look past them. */
static int account_store(char **slot, const char *value, size_t n)
{
	char *copy = malloc(n + 1);
	if (!copy)
		return -1;
	memcpy(copy, value, n);
	copy[n] = 0;
	free(*slot);
	*slot = copy;
	return 0;
}

static int account_set_text(struct account *a, const struct account_key *k,
                            const char *value, const char *base,
                            struct buf *why)
{
	(void)base;
	if (!*value && !(k->flags & KEY_EMPTY_OK)) {
		buf_printf(why, "%s needs a value", k->name);
		return -1;
	}
	if ((k->flags & KEY_NO_SPACE) && strpbrk(value, " \t")) {
		buf_printf(why, "%s cannot contain spaces: '%s'", k->name, value);
		return -1;
	}
	return account_store(account_str(a, k), value, strlen(value));
}

/* local@domain, nothing that would need quoting in an envelope. */
static int account_set_address(struct account *a, const struct account_key *k,
                               const char *value, const char *base,
                               struct buf *why)
{
	const char *at = strrchr(value, '@');
	if (!at || at == value || !at[1] || strpbrk(value, " \t<>,;:()\"\\[]")) {
		buf_printf(why, "%s must be a plain address like "
		           "alice@example.org, not '%s'", k->name, value);
		return -1;
	}
	return account_set_text(a, k, value, base, why);
}

static int account_set_display_name(struct account *a,
                                    const struct account_key *k,
                                    const char *value, const char *base,
                                    struct buf *why)
{
	(void)base;
	(void)why;
	char **slot = account_str(a, k);
	if (!*value) {
		free(*slot);
		*slot = NULL;
		return 0;
	}
	return account_store(slot, value, strlen(value));
}

static int account_set_env_name(struct account *a, const struct account_key *k,
                                const char *value, const char *base,
                                struct buf *why)
{
	int ok = *value && !isdigit((unsigned char)*value);
	for (const char *c = value; *c && ok; c++)
		ok = isalnum((unsigned char)*c) || *c == '_';
	if (!ok) {
		buf_printf(why, "%s must be the name of an environment variable "
		           "(letters, digits, _), not '%s'", k->name, value);
		return -1;
	}
	return account_set_text(a, k, value, base, why);
}

/* A number in [lo, hi]; 0 or -1. */
static int account_number(const char *s, long lo, long hi, int *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int account_set_port(struct account *a, const struct account_key *k,
                            const char *value, const char *base,
                            struct buf *why)
{
	(void)base;
	if (account_number(value, 1, 65535, account_int(a, k)) < 0) {
		buf_printf(why, "%s must be a port number 1..65535, not '%s'",
		           k->name, value);
		return -1;
	}
	return 0;
}

static int account_set_timeout(struct account *a, const struct account_key *k,
                               const char *value, const char *base,
                               struct buf *why)
{
	(void)base;
	if (account_number(value, 1, 3600, account_int(a, k)) < 0) {
		buf_printf(why, "%s must be seconds 1..3600, not '%s'", k->name,
		           value);
		return -1;
	}
	return 0;
}

static int account_set_tls(struct account *a, const struct account_key *k,
                           const char *value, const char *base,
                           struct buf *why)
{
	(void)base;
	enum account_tls *t = (enum account_tls *)(void *)((char *)a + k->offset);
	if (!strcasecmp(value, "starttls"))
		*t = ACCOUNT_TLS_STARTTLS;
	else if (!strcasecmp(value, "tls"))
		*t = ACCOUNT_TLS_IMPLICIT;
	else if (!strcasecmp(value, "none"))
		*t = ACCOUNT_TLS_NONE;
	else {
		buf_printf(why, "%s must be starttls, tls or none, not '%s'",
		           k->name, value);
		return -1;
	}
	return 0;
}

int account_parse_bool(const char *value)
{
	static const char *const yes[] = {"yes", "true", "1", "on"};
	static const char *const no[] = {"no", "false", "0", "off"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (!strcasecmp(value, yes[i]))
			return 1;
		if (!strcasecmp(value, no[i]))
			return 0;
	}
	return -1;
}

static int account_set_keep(struct account *a, const struct account_key *k,
                            const char *value, const char *base,
                            struct buf *why)
{
	(void)base;
	int v = account_parse_bool(value);
	if (v < 0) {
		buf_printf(why, "%s must be yes or no, not '%s'", k->name, value);
		return -1;
	}
	*account_int(a, k) = v;
	return 0;
}

int account_expand_path(const char *value, const char *base, struct buf *out,
                        struct buf *why)
{
	if (value[0] == '~' && (value[1] == '/' || !value[1])) {
		const char *home = account_env("HOME");
		if (!home) {
			buf_printf(why, "cannot expand '%s': HOME is not set", value);
			return -1;
		}
		return buf_printf(out, "%s%s", home, value + 1);
	}
	if (value[0] == '~') {
		buf_printf(why, "only '~/' is expanded, not '%s'", value);
		return -1;
	}
	if (value[0] == '/')
		return buf_puts(out, value);
	char cwd[4096];
	if (!base || base[0] != '/') {
		if (!getcwd(cwd, sizeof cwd)) {
			buf_printf(why, "cannot resolve '%s': %s", value, strerror(errno));
			return -1;
		}
		if (base && strcmp(base, ".") != 0)
			return buf_printf(out, "%s/%s/%s", cwd, base, value);
		return buf_printf(out, "%s/%s", cwd, value);
	}
	return buf_printf(out, "%s%s%s", base,
	                  base[strlen(base) - 1] == '/' ? "" : "/", value);
}

static int account_set_path(struct account *a, const struct account_key *k,
                            const char *value, const char *base,
                            struct buf *why)
{
	struct buf path = BUF_INIT;
	if (!*value) {
		buf_printf(why, "%s needs a value", k->name);
		return -1;
	}
	size_t old = why->len;
	int r = account_expand_path(value, base, &path, why);
	if (r < 0 && why->len == old)
		buf_puts(why, "out of memory");
	if (r == 0)
		r = account_store(account_str(a, k), path.data, path.len);
	buf_free(&path);
	return r;
}

#define KEY_STR(n, f, fn, fl) {n, fn, offsetof(struct account, f), fl}

static const struct account_key account_keys[] = {
	KEY_STR("address", address, account_set_address, KEY_NO_SPACE),
	KEY_STR("name", display_name, account_set_display_name, 0),
	KEY_STR("smtp_host", smtp.host, account_set_text, KEY_NO_SPACE),
	KEY_STR("smtp_port", smtp.port, account_set_port, 0),
	KEY_STR("smtp_tls", smtp.tls, account_set_tls, 0),
	KEY_STR("smtp_user", smtp.user, account_set_text, KEY_EMPTY_OK),
	KEY_STR("pop3_host", pop3.host, account_set_text, KEY_NO_SPACE),
	KEY_STR("pop3_port", pop3.port, account_set_port, 0),
	KEY_STR("pop3_tls", pop3.tls, account_set_tls, 0),
	KEY_STR("pop3_user", pop3.user, account_set_text, 0),
	KEY_STR("mail_dir", mail_dir, account_set_path, 0),
	KEY_STR("keep", keep, account_set_keep, 0),
	KEY_STR("password_cmd", password_cmd, account_set_text, 0),
	KEY_STR("password_env", password_env, account_set_env_name, 0),
	KEY_STR("ca_file", ca_file, account_set_path, 0),
	KEY_STR("timeout", timeout, account_set_timeout, 0),
};
#define ACCOUNT_NKEYS (sizeof account_keys / sizeof account_keys[0])

static int account_key_index(const char *key)
{
	for (size_t i = 0; i < ACCOUNT_NKEYS; i++)
		if (!strcmp(account_keys[i].name, key))
			return (int)i;
	return -1;
}

/* Why a value cannot be written to (and read back from) the file, or NULL. */
static const char *account_value_problem(const char *value)
{
	size_t n = strlen(value);
	if (n > ACCOUNT_VALUE_MAX)
		return "is too long";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c < 0x20 && c != '\t') || c == 0x7F)
			return "contains a control character";
		if (c == '#' && (i == 0 || value[i - 1] == ' ' ||
		                 value[i - 1] == '\t'))
			return "cannot have '#' at its start or after a space "
			       "(it would start a comment)";
	}
	if (n && (value[0] == ' ' || value[0] == '\t' || value[n - 1] == ' ' ||
	          value[n - 1] == '\t'))
		return "cannot start or end with a space";
	return NULL;
}

int account_set(struct account *a, const char *key, const char *value,
                const char *base_dir, struct buf *why)
{
	int i = account_key_index(key);
	if (i < 0) {
		buf_printf(why, "unknown key '%s'", key);
		return -1;
	}
	const char *problem = account_value_problem(value);
	if (problem) {
		buf_printf(why, "%s %s", key, problem);
		return -1;
	}
	size_t old = why->len;
	int r = account_keys[i].set(a, &account_keys[i], value, base_dir, why);
	if (r < 0 && why->len == old)
		buf_puts(why, "out of memory");
	return r;
}

int account_complete(struct account *a, struct buf *why)
{
	if (!a->address) {
		buf_printf(why, "account '%s' has no address", a->name);
		return -1;
	}
	if (!a->smtp.port)
		a->smtp.port = account_default_port(1, a->smtp.tls);
	if (!a->pop3.port)
		a->pop3.port = account_default_port(0, a->pop3.tls);
	const char *pop3_user = a->smtp.user && *a->smtp.user ? a->smtp.user
	                                                      : a->address;
	if ((!a->smtp.user && !(a->smtp.user = strdup(a->address))) ||
	    (!a->pop3.user && !(a->pop3.user = strdup(pop3_user)))) {
		buf_puts(why, "out of memory");
		return -1;
	}
	if (!a->mail_dir) {
		const char *home = account_env("HOME");
		struct buf dir = BUF_INIT;
		if (!home) {
			buf_printf(why, "account '%s' has no mail_dir and HOME is not "
			           "set", a->name);
			return -1;
		}
		if (buf_printf(&dir, "%s/Mail/%s", home, a->name) < 0 ||
		    !(a->mail_dir = buf_steal(&dir, NULL))) {
			buf_free(&dir);
			buf_puts(why, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* --- the file --- */

void account_config_free(struct account_config *cfg)
{
	for (size_t i = 0; i < cfg->n; i++)
		account_free(&cfg->accounts[i]);
	free(cfg->accounts);
	free(cfg->path);
	free(cfg->default_name);
	memset(cfg, 0, sizeof *cfg);
}

struct account *account_config_find(struct account_config *cfg,
                                    const char *name)
{
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->accounts[i].name, name))
			return &cfg->accounts[i];
	return NULL;
}

int account_config_add(struct account_config *cfg, struct account *a)
{
	struct account *grown = realloc(cfg->accounts,
	                                (cfg->n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	cfg->accounts = grown;
	cfg->accounts[cfg->n++] = *a;
	account_init(a);
	return 0;
}

int account_config_remove(struct account_config *cfg, const char *name)
{
	struct account *a = account_config_find(cfg, name);
	if (!a)
		return -1;
	size_t i = (size_t)(a - cfg->accounts);
	account_free(a);
	memmove(a, a + 1, (cfg->n - i - 1) * sizeof *a);
	cfg->n--;
	if (cfg->default_name && !strcmp(cfg->default_name, name)) {
		free(cfg->default_name);
		cfg->default_name = NULL;
	}
	return 0;
}

/* Parser state: the file, the section being read and the keys seen in it. */
struct account_parse {
	struct account_config *cfg;
	const char *base;           /* the config file's directory */
	struct account cur;
	int in_section;
	int seen[ACCOUNT_NKEYS];    /* line of each key in this section, or 0 */
	int default_line;
	int fail_line;              /* a section's line when its end failed */
	struct buf *why;
};

/* Cuts the comment ("#" at the start or after a space) and the blanks
 * around the line; returns the new length. */
static size_t account_clean_line(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
			n = i;
			break;
		}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	size_t start = 0;
	while (start < n && (s[start] == ' ' || s[start] == '\t'))
		start++;
	memmove(s, s + start, n - start);
	s[n - start] = '\0';
	return n - start;
}

/* Closes the section being read: defaults, required keys, into cfg. */
static int account_end_section(struct account_parse *p)
{
	if (!p->in_section)
		return 0;
	p->fail_line = p->cur.line;
	if (account_complete(&p->cur, p->why) < 0)
		return -1;
	if (account_config_add(p->cfg, &p->cur) < 0) {
		buf_puts(p->why, "out of memory");
		return -1;
	}
	p->fail_line = 0;
	p->in_section = 0;
	return 0;
}

/* "[account NAME]" (s without the brackets). */
static int account_section(struct account_parse *p, char *s, int line)
{
	size_t n = account_clean_line(s, strlen(s));
	if (n < 8 || strncmp(s, "account", 7) != 0 || (s[7] != ' ' &&
	                                               s[7] != '\t')) {
		buf_printf(p->why, "unknown section '[%s]': sections are "
		           "[account NAME]", s);
		return -1;
	}
	char *name = s + 8;
	while (*name == ' ' || *name == '\t')
		name++;
	if (!account_name_valid(name)) {
		buf_printf(p->why, "bad account name '%s': 1 to 64 letters, digits, "
		           "'.', '_' or '-', starting with a letter or digit", name);
		return -1;
	}
	if (account_end_section(p) < 0)
		return -1;
	const struct account *dup = account_config_find(p->cfg, name);
	if (dup) {
		buf_printf(p->why, "account '%s' is already defined on line %d",
		           name, dup->line);
		return -1;
	}
	account_init(&p->cur);
	if (!(p->cur.name = strdup(name))) {
		buf_puts(p->why, "out of memory");
		return -1;
	}
	p->cur.line = line;
	p->in_section = 1;
	memset(p->seen, 0, sizeof p->seen);
	return 0;
}

static int account_top_key(struct account_parse *p, const char *key,
                           const char *value, int line)
{
	if (strcmp(key, "default") != 0) {
		buf_printf(p->why, "%s '%s' outside an [account NAME] section",
		           account_key_index(key) >= 0 ? "key" : "unknown key", key);
		return -1;
	}
	if (p->default_line) {
		buf_printf(p->why, "default is already set on line %d",
		           p->default_line);
		return -1;
	}
	if (!account_name_valid(value)) {
		buf_printf(p->why, "default must name an account, not '%s'", value);
		return -1;
	}
	if (!(p->cfg->default_name = strdup(value))) {
		buf_puts(p->why, "out of memory");
		return -1;
	}
	p->default_line = line;
	return 0;
}

static int account_line(struct account_parse *p, char *s, size_t n, int line)
{
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\r') ||
		    s[i] == 0x7F) {
			buf_puts(p->why, "control character in the line");
			return -1;
		}
	s[n] = '\0';
	n = account_clean_line(s, n);
	if (n == 0)
		return 0;
	if (s[0] == '[') {
		if (s[n - 1] != ']') {
			buf_puts(p->why, "a section line must end with ']'");
			return -1;
		}
		s[n - 1] = '\0';
		return account_section(p, s + 1, line);
	}
	char *eq = strchr(s, '=');
	if (!eq) {
		buf_printf(p->why, "expected 'key = value', not '%s'", s);
		return -1;
	}
	*eq = '\0';
	char *value = eq + 1;
	account_clean_line(s, strlen(s));
	account_clean_line(value, strlen(value));
	if (!p->in_section)
		return account_top_key(p, s, value, line);
	int k = account_key_index(s);
	if (k >= 0 && p->seen[k]) {
		buf_printf(p->why, "%s is already set on line %d", s, p->seen[k]);
		return -1;
	}
	if (account_set(&p->cur, s, value, p->base, p->why) < 0)
		return -1;
	p->seen[k] = line;
	return 0;
}

/* Parses text (NUL-free, NUL-terminated by the caller) into p->cfg. */
static int account_parse_text(struct account_parse *p, char *text,
                              size_t len, int *err_line)
{
	int line = 0;
	size_t pos = 0;
	while (pos < len) {
		char *s = text + pos;
		char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		*err_line = ++line;
		if (account_line(p, s, n, line) < 0) {
			*err_line = p->fail_line ? p->fail_line : line;
			return -1;
		}
	}
	if (account_end_section(p) < 0) {
		*err_line = p->fail_line;
		return -1;
	}
	if (p->cfg->default_name &&
	    !account_config_find(p->cfg, p->cfg->default_name)) {
		*err_line = p->default_line;
		buf_printf(p->why, "default names no account: there is no "
		           "[account %s]", p->cfg->default_name);
		return -1;
	}
	return 0;
}

int account_config_load(const char *path, struct account_config *cfg,
                        int *exists, struct buf *why)
{
	struct buf text = BUF_INIT, base = BUF_INIT, msg = BUF_INIT;
	struct account_parse p = {.cfg = cfg, .why = &msg};
	int r = 0, line = 0;
	memset(cfg, 0, sizeof *cfg);
	*exists = 0;
	if (!(cfg->path = strdup(path)) || account_dirname(path, &base) < 0) {
		buf_printf(why, "%s: out of memory", path);
		r = -1;
	} else if (fs_read_file(path, ACCOUNT_FILE_MAX, &text) < 0) {
		if (errno != ENOENT) {
			buf_printf(why, "cannot read %s: %s", path, errno == EFBIG
			           ? "larger than 1 MiB, not a config file"
			           : strerror(errno));
			r = -1;
		}
	} else {
		*exists = 1;
		p.base = buf_cstr(&base);
		if (!buf_cstr(&text) || !p.base) {
			buf_printf(why, "%s: out of memory", path);
			r = -1;
		} else if (memchr(text.data, '\0', text.len)) {
			buf_printf(why, "%s: contains NUL bytes, not a config file", path);
			r = -1;
		} else if (account_parse_text(&p, text.data, text.len, &line) < 0) {
			buf_printf(why, "%s:%d: %s", path, line, buf_cstr(&msg));
			r = -1;
		}
	}
	if (p.in_section)
		account_free(&p.cur);
	buf_free(&text);
	buf_free(&base);
	buf_free(&msg);
	return r;
}

const struct account *account_find(const struct account_config *cfg,
                                   const char *name, struct buf *why)
{
	if (cfg->n == 0 && !name) {
		buf_puts(why, "no accounts yet: 'posthorn account add' creates one");
		return NULL;
	}
	if (!name)
		name = cfg->default_name ? cfg->default_name : cfg->accounts[0].name;
	for (size_t i = 0; i < cfg->n; i++)
		if (!strcmp(cfg->accounts[i].name, name))
			return &cfg->accounts[i];
	if (cfg->n == 0)
		buf_printf(why, "no account '%s': there are no accounts yet; "
		           "'posthorn account add' creates one", name);
	else
		buf_printf(why, "no account '%s' in %s; 'posthorn account list' "
		           "shows them", name, cfg->path);
	return NULL;
}

/* --- saving --- */

/* A path as the user would write it: "~/..." under HOME. */
static int account_put_path(struct buf *out, const char *key, const char *path)
{
	const char *home = account_env("HOME");
	size_t n = home ? strlen(home) : 0;
	if (n > 1 && !strncmp(path, home, n) && path[n] == '/')
		return buf_printf(out, "%s = ~%s\n", key, path + n);
	return buf_printf(out, "%s = %s\n", key, path);
}

/* Every value of a, checked so the file reads back the same. */
static int account_check_values(const struct account *a, struct buf *why)
{
	const char *const values[][2] = {
		{"address", a->address}, {"name", a->display_name},
		{"smtp_host", a->smtp.host}, {"smtp_user", a->smtp.user},
		{"pop3_host", a->pop3.host}, {"pop3_user", a->pop3.user},
		{"mail_dir", a->mail_dir}, {"password_cmd", a->password_cmd},
		{"password_env", a->password_env}, {"ca_file", a->ca_file},
	};
	if (!account_name_valid(a->name)) {
		buf_printf(why, "bad account name '%s'", a->name);
		return -1;
	}
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		const char *problem = values[i][1]
		                      ? account_value_problem(values[i][1]) : NULL;
		if (problem) {
			buf_printf(why, "account '%s': %s %s", a->name, values[i][0],
			           problem);
			return -1;
		}
	}
	return 0;
}

static int account_put(struct buf *out, const struct account *a)
{
	int r = buf_printf(out, "\n[account %s]\naddress = %s\n", a->name,
	                   a->address);
	if (a->display_name)
		r |= buf_printf(out, "name = %s\n", a->display_name);
	if (a->smtp.host)
		r |= buf_printf(out, "smtp_host = %s\n", a->smtp.host);
	r |= buf_printf(out, "smtp_port = %d\nsmtp_tls = %s\n", a->smtp.port,
	                account_tls_name(a->smtp.tls));
	if (strcmp(a->smtp.user, a->address) != 0)
		r |= buf_printf(out, "smtp_user =%s%s\n", *a->smtp.user ? " " : "",
		                a->smtp.user);
	if (a->pop3.host)
		r |= buf_printf(out, "pop3_host = %s\n", a->pop3.host);
	r |= buf_printf(out, "pop3_port = %d\npop3_tls = %s\n", a->pop3.port,
	                account_tls_name(a->pop3.tls));
	const char *pop3_user = *a->smtp.user ? a->smtp.user : a->address;
	if (strcmp(a->pop3.user, pop3_user) != 0)
		r |= buf_printf(out, "pop3_user = %s\n", a->pop3.user);
	r |= account_put_path(out, "mail_dir", a->mail_dir);
	r |= buf_printf(out, "keep = %s\n", a->keep ? "yes" : "no");
	if (a->password_cmd)
		r |= buf_printf(out, "password_cmd = %s\n", a->password_cmd);
	if (a->password_env)
		r |= buf_printf(out, "password_env = %s\n", a->password_env);
	if (a->ca_file)
		r |= account_put_path(out, "ca_file", a->ca_file);
	if (a->timeout != 30)
		r |= buf_printf(out, "timeout = %d\n", a->timeout);
	return r ? -1 : 0;
}

int account_config_save(const struct account_config *cfg, struct buf *why)
{
	struct buf out = BUF_INIT, dir = BUF_INIT;
	int r = buf_puts(&out, "# posthorn mail client accounts (see doc/client.md)."
	                 "\n# Written by 'posthorn account'; comments are not "
	                 "kept.\n");
	if (cfg->default_name)
		r |= buf_printf(&out, "\ndefault = %s\n", cfg->default_name);
	for (size_t i = 0; i < cfg->n && r == 0; i++) {
		if (account_check_values(&cfg->accounts[i], why) < 0) {
			buf_free(&out);
			return -1;
		}
		r = account_put(&out, &cfg->accounts[i]);
	}
	if (r == 0)
		r = account_dirname(cfg->path, &dir);
	if (r < 0) {
		buf_printf(why, "%s: out of memory", cfg->path);
	} else if (fs_mkdirs(buf_cstr(&dir), 0700) < 0) {
		buf_printf(why, "cannot create the directory %s: %s", dir.data,
		           strerror(errno));
		r = -1;
	} else if (fs_write_atomic(cfg->path, out.data, out.len, 0600) < 0) {
		buf_printf(why, "cannot write %s: %s", cfg->path, strerror(errno));
		r = -1;
	}
	buf_free(&out);
	buf_free(&dir);
	return r;
}

/* --- passwords --- */

/* Reads the command's output: the first line kept (bounded), the rest
 * drained so the command never dies of SIGPIPE. */
static int account_read_cmd_output(int fd, struct buf *line, int *too_much)
{
	char chunk[4096];
	size_t total = 0;
	int got_line = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > ACCOUNT_CMD_OUTPUT_MAX) {
			*too_much = 1;   /* never ends: stop reading, kill it */
			break;
		}
		char *nl = got_line ? NULL : memchr(chunk, '\n', (size_t)n);
		size_t keep = nl ? (size_t)(nl - chunk) : (size_t)n;
		if (!got_line && buf_append(line, chunk, keep) < 0)
			*too_much = 2;
		got_line |= nl != NULL;
		explicit_bzero(chunk, sizeof chunk);
	}
	explicit_bzero(chunk, sizeof chunk);
	return 0;
}

static int account_run_password_cmd(const struct account *a, struct buf *out,
                                    struct buf *why)
{
	int fds[2], too_much = 0, status;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		buf_printf(why, "cannot run password_cmd: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		buf_printf(why, "cannot run password_cmd: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(126);
		execl("/bin/sh", "sh", "-c", a->password_cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	struct buf line = BUF_INIT;
	buf_init(&line, ACCOUNT_PASSWORD_MAX);
	int r = account_read_cmd_output(fds[0], &line, &too_much);
	close(fds[0]);
	if (too_much)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (line.len && line.data[line.len - 1] == '\r')
		line.len--;
	if (r < 0 || too_much) {
		buf_printf(why, "password_cmd of account '%s' %s", a->name,
		           too_much == 1 ? "printed too much (a password is one "
		                           "line)"
		           : too_much == 2 ? "printed a line too long for a password"
		                           : "could not be read");
		r = -1;
	} else if (WIFSIGNALED(status)) {
		buf_printf(why, "password_cmd of account '%s' was killed by signal "
		           "%d", a->name, WTERMSIG(status));
		r = -1;
	} else if (WEXITSTATUS(status) != 0) {
		buf_printf(why, "password_cmd of account '%s' failed (exit status "
		           "%d%s)", a->name, WEXITSTATUS(status),
		           WEXITSTATUS(status) == 127 ? ": command not found" : "");
		r = -1;
	} else if (line.len == 0) {
		buf_printf(why, "password_cmd of account '%s' printed no password",
		           a->name);
		r = -1;
	} else if (buf_append(out, line.data, line.len) < 0) {
		buf_puts(why, "out of memory");
		r = -1;
	}
	if (line.data)
		explicit_bzero(line.data, line.cap);
	buf_free(&line);
	return r;
}

/* The terminal state to put back if a signal ends the prompt. */
static struct termios account_tty_saved;
static volatile sig_atomic_t account_tty_fd = -1;

static void account_tty_restore(int sig)
{
	if (account_tty_fd >= 0)
		tcsetattr(account_tty_fd, TCSAFLUSH, &account_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static const int account_tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define ACCOUNT_NSIG (sizeof account_tty_signals / sizeof(int))

/* Reads one line from the terminal fd without echo into out. */
static int account_tty_read(int fd, struct buf *out, struct buf *why)
{
	struct termios quiet;
	struct sigaction sa = {.sa_handler = account_tty_restore}, old[ACCOUNT_NSIG];
	if (tcgetattr(fd, &account_tty_saved) < 0)
		return 1;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ACCOUNT_NSIG; i++)
		sigaction(account_tty_signals[i], &sa, &old[i]);
	account_tty_fd = fd;
	quiet = account_tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ICANON;
	int r = tcsetattr(fd, TCSAFLUSH, &quiet) < 0 ? 1 : 0;
	char c;
	while (r == 0) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n' || c == '\r') {
			if (n <= 0 && out->len == 0) {
				buf_puts(why, "no password given");
				r = -1;
			}
			break;
		}
		if (buf_putc(out, c) < 0) {
			buf_puts(why, "the password is too long");
			r = -1;
		}
	}
	c = 0;
	if (r != 1) {
		tcsetattr(fd, TCSAFLUSH, &account_tty_saved);
		(void)!write(fd, "\n", 1);
	}
	account_tty_fd = -1;
	for (size_t i = 0; i < ACCOUNT_NSIG; i++)
		sigaction(account_tty_signals[i], &old[i], NULL);
	return r;
}

static int account_prompt(const struct account *a, const char *what,
                          struct buf *out, struct buf *why)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct buf pw = BUF_INIT, prompt = BUF_INIT;
	int r = 1;
	buf_init(&pw, ACCOUNT_PASSWORD_MAX);
	if (fd >= 0 && buf_printf(&prompt, "Password for %s: ",
	                          what ? what : a->address) == 0 &&
	    fs_write_all(fd, prompt.data, prompt.len) == 0)
		r = account_tty_read(fd, &pw, why);
	if (fd >= 0)
		close(fd);
	if (r == 1) {
		if (a->password_env)
			buf_printf(why, "no password: the environment variable %s "
			           "(password_env of account '%s') is not set, and "
			           "there is no terminal to ask on", a->password_env,
			           a->name);
		else
			buf_printf(why, "no password: set password_cmd or password_env "
			           "for account '%s', or run from a terminal", a->name);
		r = -1;
	} else if (r == 0 && buf_append(out, pw.data, pw.len) < 0) {
		buf_puts(why, "out of memory");
		r = -1;
	}
	if (pw.data)
		explicit_bzero(pw.data, pw.cap);
	buf_free(&pw);
	buf_free(&prompt);
	return r;
}

int account_password(const struct account *a, const char *what,
                     struct buf *out, struct buf *why)
{
	const char *v;
	if (a->password_cmd)
		return account_run_password_cmd(a, out, why);
	if ((a->password_env && (v = account_env(a->password_env))) ||
	    (v = account_env("POSTHORN_PASSWORD"))) {
		if (buf_puts(out, v) < 0) {
			buf_puts(why, "out of memory");
			return -1;
		}
		return 0;
	}
	return account_prompt(a, what, out, why);
}
