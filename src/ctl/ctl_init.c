/* ctl_init: "posthornctl init DIR" creates a complete server directory:
 * posthorn.conf, a self-signed certificate, the data directories, an empty
 * users file and an aliases file to fill in, then prints what to do next. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ctl.h"
#include "../lib/fs.h"

#define INIT_DOMAINS_MAX 32
#define INIT_CERT_DAYS 365

static const char init_usage[] =
	"usage: posthornctl init DIR [--hostname H] [--domain D]... [--listen ADDR]\n"
	"                            [--port-base N] [--force]\n"
	"\n"
	"Creates DIR/posthorn.conf, a self-signed certificate DIR/tls/cert.pem\n"
	"with its key DIR/tls/key.pem (mode 0600), DIR/data/{mail,queue,spool},\n"
	"an empty users file and an aliases file.\n"
	"\n"
	"  --hostname H    the server's name (default: this machine's hostname)\n"
	"  --domain D      a local domain; repeat for more (default: the hostname)\n"
	"  --listen ADDR   numeric address to listen on (default 127.0.0.1)\n"
	"  --port-base N   added to the standard ports: 10000 gives 10025, 10587,\n"
	"                  ... (default 0: 25, 587, 465, 110, 995, 143, 993)\n"
	"  --force         overwrite an existing config and certificate (users,\n"
	"                  aliases and mail are never touched)\n";

struct init_opts {
	const char *dir;
	const char *hostname;
	char *domains[INIT_DOMAINS_MAX];
	size_t ndomains;
	const char *listen;
	int port_base;
	int force;
};

static const char users_template[] =
	"# posthorn users: name:hash[:quota_bytes] (managed by posthornctl user)\n";

static const char aliases_template[] =
	"# posthorn aliases: \"name: target, target, ...\" (see posthornctl(8)).\n"
	"# A target is a local user, another alias or a remote address\n"
	"# user@domain. Indented lines continue the line above.\n"
	"#\n"
	"# RFC 5321 requires a postmaster. Point it at a real user:\n"
	"#   posthornctl alias add postmaster USER\n"
	"# (the first 'posthornctl user add' does that when none exists).\n"
	"#\n"
	"#postmaster: alice\n"
	"#abuse: postmaster\n"
	"#team: alice, bob, friend@example.net\n";

/* ---- certificate ---- */

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -1;
}

/* "DNS:host,DNS:domain,...,IP:addr" without repeats. */
static int subject_alt_names(const struct init_opts *o, struct buf *san)
{
	int rc = buf_printf(san, "DNS:%s", o->hostname);
	for (size_t i = 0; i < o->ndomains; i++)
		if (strcasecmp(o->domains[i], o->hostname) != 0)
			rc |= buf_printf(san, ",DNS:%s", o->domains[i]);
	if (strcmp(o->listen, "0.0.0.0") != 0 && strcmp(o->listen, "::") != 0)
		rc |= buf_printf(san, ",IP:%s", o->listen);
	return rc || !buf_cstr(san) ? -1 : 0;
}

static int cert_fill(X509 *x, EVP_PKEY *key, const struct init_opts *o)
{
	struct buf san = BUF_INIT;
	BIGNUM *serial = BN_new();
	X509_NAME *name = X509_get_subject_name(x);
	int ok = serial && BN_rand(serial, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
	         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
	         X509_set_version(x, 2) &&
	         X509_gmtime_adj(X509_getm_notBefore(x), -300) &&
	         X509_gmtime_adj(X509_getm_notAfter(x), INIT_CERT_DAYS * 86400L) &&
	         X509_set_pubkey(x, key) &&
	         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                    (const unsigned char *)o->hostname, -1, -1, 0) &&
	         X509_set_issuer_name(x, name) &&
	         subject_alt_names(o, &san) == 0;
	/* As "openssl req -x509" does, so clients can pin it as its own CA. */
	ok = ok && add_ext(x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
	     add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
	     add_ext(x, NID_authority_key_identifier, "keyid:always") == 0 &&
	     add_ext(x, NID_ext_key_usage, "serverAuth") == 0 &&
	     add_ext(x, NID_subject_alt_name, san.data) == 0 &&
	     X509_sign(x, key, EVP_sha256()) > 0;
	BN_free(serial);
	buf_free(&san);
	return ok ? 0 : -1;
}

/* Writes the PEM that write() puts into a memory BIO to path. */
static int write_pem(const char *path, mode_t mode, BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	return n > 0 && fs_write_atomic(path, data, (size_t)n, mode) == 0 ? 0 : -1;
}

static int make_certificate(const struct init_opts *o, const char *cert_path,
                            const char *key_path)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	int rc = -1;
	if (!key || !x || !kb || !cb || cert_fill(x, key, o) < 0 ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, x))
		ctl_fail("cannot generate the certificate (OpenSSL error)");
	else if (write_pem(key_path, 0600, kb) < 0)
		ctl_fail("%s: %s", key_path, strerror(errno));
	else if (write_pem(cert_path, 0644, cb) < 0)
		ctl_fail("%s: %s", cert_path, strerror(errno));
	else
		rc = 0;
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- files and directories ---- */

