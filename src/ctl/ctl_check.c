/* ctl_check: "posthornctl check" looks at a setup the way posthornd will
 * and says, one line per check, what is ok and what is not: the config,
 * users, aliases, postmaster, certificate and key, and data directories. */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ctl.h"
#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../lib/fs.h"

/* A certificate expiring sooner than this is worth a warning. */
#define CHECK_EXPIRY_WARN_DAYS 30

static const char check_usage[] =
	"usage: posthornctl [-c CONFIG] check\n"
	"\n"
	"Checks the configuration, users, aliases (loops, unknown targets), that\n"
	"postmaster resolves, that the certificate and key are readable, match and\n"
	"have not expired (a warning under 30 days), and that the data directories\n"
	"exist and are writable. One line per check: ok, warn or FAIL. Exit status\n"
	"1 when anything failed.\n";

enum verdict { CHECK_OK, CHECK_WARN, CHECK_FAIL };

struct checker {
	int failures;
};

static void report(struct checker *c, enum verdict v, const char *what,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void report(struct checker *c, enum verdict v, const char *what,
                   const char *fmt, ...)
{
	static const char *const words[] = {"ok  ", "warn", "FAIL"};
	va_list ap;
	printf("%s %s: ", words[v], what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (v == CHECK_FAIL)
		c->failures++;
}

/* Secrets must not be readable by others. */
static void check_private_mode(struct checker *c, const char *what,
                               const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		report(c, CHECK_WARN, what, "%s is readable by others (mode %04o):"
		       " chmod 600 it", path, (unsigned)(st.st_mode & 07777));
}

static void check_users(struct checker *c, const struct posthorn_config *cfg,
                        struct users *db, int *loaded)
{
	struct buf err = BUF_INIT, path = BUF_INIT;
	*loaded = users_load(cfg->data_dir, db, &err) == 0;
	if (*loaded)
		report(c, CHECK_OK, "users", "%zu user%s", db->count,
		       db->count == 1 ? "" : "s");
	else
		report(c, CHECK_FAIL, "users", "%s", buf_cstr(&err));
	const char *files[] = {"users", "apop"};
	for (size_t i = 0; i < 2; i++) {
		buf_reset(&path);
		if (fs_join(cfg->data_dir, files[i], &path) == 0 && buf_cstr(&path))
			check_private_mode(c, files[i], path.data);
	}
	buf_free(&err);
	buf_free(&path);
}

static void check_aliases(struct checker *c, const struct posthorn_config *cfg,
                          const struct users *db)
{
	struct aliases al;
	struct buf err = BUF_INIT;
	struct strlist u = {0}, r = {0};
	if (aliases_load(cfg->data_dir, &al, &err) < 0) {
		report(c, CHECK_FAIL, "aliases", "%s", buf_cstr(&err));
		report(c, CHECK_FAIL, "postmaster", "cannot tell: the aliases do not load");
		buf_free(&err);
		return;
	}
	if (aliases_check(&al, db, cfg, &err) < 0)
		report(c, CHECK_FAIL, "aliases", "%s/aliases:\n%s", cfg->data_dir,
		       buf_cstr(&err));
	else
		report(c, CHECK_OK, "aliases", "%zu alias%s, no loops, all targets known",
		       al.count, al.count == 1 ? "" : "es");
	buf_reset(&err);
	int rc = aliases_expand(&al, db, cfg, "postmaster", &u, &r, &err);
	if (rc == 1)
		report(c, CHECK_OK, "postmaster", "delivers to %zu local and %zu remote"
		       " address%s", u.count, r.count, r.count == 1 ? "" : "es");
	else if (rc == 0)
		report(c, CHECK_FAIL, "postmaster", "missing (RFC 5321 requires it):"
		       " posthornctl alias add postmaster USER");
	else
		report(c, CHECK_FAIL, "postmaster", "%s", buf_cstr(&err));
	strlist_free(&u);
	strlist_free(&r);
	aliases_free(&al);
	buf_free(&err);
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return x;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

static void check_expiry(struct checker *c, X509 *x)
{
	int days = 0, secs = 0;
	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		report(c, CHECK_FAIL, "certificate", "unreadable expiry date");
	else if (days < 0 || secs < 0 || (days == 0 && secs == 0))
		report(c, CHECK_FAIL, "certificate", "expired %d days ago", -days);
	else if (days < CHECK_EXPIRY_WARN_DAYS)
		report(c, CHECK_WARN, "certificate", "expires in %d days", days);
	else
		report(c, CHECK_OK, "certificate", "expires in %d days", days);
	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		report(c, CHECK_WARN, "certificate", "not valid yet (clock or notBefore?)");
}

static void check_tls(struct checker *c, const struct posthorn_config *cfg)
{
	if (!cfg->tls_cert || !cfg->tls_key) {
		report(c, CHECK_OK, "tls", "no certificate configured (no TLS)");
		return;
	}
	X509 *x = read_cert(cfg->tls_cert);
	EVP_PKEY *k = read_key(cfg->tls_key);
	if (!x)
		report(c, CHECK_FAIL, "certificate", "%s: %s", cfg->tls_cert,
		       access(cfg->tls_cert, R_OK) < 0 ? strerror(errno)
		                                       : "no PEM certificate in it");
	if (!k)
		report(c, CHECK_FAIL, "key", "%s: %s", cfg->tls_key,
		       access(cfg->tls_key, R_OK) < 0 ? strerror(errno)
		                                      : "no PEM private key in it");
	else
		check_private_mode(c, "key", cfg->tls_key);
	if (x)
		check_expiry(c, x);
	if (x && k && X509_check_private_key(x, k) != 1)
		report(c, CHECK_FAIL, "key", "%s does not match the certificate %s",
		       cfg->tls_key, cfg->tls_cert);
	else if (x && k)
		report(c, CHECK_OK, "key", "matches the certificate");
	X509_free(x);
	EVP_PKEY_free(k);
}

static void check_dir(struct checker *c, const struct posthorn_config *cfg,
                      const char *path, const struct passwd *pw)
{
	struct stat st;
	if (stat(path, &st) < 0)
		report(c, CHECK_FAIL, "directory", "%s: %s", path, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		report(c, CHECK_FAIL, "directory", "%s is not a directory", path);
	else if (access(path, W_OK | X_OK) < 0)
		report(c, CHECK_FAIL, "directory", "%s is not writable: %s", path,
		       strerror(errno));
	else if (pw && st.st_uid != pw->pw_uid)
		report(c, CHECK_WARN, "directory", "%s is not owned by %s, the user"
		       " posthornd runs as", path, cfg->run_user);
	else
		report(c, CHECK_OK, "directory", "%s", path);
}

static void check_dirs(struct checker *c, const struct posthorn_config *cfg)
{
	static const char *const subdirs[] = {"mail", "queue", "spool"};
	struct passwd *pw = geteuid() == 0 && cfg->run_user ? getpwnam(cfg->run_user) : NULL;
	struct buf path = BUF_INIT;
	check_dir(c, cfg, cfg->data_dir, pw);
	for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++) {
		buf_reset(&path);
		if (fs_join(cfg->data_dir, subdirs[i], &path) == 0 && buf_cstr(&path))
			check_dir(c, cfg, path.data, pw);
	}
	buf_free(&path);
}

int ctl_check(struct ctl *ctl, int argc, char **argv)
{
	struct checker c = {0};
	struct posthorn_config cfg;
	struct users db = {0};
	struct buf err = BUF_INIT;
	int users_loaded = 0;
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(check_usage, stdout);
		return CTL_OK;
	}
	if (argc != 1)
		return ctl_usage_error("check ", "check takes no arguments");
	if (config_load(ctl->config_path, &cfg, &err) < 0) {
		report(&c, CHECK_FAIL, "config", "%s", buf_cstr(&err));
		buf_free(&err);
		return CTL_FAIL;
	}
	report(&c, CHECK_OK, "config", "%s (%zu domain%s, %zu listener%s)", cfg.path,
	       cfg.ndomains, cfg.ndomains == 1 ? "" : "s", cfg.nlisteners,
	       cfg.nlisteners == 1 ? "" : "s");
	check_users(&c, &cfg, &db, &users_loaded);
	if (users_loaded)
		check_aliases(&c, &cfg, &db);
	else
		report(&c, CHECK_FAIL, "aliases", "not checked: the users do not load");
	check_tls(&c, &cfg);
	check_dirs(&c, &cfg);
	printf("%s\n", c.failures ? "some checks FAILED" : "all checks passed");
	users_free(&db);
	config_free(&cfg);
	buf_free(&err);
	return c.failures ? CTL_FAIL : CTL_OK;
}