/* DIR/rel into out (reset first); rel may hold '/' (our own names only). */
static const char *in_dir(const char *dir, const char *rel, struct buf *out)
{
	buf_reset(out);
	buf_printf(out, "%s/%s", dir, rel);
	return buf_cstr(out);
}

/* Writes a template file unless one is there already (never clobbers). */
static int write_new_file(const char *path, const char *text, mode_t mode,
                          int *created)
{
	struct stat st;
	*created = 0;
	if (stat(path, &st) == 0)
		return 0;
	if (fs_write_atomic(path, text, strlen(text), mode) < 0) {
		ctl_fail("%s: %s", path, strerror(errno));
		return -1;
	}
	*created = 1;
	return 0;
}

static int make_dirs(const char *dir)
{
	static const char *const dirs[] = {"tls", "data", "data/mail", "data/queue",
	                                   "data/spool"};
	struct buf p = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs && rc == 0; i++) {
		/* Mail and the users' hashes are nobody else's business. */
		mode_t mode = strncmp(dirs[i], "data", 4) == 0 ? 0700 : 0755;
		if (!in_dir(dir, dirs[i], &p) || fs_mkdirs(p.data, mode) < 0)
			rc = ctl_fail("%s: %s", p.len ? p.data : dir, strerror(errno));
	}
	buf_free(&p);
	return rc ? -1 : 0;
}

static int write_config(const struct init_opts *o, const char *path)
{
	struct buf text = BUF_INIT;
	int rc = 0;
	if (config_write_default(&text, o->hostname, o->domains, o->ndomains,
	                         o->listen, o->port_base) < 0)
		rc = ctl_fail("invalid --hostname \"%s\", --domain or --listen \"%s\":"
		              " hostnames and domains are DNS names, the address is"
		              " numeric IPv4 or IPv6", o->hostname, o->listen);
	else if (fs_write_atomic(path, text.data, text.len, 0644) < 0)
		rc = ctl_fail("%s: %s", path, strerror(errno));
	buf_free(&text);
	return rc ? -1 : 0;
}

/* Creates everything; the config is loaded back at the end, so a setup
 * init reports as done is one posthornd accepts. */
static int init_create(const struct init_opts *o, struct buf *conf)
{
	struct buf cert = BUF_INIT, key = BUF_INIT, users = BUF_INIT, aliases = BUF_INIT;
	int made_users = 0, made_aliases = 0, rc = -1;
	in_dir(o->dir, "tls/cert.pem", &cert);
	in_dir(o->dir, "tls/key.pem", &key);
	in_dir(o->dir, "data/users", &users);
	in_dir(o->dir, "data/aliases", &aliases);
	if (!cert.data || !key.data || !users.data || !aliases.data ||
	    write_config(o, conf->data) < 0 || make_dirs(o->dir) < 0 ||
	    make_certificate(o, cert.data, key.data) < 0 ||
	    write_new_file(users.data, users_template, 0600, &made_users) < 0 ||
	    write_new_file(aliases.data, aliases_template, 0644, &made_aliases) < 0)
		goto out;
	printf("created %s\n", conf->data);
	printf("created %s (self-signed, %d days) and %s\n", cert.data,
	       INIT_CERT_DAYS, key.data);
	printf("created %s/data/{mail,queue,spool}\n", o->dir);
	printf("%s %s\n", made_users ? "created" : "kept", users.data);
	printf("%s %s\n", made_aliases ? "created" : "kept", aliases.data);
	rc = 0;
out:
	buf_free(&cert);
	buf_free(&key);
	buf_free(&users);
	buf_free(&aliases);
	return rc;
}

/* ---- the command ---- */

static int parse_port_base(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 65535 - 995)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_init_args(int argc, char **argv, struct init_opts *o, int *help)
{
	static const struct option options[] = {
		{"hostname", required_argument, NULL, 'H'},
		{"domain", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"port-base", required_argument, NULL, 'p'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'H')
			o->hostname = optarg;
		else if (c == 'd' && o->ndomains < INIT_DOMAINS_MAX)
			o->domains[o->ndomains++] = optarg;
		else if (c == 'd')
			return ctl_usage_error("init ", "at most %d --domain options",
			                       INIT_DOMAINS_MAX);
		else if (c == 'l')
			o->listen = optarg;
		else if (c == 'p' && parse_port_base(optarg, &o->port_base) < 0)
			return ctl_usage_error("init ", "--port-base: \"%s\" is not a number"
			                       " from 0 to %d", optarg, 65535 - 995);
		else if (c == 'f')
			o->force = 1;
		else if (c == 'h')
			*help = 1;
		else if (c != 'p')
			return ctl_usage_error("init ", "init: unexpected or incomplete"
			                       " option %s", argv[optind - 1]);
	}
	if (*help)
		return CTL_OK;
	if (argc - optind != 1)
		return ctl_usage_error("init ", "init needs exactly one DIR");
	o->dir = argv[optind];
	return CTL_OK;
}

static void print_next_steps(const char *conf, const struct posthorn_config *cfg)
{
	printf("\nnext steps:\n"
	       "  1. add a user (the first one also becomes postmaster):\n"
	       "       posthornctl -c %s user add NAME\n"
	       "  2. make sure postmaster goes to a person (RFC 5321 requires it):\n"
	       "       posthornctl -c %s alias add postmaster NAME\n"
	       "  3. check the setup, then start the server:\n"
	       "       posthornctl -c %s check\n"
	       "       posthornd -c %s -f\n", conf, conf, conf, conf);
	printf("  listeners (see %s):\n", conf);
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_listener *l = &cfg->listeners[i];
		printf("       %-10s %s port %d, TLS %s\n", config_proto_name(l->proto),
		       l->address, l->port, config_tls_name(l->tls));
	}
	printf("  the certificate is self-signed: clients must be told to trust"
	       " %s\n", cfg->tls_cert ? cfg->tls_cert : "it");
}

/* Hands the data tree to the daemon's user when we are root. */
static void give_data(const struct posthorn_config *cfg)
{
	ctl_give_to_daemon(cfg, cfg->data_dir, 1);
}

int ctl_init(struct ctl *ctl, int argc, char **argv)
{
	struct init_opts o = {.listen = "127.0.0.1"};
	char host[256] = "";
	int help = 0;
	(void)ctl;
	int rc = parse_init_args(argc, argv, &o, &help);
	if (help)
		fputs(init_usage, stdout);
	if (rc != CTL_OK || help)
		return rc;
	if (!o.hostname) {
		if (gethostname(host, sizeof host - 1) < 0 || !*host)
			return ctl_fail("cannot tell the hostname: use --hostname");
		o.hostname = host;
	}
	if (!o.ndomains)
		o.domains[o.ndomains++] = (char *)o.hostname;
	struct buf conf = BUF_INIT, err = BUF_INIT;
	struct posthorn_config cfg;
	struct stat st;
	in_dir(o.dir, "posthorn.conf", &conf);
	if (!conf.data)
		return ctl_fail("out of memory");
	if (!o.force && stat(conf.data, &st) == 0) {
		rc = ctl_fail("%s already exists: use --force to overwrite the config and"
		              " certificate (users, aliases and mail are kept)", conf.data);
	} else if (fs_mkdirs(o.dir, 0755) < 0) {
		rc = ctl_fail("%s: %s", o.dir, strerror(errno));
	} else if (init_create(&o, &conf) < 0) {
		rc = CTL_FAIL;
	} else if (config_load(conf.data, &cfg, &err) < 0) {
		rc = ctl_fail("the new config does not load: %s", buf_cstr(&err));
	} else {
		give_data(&cfg);
		print_next_steps(conf.data, &cfg);
		config_free(&cfg);
	}
	buf_free(&conf);
	buf_free(&err);
	return rc;
}
