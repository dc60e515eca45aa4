/* Unit tests for src/lib/config: every key, every default, every error
 * message with its exact "path:LINE: " prefix, CIDR matching and the round
 * trip of config_write_default through config_load. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/lib/config.h"

/* One temp directory for the whole file; each test writes its config to
 * DIR/c.conf, so messages read "DIR/c.conf:LINE: ...". */
static char dir[64];
static char conf[96];

static int group_setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test-config-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof conf, "%s/c.conf", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_conf(const char *text, size_t len)
{
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* Loads text; returns config_load's result, the error text in err. */
static int load(const char *text, struct posthorn_config *cfg, struct buf *err)
{
	write_conf(text, strlen(text));
	buf_reset(err);
	return config_load(conf, cfg, err);
}

#define BASE "hostname = mx.example.org\ndomains = example.org\n"

static void load_ok(const char *text, struct posthorn_config *cfg)
{
	struct buf err = BUF_INIT;
	int r = load(text, cfg, &err);
	if (r != 0)
		fail_msg("config_load failed: %s", buf_cstr(&err));
	assert_int_equal(err.len, 0); /* success leaves no message behind */
	buf_free(&err);
}

/* Asserts that text fails with exactly "CONF:LINE: reason" (line 0: no
 * line number) and that cfg was left zeroed. */
static void expect_error(const char *text, int line, const char *reason)
{
	struct posthorn_config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(load(text, &cfg, &err), -1);
	char want[1024];
	if (line)
		snprintf(want, sizeof want, "%s:%d: %s", conf, line, reason);
	else
		snprintf(want, sizeof want, "%s: %s", conf, reason);
	assert_string_equal(buf_cstr(&err), want);
	assert_null(cfg.hostname);
	assert_null(cfg.listeners);
	assert_int_equal(cfg.ndomains, 0);
	buf_free(&err);
}

static void test_defaults(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok("domains = Example.ORG.\n", &cfg);
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	assert_string_equal(cfg.hostname, host);
	assert_int_equal(cfg.ndomains, 1);
	assert_string_equal(cfg.domains[0], "example.org");
	char want[128];
	snprintf(want, sizeof want, "%s/data", dir);
	assert_string_equal(cfg.data_dir, want);
	assert_string_equal(cfg.path, conf);
	assert_string_equal(cfg.dir, dir);
	assert_null(cfg.tls_cert);
	assert_null(cfg.tls_key);
	assert_null(cfg.pid_file);
	assert_null(cfg.resolver);
	assert_string_equal(cfg.run_user, getpwnam("posthorn") ? "posthorn" : "nobody");
	assert_int_equal(cfg.plaintext_auth_loopback, 0);
	assert_int_equal(cfg.bare_lf_reject, 0);
	assert_int_equal(cfg.nlisteners, 0);
	/* relay_networks left out: loopback */
	assert_int_equal(cfg.nrelay, 2);
	assert_int_equal(cfg.relay_networks[0].family, AF_INET);
	assert_int_equal(cfg.relay_networks[0].prefix, 8);
	assert_int_equal(cfg.relay_networks[1].family, AF_INET6);
	assert_int_equal(cfg.relay_networks[1].prefix, 128);
	const struct cfg_limits *l = &cfg.limits;
	assert_int_equal(l->message_size, 25 * 1024 * 1024);
	assert_int_equal(l->recipients, 100);
	assert_int_equal(l->line_length, 1000);
	assert_int_equal(l->header_size, 1024 * 1024);
	assert_int_equal(l->commands_before_mail, 50);
	assert_int_equal(l->errors, 10);
	assert_int_equal(l->connections, 1000);
	assert_int_equal(l->connections_per_ip, 20);
	assert_int_equal(l->command_timeout, 300);
	assert_int_equal(l->data_timeout, 180);
	assert_int_equal(l->auth_failures, 3);
	assert_int_equal(l->auth_delay_ms, 1000);
	assert_int_equal(l->shutdown_timeout, 30);
	config_free(&cfg);
	assert_null(cfg.path);
	config_free(&cfg); /* twice is harmless */
}

static void test_every_main_key(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok("# a comment\n"
	        "   # an indented comment\n"
	        "hostname=MX.example.org   # trailing comment\n"
	        "domains = a.org,b.org  c.org ,\td.org\n"
	        "data_dir = /srv/mail\n"
	        "tls_cert = tls/cert.pem\n"
	        "tls_key = /etc/key.pem\n"
	        "user = mail#user\n"
	        "pid_file = run/p.pid\n"
	        "relay_networks = 10.0.0.0/8 2001:db8::/32\n"
	        "plaintext_auth_loopback = on\n"
	        "bare_lf = reject\n"
	        "resolver = [::1]:5353\n", &cfg);
	assert_string_equal(cfg.hostname, "MX.example.org");
	assert_int_equal(cfg.ndomains, 4);
	assert_string_equal(cfg.domains[0], "a.org");
	assert_string_equal(cfg.domains[3], "d.org");
	assert_string_equal(cfg.data_dir, "/srv/mail");
	char want[128];
	snprintf(want, sizeof want, "%s/tls/cert.pem", dir);
	assert_string_equal(cfg.tls_cert, want);
	assert_string_equal(cfg.tls_key, "/etc/key.pem");
	assert_string_equal(cfg.run_user, "mail#user"); /* '#' not after a blank */
	snprintf(want, sizeof want, "%s/run/p.pid", dir);
	assert_string_equal(cfg.pid_file, want);
	assert_int_equal(cfg.nrelay, 2);
	assert_int_equal(cfg.relay_networks[1].family, AF_INET6);
	assert_int_equal(cfg.relay_networks[1].prefix, 32);
	assert_int_equal(cfg.plaintext_auth_loopback, 1);
	assert_int_equal(cfg.bare_lf_reject, 1);
	assert_string_equal(cfg.resolver, "[::1]:5353");
	config_free(&cfg);
}

static void test_every_limit_key(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok(BASE "[limits]\n"
	        "message_size = 10M\n"
	        "recipients = 5\n"
	        "line_length = 2k\n"
	        "header_size = 65536\n"
	        "commands_before_mail = 7\n"
	        "errors = 4\n"
	        "connections = 9\n"
	        "connections_per_ip = 2\n"
	        "command_timeout = 5m\n"
	        "data_timeout = 1h\n"
	        "auth_failures = 6\n"
	        "auth_delay_ms = 0\n"
	        "shutdown_timeout = 45s\n", &cfg);
	const struct cfg_limits *l = &cfg.limits;
	assert_int_equal(l->message_size, 10 * 1024 * 1024);
	assert_int_equal(l->recipients, 5);
	assert_int_equal(l->line_length, 2048);
	assert_int_equal(l->header_size, 65536);
	assert_int_equal(l->commands_before_mail, 7);
	assert_int_equal(l->errors, 4);
	assert_int_equal(l->connections, 9);
	assert_int_equal(l->connections_per_ip, 2);
	assert_int_equal(l->command_timeout, 300);
	assert_int_equal(l->data_timeout, 3600);
	assert_int_equal(l->auth_failures, 6);
	assert_int_equal(l->auth_delay_ms, 0);
	assert_int_equal(l->shutdown_timeout, 45);
	config_free(&cfg);
	load_ok(BASE "[limits]\nmessage_size = 1G\nline_length = 512\n"
	        "command_timeout = 1\n", &cfg);
	assert_int_equal(cfg.limits.message_size, 1024UL * 1024 * 1024);
	assert_int_equal(cfg.limits.line_length, 512);
	assert_int_equal(cfg.limits.command_timeout, 1);
	config_free(&cfg);
}

static void test_booleans(void **state)
{
	(void)state;
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
	static const char *const no[] = {"no", "false", "off", "0", "No", "OFF"};
	char text[256];
	struct posthorn_config cfg;
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		snprintf(text, sizeof text, BASE "plaintext_auth_loopback = %s\n", yes[i]);
		load_ok(text, &cfg);
		assert_int_equal(cfg.plaintext_auth_loopback, 1);
		config_free(&cfg);
		snprintf(text, sizeof text, BASE "plaintext_auth_loopback = %s\n", no[i]);
		load_ok(text, &cfg);
		assert_int_equal(cfg.plaintext_auth_loopback, 0);
		config_free(&cfg);
	}
	expect_error(BASE "plaintext_auth_loopback = maybe\n", 3,
	             "plaintext_auth_loopback: 'maybe' is not yes or no");
	expect_error(BASE "plaintext_auth_loopback = yes please\n", 3,
	             "plaintext_auth_loopback: 'yes please' is not yes or no");
}

static void test_crlf_and_no_final_newline(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok("hostname = h.example\r\n\r\ndomains = example.org", &cfg);
	assert_string_equal(cfg.hostname, "h.example");
	assert_string_equal(cfg.domains[0], "example.org");
	config_free(&cfg);
}

static void test_number_errors(void **state)
{
	(void)state;
	expect_error(BASE "[limits]\nmessage_size = 10KB\n", 4,
	             "message_size: '10KB' is not a number (suffix K, M or G allowed)");
	expect_error(BASE "[limits]\nmessage_size = -5\n", 4,
	             "message_size: '-5' is not a number (suffix K, M or G allowed)");
	expect_error(BASE "[limits]\nmessage_size = 99999999999999999999999\n", 4,
	             "message_size: '99999999999999999999999' is not a number "
	             "(suffix K, M or G allowed)");
	expect_error(BASE "[limits]\nmessage_size = 1023\n", 4,
	             "message_size: 1023 is out of range (1024 to 1099511627776)");
	expect_error(BASE "[limits]\nmessage_size = 17179869184G\n", 4,
	             "message_size: '17179869184G' is not a number "
	             "(suffix K, M or G allowed)");
	expect_error(BASE "[limits]\nline_length = 511\n", 4,
	             "line_length: 511 is out of range (512 to 1048576)");
	expect_error(BASE "[limits]\nrecipients = 0\n", 4,
	             "recipients: 0 is out of range (1 to 100000)");
	expect_error(BASE "[limits]\nrecipients = 5k\n", 4,
	             "recipients: '5k' is not a number");
	expect_error(BASE "[limits]\ncommand_timeout = 0\n", 4,
	             "command_timeout: 0 is out of range (1 to 86400)");
	expect_error(BASE "[limits]\ndata_timeout = 2d\n", 4,
	             "data_timeout: '2d' is not a number of seconds "
	             "(suffix s, m or h allowed)");
	expect_error(BASE "[limits]\nerrors = 3000000000\n", 4,
	             "errors: 3000000000 is out of range (1 to 2147483647)");
	expect_error(BASE "[limits]\nerrors =\n", 4, "errors: empty value");
	expect_error(BASE "[limits]\nauth_delay_ms = 60001\n", 4,
	             "auth_delay_ms: 60001 is out of range (0 to 60000)");
	expect_error(BASE "[limits]\nshutdown_timeout = 25h\n", 4,
	             "shutdown_timeout: 25h is out of range (1 to 86400)");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("domains = example.org\nfoo = 1\n", 2, "unknown key 'foo'");
	expect_error(BASE "[limits]\nport = 25\n", 4,
	             "unknown key 'port' in [limits]");
	expect_error(BASE "just words\n", 3, "expected 'key = value' or '[section]'");
	expect_error(BASE " = value\n", 3, "missing key before '='");
	expect_error(BASE "Hostname = x\n", 3,
	             "bad key name 'Hostname' (lowercase letters, digits and '_')");
	expect_error(BASE "hostname = other.example\n", 3,
	             "duplicate key 'hostname' (first set on line 1)");
	expect_error(BASE "[limits]\nerrors = 3\n\nerrors = 4\n", 6,
	             "duplicate key 'errors' (first set on line 4)");
	expect_error(BASE "[limits]\n[limits]\n", 4,
	             "duplicate section [limits] (first on line 3)");
	expect_error(BASE "[global]\n", 3, "unknown section [global]");
	expect_error(BASE "[limits\n", 3, "section header must end with ']'");
	expect_error(BASE "[listener]\n", 3, "[listener] needs a name: [listener NAME]");
	expect_error(BASE "[listener a/b]\n", 3,
	             "listener name 'a/b' must be 1-64 letters, digits, '.', '_' or '-'");
	expect_error(BASE "hostname2 = x\n", 3, "unknown key 'hostname2'");
}

static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "domains = example.org\nhostname = a\0b\n";
	write_conf(text, sizeof text - 1);
	struct posthorn_config cfg;
	struct buf err = BUF_INIT;
	assert_int_equal(config_load(conf, &cfg, &err), -1);
	char want[256];
	snprintf(want, sizeof want, "%s:2: NUL byte in the file", conf);
	assert_string_equal(buf_cstr(&err), want);
	buf_free(&err);
}

static void test_file_errors(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	struct buf err = BUF_INIT;
	char missing[128];
	snprintf(missing, sizeof missing, "%s/missing.conf", dir);
	assert_int_equal(config_load(missing, &cfg, &err), -1);
	char want[256];
	snprintf(want, sizeof want, "%s: No such file or directory", missing);
	assert_string_equal(buf_cstr(&err), want);
	buf_reset(&err);
	assert_int_equal(config_load(dir, &cfg, &err), -1);
	snprintf(want, sizeof want, "%s: Is a directory", dir);
	assert_string_equal(buf_cstr(&err), want);
	/* larger than 1 MiB */
	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big);
	assert_non_null(text);
	memset(text, '#', big);
	write_conf(text, big);
	free(text);
	buf_reset(&err);
	assert_int_equal(config_load(conf, &cfg, &err), -1);
	snprintf(want, sizeof want, "%s: file is larger than 1 MiB", conf);
	assert_string_equal(buf_cstr(&err), want);
	buf_free(&err);
}

static void test_main_value_errors(void **state)
{
	(void)state;
	expect_error("", 0, "no local domains: set 'domains = example.org'");
	expect_error("hostname = h.example\ndomains =\n", 2, "domains: empty value");
	expect_error("domains = , ,\n", 1,
	             "no local domains: set 'domains = example.org'");
	expect_error("domains = a..b\n", 1, "domains: 'a..b' is not a domain name");
	expect_error("domains = -a.org\n", 1, "domains: '-a.org' is not a domain name");
	expect_error("domains = a-.org\n", 1, "domains: 'a-.org' is not a domain name");
	expect_error("domains = a_b.org\n", 1, "domains: 'a_b.org' is not a domain name");
	expect_error("domains = x.org\nhostname = [1.2.3.4]\n", 2,
	             "hostname: '[1.2.3.4]' is not a domain name");
	expect_error("domains = x.org\nhostname = .\n", 2,
	             "hostname: '.' is not a domain name");
	char label[100];
	memset(label, 'a', 64);
	strcpy(label + 64, ".org");
	char text[256];
	snprintf(text, sizeof text, "domains = %s\n", label);
	char reason[200];
	snprintf(reason, sizeof reason, "domains: '%s' is not a domain name", label);
	expect_error(text, 1, reason);
	expect_error(BASE "user =\n", 3, "user: empty value");
	expect_error(BASE "bare_lf = drop\n", 3,
	             "bare_lf: 'drop' is not normalise or reject");
	expect_error(BASE "resolver = dns.example\n", 3,
	             "resolver: 'dns.example' is not ADDRESS, IPV4:PORT or [IPV6]:PORT");
	expect_error(BASE "resolver = 1.2.3.4:0\n", 3,
	             "resolver: '1.2.3.4:0' is not ADDRESS, IPV4:PORT or [IPV6]:PORT");
	expect_error(BASE "resolver = [::1\n", 3,
	             "resolver: '[::1' is not ADDRESS, IPV4:PORT or [IPV6]:PORT");
	expect_error(BASE "resolver = [::1]x\n", 3,
	             "resolver: '[::1]x' is not ADDRESS, IPV4:PORT or [IPV6]:PORT");
}

static void test_optional_values(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok(BASE "bare_lf = normalize\nresolver = 1.2.3.4:53\ntls_cert =\n"
	        "relay_networks =\npid_file =\n", &cfg);
	assert_int_equal(cfg.bare_lf_reject, 0);
	assert_string_equal(cfg.resolver, "1.2.3.4:53");
	assert_null(cfg.tls_cert);
	assert_null(cfg.pid_file);
	assert_int_equal(cfg.nrelay, 0); /* explicitly empty: nobody relays */
	config_free(&cfg);
	load_ok(BASE "resolver = ::1\nbare_lf = normalise\n", &cfg);
	assert_string_equal(cfg.resolver, "::1");
	config_free(&cfg);
}

static void test_listener_defaults(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok(BASE
	        "[listener mx]\naddress = 0.0.0.0\nprotocol = smtp\n"
	        "[listener sub]\naddress = ::\nprotocol = submission\nport = 10587\n"
	        "[listener i]\naddress = 127.0.0.1\nprotocol = imap\n"
	        "[listener p]\naddress = 127.0.0.1\nprotocol = pop3\nvrfy = yes\n"
	        "require_auth = yes\n", &cfg);
	assert_int_equal(cfg.nlisteners, 4);
	const struct cfg_listener *l = cfg.listeners;
	assert_string_equal(l[0].name, "mx");
	assert_string_equal(l[0].address, "0.0.0.0");
	assert_int_equal(l[0].port, 25);
	assert_int_equal(l[0].proto, CFG_PROTO_SMTP);
	assert_int_equal(l[0].tls, CFG_TLS_NONE); /* no certificate */
	assert_int_equal(l[0].require_auth, 0);
	assert_int_equal(l[0].vrfy, 0);
	assert_int_equal(l[0].line, 3);
	assert_int_equal(l[1].port, 10587);
	assert_int_equal(l[1].require_auth, 1);
	assert_int_equal(l[1].tls, CFG_TLS_NONE);
	assert_int_equal(l[2].port, 143);
	assert_int_equal(l[2].require_auth, 0);
	assert_int_equal(l[2].line, 10);
	assert_int_equal(l[3].port, 110);
	assert_int_equal(l[3].vrfy, 1);
	assert_int_equal(l[3].require_auth, 1);
	config_free(&cfg);
	expect_error(BASE "[listener s]\naddress = 127.0.0.1\nprotocol = smtps\n",
	             3, "[listener s]: tls = implicit needs tls_cert and tls_key");
}

static void test_listener_tls(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok(BASE "tls_cert = c.pem\ntls_key = k.pem\n"
	        "[listener a]\naddress = ::1\nprotocol = smtp\n"
	        "[listener b]\naddress = ::1\nprotocol = imaps\n"
	        "[listener c]\naddress = ::1\nprotocol = pop3\ntls = none\n"
	        "[listener d]\naddress = ::1\nprotocol = imap\ntls = implicit\nport = 1\n"
	        "[listener e]\naddress = ::1\nprotocol = submission\nrequire_auth = no\n"
	        "port = 65535\n",
	        &cfg);
	assert_int_equal(cfg.listeners[0].tls, CFG_TLS_STARTTLS);
	assert_int_equal(cfg.listeners[1].tls, CFG_TLS_IMPLICIT);
	assert_int_equal(cfg.listeners[1].port, 993);
	assert_int_equal(cfg.listeners[2].tls, CFG_TLS_NONE);
	assert_int_equal(cfg.listeners[3].tls, CFG_TLS_IMPLICIT);
	assert_int_equal(cfg.listeners[4].require_auth, 0);
	assert_int_equal(cfg.listeners[4].port, 65535);
	config_free(&cfg);
	/* a key alone is not enough */
	expect_error(BASE "tls_key = k.pem\n[listener a]\naddress = ::1\n"
	             "protocol = smtp\ntls = starttls\n", 7,
	             "[listener a]: tls = starttls needs tls_cert and tls_key");
	expect_error(BASE "tls_cert = c\ntls_key = k\n[listener a]\naddress = ::1\n"
	             "protocol = pop3s\ntls = starttls\n", 8,
	             "[listener a]: protocol pop3s needs tls = implicit");
}

static void test_listener_errors(void **state)
{
	(void)state;
	expect_error(BASE "[listener a]\naddress = 127.0.0.1\n", 3,
	             "[listener a]: 'protocol' is not set (smtp, submission, "
	             "smtps, pop3, pop3s, imap, imaps)");
	expect_error(BASE "[listener a]\nprotocol = smtp\n", 3,
	             "[listener a]: 'address' is not set");
	expect_error(BASE "[listener a]\nprotocol = lmtp\n", 4,
	             "protocol: 'lmtp' is not one of smtp, submission, smtps, "
	             "pop3, pop3s, imap, imaps");
	expect_error(BASE "[listener a]\ntls = ssl\n", 4,
	             "tls: 'ssl' is not one of none, starttls, implicit");
	expect_error(BASE "[listener a]\naddress = localhost\n", 4,
	             "address: 'localhost' is not a numeric IPv4 or IPv6 address");
	expect_error(BASE "[listener a]\naddress = 1.2.3.4:25\n", 4,
	             "address: '1.2.3.4:25' is not a numeric IPv4 or IPv6 address");
	expect_error(BASE "[listener a]\nport = 0\n", 4,
	             "port: 0 is out of range (1 to 65535)");
	expect_error(BASE "[listener a]\nport = 65536\n", 4,
	             "port: 65536 is out of range (1 to 65535)");
	expect_error(BASE "[listener a]\nport = 25k\n", 4,
	             "port: '25k' is not a number");
	expect_error(BASE "[listener a]\nvrfy = sometimes\n", 4,
	             "vrfy: 'sometimes' is not yes or no");
	expect_error(BASE "[listener a]\nmessage_size = 1\n", 4,
	             "unknown key 'message_size' in [listener a]");
	expect_error(BASE "[listener a]\nport = 1\nport = 2\n", 5,
	             "duplicate key 'port' (first set on line 4)");
	expect_error(BASE "[listener a]\naddress = ::1\nprotocol = smtp\n"
	             "[listener a]\n", 6,
	             "duplicate section [listener a] (first on line 3)");
	/* the same address and port, spelt differently */
	expect_error(BASE "[listener a]\naddress = ::1\nprotocol = smtp\n"
	             "[listener b]\naddress = 0:0::1\nprotocol = submission\nport = 25\n",
	             6, "[listener b]: 0:0::1 port 25 is already used by "
	             "[listener a] on line 3");
	/* per-listener keys reset with each section */
	struct posthorn_config cfg;
	load_ok(BASE "[listener a]\naddress = ::1\nprotocol = smtp\n"
	        "[listener b]\naddress = ::1\nprotocol = smtp\nport = 26\n", &cfg);
	assert_int_equal(cfg.nlisteners, 2);
	config_free(&cfg);
}

static void fill_v4(struct sockaddr_in *sin, const char *ip)
{
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void fill_v6(struct sockaddr_in6 *sin6, const char *ip)
{
	memset(sin6, 0, sizeof *sin6);
	sin6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

/* relay check of ip (either family) against networks. */
static int relays(const char *networks, const char *ip)
{
	char text[512];
	snprintf(text, sizeof text, BASE "relay_networks = %s\n", networks);
	struct posthorn_config cfg;
	load_ok(text, &cfg);
	struct sockaddr_storage ss;
	if (strchr(ip, ':'))
		fill_v6((struct sockaddr_in6 *)&ss, ip);
	else
		fill_v4((struct sockaddr_in *)&ss, ip);
	int r = config_relay_allowed(&cfg, (struct sockaddr *)&ss);
	config_free(&cfg);
	return r;
}

static void test_relay_networks(void **state)
{
	(void)state;
	assert_true(relays("10.0.0.0/8", "10.255.1.2"));
	assert_false(relays("10.0.0.0/8", "11.0.0.1"));
	assert_true(relays("10.0.0.0/8", "::ffff:10.1.2.3"));   /* v4-mapped */
	assert_false(relays("10.0.0.0/8", "::10.1.2.3"));       /* v4-compatible */
	assert_true(relays("0.0.0.0/0", "203.0.113.9"));
	assert_true(relays("0.0.0.0/0", "::ffff:203.0.113.9"));
	assert_false(relays("0.0.0.0/0", "2001:db8::1"));
	assert_true(relays("192.0.2.7/32", "192.0.2.7"));
	assert_false(relays("192.0.2.7/32", "192.0.2.6"));
	assert_true(relays("192.0.2.7", "192.0.2.7"));           /* implied /32 */
	assert_true(relays("192.168.1.77/24", "192.168.1.3"));   /* host bits */
	assert_true(relays("192.168.0.0/23", "192.168.1.255"));
	assert_false(relays("192.168.0.0/23", "192.168.2.0"));
	assert_true(relays("::/0", "2001:db8::1"));
	assert_true(relays("::/0", "198.51.100.1"));             /* v4 as mapped */
	assert_true(relays("2001:db8::1/128", "2001:db8::1"));
	assert_false(relays("2001:db8::1/128", "2001:db8::2"));
	assert_true(relays("2001:db8::/33", "2001:db8:7fff::1"));
	assert_false(relays("2001:db8::/33", "2001:db8:8000::1"));
	assert_true(relays("::ffff:10.0.0.0/104", "10.9.9.9"));
	assert_false(relays("::1/128", "127.0.0.1"));
	assert_false(relays("", "127.0.0.1"));
	/* a list mixing both separators */
	assert_true(relays("10.0.0.0/8,  ::1 192.0.2.0/24", "192.0.2.200"));
}

static void test_relay_network_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/",
	                                  "10.0.0.0/-1", "10.0.0/8", "host.example",
	                                  "10.0.0.0/8/8", "10.0.0.0/1x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char text[256], reason[256];
		snprintf(text, sizeof text, BASE "relay_networks = 127.0.0.1, %s\n",
		         bad[i]);
		snprintf(reason, sizeof reason, "relay_networks: '%s' is not an "
		         "address or address/prefix (prefix 0-32 for IPv4, 0-128 "
		         "for IPv6)", bad[i]);
		expect_error(text, 3, reason);
	}
	struct posthorn_config cfg;
	load_ok(BASE, &cfg);
	struct sockaddr_un_like { sa_family_t family; char path[32]; } un = {AF_UNIX, "x"};
	assert_false(config_relay_allowed(&cfg, (struct sockaddr *)&un));
	assert_false(config_relay_allowed(&cfg, NULL));
	assert_false(config_relay_allowed(NULL, NULL));
	config_free(&cfg);
}

static int loopback(const char *ip)
{
	struct sockaddr_storage ss;
	if (strchr(ip, ':'))
		fill_v6((struct sockaddr_in6 *)&ss, ip);
	else
		fill_v4((struct sockaddr_in *)&ss, ip);
	return config_is_loopback((struct sockaddr *)&ss);
}

static void test_is_loopback(void **state)
{
	(void)state;
	assert_true(loopback("127.0.0.1"));
	assert_true(loopback("127.255.255.254"));
	assert_true(loopback("::1"));
	assert_true(loopback("::ffff:127.0.0.1"));
	assert_false(loopback("128.0.0.1"));
	assert_false(loopback("10.0.0.1"));
	assert_false(loopback("::"));
	assert_false(loopback("::2"));
	assert_false(loopback("::127.0.0.1"));
	assert_false(loopback("::ffff:10.0.0.1"));
	assert_false(config_is_loopback(NULL));
}

static void test_local_domain(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok("hostname = h.example\ndomains = example.org, Example.NET\n", &cfg);
	assert_true(config_is_local_domain(&cfg, "example.org"));
	assert_true(config_is_local_domain(&cfg, "EXAMPLE.org."));
	assert_true(config_is_local_domain(&cfg, "example.net"));
	assert_false(config_is_local_domain(&cfg, "sub.example.org"));
	assert_false(config_is_local_domain(&cfg, "example.or"));
	assert_false(config_is_local_domain(&cfg, ""));
	assert_false(config_is_local_domain(&cfg, "."));
	assert_false(config_is_local_domain(&cfg, NULL));
	config_free(&cfg);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(config_proto_name(CFG_PROTO_SMTP), "smtp");
	assert_string_equal(config_proto_name(CFG_PROTO_SUBMISSION), "submission");
	assert_string_equal(config_proto_name(CFG_PROTO_IMAPS), "imaps");
	assert_string_equal(config_proto_name((enum cfg_proto)99), "unknown");
	assert_string_equal(config_tls_name(CFG_TLS_NONE), "none");
	assert_string_equal(config_tls_name(CFG_TLS_STARTTLS), "starttls");
	assert_string_equal(config_tls_name(CFG_TLS_IMPLICIT), "implicit");
	assert_string_equal(config_tls_name((enum cfg_tls)-1), "unknown");
}

static void round_trip(const char *listen, int base, int loop)
{
	char *domains[] = {"example.org", "example.net"};
	struct buf out = BUF_INIT;
	buf_puts(&out, "keep");
	assert_int_equal(config_write_default(&out, "mail.example.org", domains, 2,
	                                      listen, base), 0);
	assert_memory_equal(out.data, "keep", 4);
	struct posthorn_config cfg;
	load_ok(buf_cstr(&out) + 4, &cfg);
	assert_string_equal(cfg.hostname, "mail.example.org");
	assert_int_equal(cfg.ndomains, 2);
	assert_string_equal(cfg.domains[1], "example.net");
	assert_int_equal(cfg.plaintext_auth_loopback, loop);
	assert_non_null(cfg.tls_cert);
	assert_non_null(cfg.pid_file);
	assert_int_equal(cfg.nrelay, 2);
	static const struct { const char *name; int port; enum cfg_tls tls; } want[] = {
		{"smtp", 25, CFG_TLS_STARTTLS}, {"submission", 587, CFG_TLS_STARTTLS},
		{"smtps", 465, CFG_TLS_IMPLICIT}, {"pop3", 110, CFG_TLS_STARTTLS},
		{"pop3s", 995, CFG_TLS_IMPLICIT}, {"imap", 143, CFG_TLS_STARTTLS},
		{"imaps", 993, CFG_TLS_IMPLICIT},
	};
	assert_int_equal(cfg.nlisteners, 7);
	for (size_t i = 0; i < 7; i++) {
		const struct cfg_listener *l = &cfg.listeners[i];
		assert_string_equal(l->name, want[i].name);
		assert_string_equal(config_proto_name(l->proto), want[i].name);
		assert_string_equal(l->address, listen);
		assert_int_equal(l->port, base + want[i].port);
		assert_int_equal(l->tls, want[i].tls);
		assert_int_equal(l->vrfy, 0);
	}
	assert_int_equal(cfg.listeners[0].require_auth, 0);
	assert_int_equal(cfg.listeners[1].require_auth, 1);
	assert_int_equal(cfg.listeners[2].require_auth, 1);
	/* every limit is listed, commented out, at its default */
	static const char *const limits[] = {"message_size", "recipients",
		"line_length", "header_size", "commands_before_mail", "errors",
		"connections", "connections_per_ip", "command_timeout",
		"data_timeout", "auth_failures", "auth_delay_ms", "shutdown_timeout"};
	for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
		char line[64];
		snprintf(line, sizeof line, "\n#%s = ", limits[i]);
		assert_non_null(strstr(out.data, line));
	}
	assert_int_equal(cfg.limits.message_size, 25 * 1024 * 1024);
	config_free(&cfg);
	buf_free(&out);
}

static void test_write_default_round_trip(void **state)
{
	(void)state;
	round_trip("127.0.0.1", 10000, 1);
	round_trip("::1", 0, 1);
	round_trip("192.0.2.1", 0, 0);
	round_trip("::", 20000, 0);
}

/* The commented-out limits, uncommented, still load and give the defaults:
 * the file documents the real values. */
static void test_write_default_limits_uncommented(void **state)
{
	(void)state;
	char *domains[] = {"example.org"};
	struct buf out = BUF_INIT;
	assert_int_equal(config_write_default(&out, "h.example.org", domains, 1,
	                                      "127.0.0.1", 0), 0);
	struct buf text = BUF_INIT;
	for (char *line = buf_cstr(&out); *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);
		int commented_limit = line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' &&
		                      strstr(line, " = ") && strstr(line, " = ") < line + n &&
		                      strncmp(line, "#user", 5) && strncmp(line, "#resolver", 9);
		buf_append(&text, line + commented_limit, n - (size_t)commented_limit);
		line += n;
	}
	struct posthorn_config cfg;
	load_ok(buf_cstr(&text), &cfg);
	struct cfg_limits defaults = cfg.limits;
	config_free(&cfg);
	load_ok(buf_cstr(&out), &cfg);
	assert_memory_equal(&defaults, &cfg.limits, sizeof defaults);
	config_free(&cfg);
	buf_free(&text);
	buf_free(&out);
}

static void test_write_default_errors(void **state)
{
	(void)state;
	char *domains[] = {"example.org", "bad domain"};
	struct buf out = BUF_INIT;
	assert_int_equal(config_write_default(&out, "h.example", domains, 0,
	                                      "127.0.0.1", 0), -1);
	assert_int_equal(config_write_default(&out, "h.example", domains, 2,
	                                      "127.0.0.1", 0), -1);
	assert_int_equal(config_write_default(&out, "h_x", domains, 1,
	                                      "127.0.0.1", 0), -1);
	assert_int_equal(config_write_default(&out, NULL, domains, 1,
	                                      "127.0.0.1", 0), -1);
	assert_int_equal(config_write_default(&out, "h.example", domains, 1,
	                                      "localhost", 0), -1);
	assert_int_equal(config_write_default(&out, "h.example", domains, 1,
	                                      "127.0.0.1", -1), -1);
	assert_int_equal(config_write_default(&out, "h.example", domains, 1,
	                                      "127.0.0.1", 64541), -1);
	assert_int_equal(out.len, 0);
	assert_int_equal(config_write_default(&out, "h.example", domains, 1,
	                                      "127.0.0.1", 64540), 0);
	buf_reset(&out);
	/* a buffer too small: nothing is left half-written */
	struct buf small;
	buf_init(&small, 100);
	assert_int_equal(config_write_default(&small, "h.example", domains, 1,
	                                      "127.0.0.1", 0), -1);
	assert_int_equal(small.len, 0);
	buf_free(&small);
	buf_free(&out);
}


/* ---- [queue] and [transport] ---- */

static void test_queue_defaults(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok(BASE, &cfg);
	const struct cfg_queue *q = &cfg.queue;
	static const int retry[] = {60, 300, 900, 1800, 3600, 7200, 14400};
	assert_int_equal(q->nretry, 7);
	assert_memory_equal(q->retry, retry, sizeof retry);
	assert_int_equal(q->lifetime, 5 * 86400);
	assert_int_equal(q->delay_warning, 0);
	assert_int_equal(q->connections, 20);
	assert_int_equal(q->connections_per_domain, 4);
	assert_int_equal(q->remote_port, 25);
	assert_int_equal(q->max_received, 50);
	assert_int_equal(q->command_timeout, 300);
	assert_int_equal(q->scan_interval, 60);
	assert_int_equal(cfg.ntransports, 0);
	assert_null(cfg.warnings);
	assert_null(config_transport(&cfg, "example.com"));
	config_free(&cfg);
}

static void test_queue_keys(void **state)
{
	(void)state;
	struct posthorn_config cfg;
	load_ok(BASE "[queue]\nretry = 5s 2m,1h , 1d\nlifetime = 2d\n"
	        "delay_warning = 4h\nconnections = 3\nconnections_per_domain = 1\n"
	        "remote_port = 2525\nmax_received = 10\ncommand_timeout = 1m\n"
	        "scan_interval = 2\n", &cfg);
	const struct cfg_queue *q = &cfg.queue;
	assert_int_equal(q->nretry, 4);
	assert_int_equal(q->retry[0], 5);
	assert_int_equal(q->retry[1], 120);
	assert_int_equal(q->retry[2], 3600);
	assert_int_equal(q->retry[3], 86400);
	assert_int_equal(q->lifetime, 2 * 86400);
	assert_int_equal(q->delay_warning, 4 * 3600);
	assert_int_equal(q->connections, 3);
	assert_int_equal(q->connections_per_domain, 1);
	assert_int_equal(q->remote_port, 2525);
	assert_int_equal(q->max_received, 10);
	assert_int_equal(q->command_timeout, 60);
	assert_int_equal(q->scan_interval, 2);
	config_free(&cfg);
	/* one wait is enough; it repeats */
	load_ok(BASE "[queue]\nretry = 1\n", &cfg);
	assert_int_equal(cfg.queue.nretry, 1);
	assert_int_equal(cfg.queue.retry[0], 1);
	config_free(&cfg);
}

static void test_queue_errors(void **state)
{
	(void)state;
	expect_error(BASE "[queue]\nretry =\n", 4, "retry: empty value");
	expect_error(BASE "[queue]\nretry = ,\n", 4, "retry: empty value");
	expect_error(BASE "[queue]\nretry = 1m, 5x\n", 4,
	             "retry: '5x' is not a number of seconds (suffix s, m, h or "
	             "d allowed)");
	expect_error(BASE "[queue]\nretry = 0\n", 4,
	             "retry: 0 is out of range (1 to 2592000)");
	expect_error(BASE "[queue]\nretry = 31d\n", 4,
	             "retry: 31d is out of range (1 to 2592000)");
	expect_error(BASE "[queue]\nretry = 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "
	             "16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33\n", 4,
	             "retry: more than 32 waits");
	expect_error(BASE "[queue]\nlifetime = 0\n", 4,
	             "lifetime: 0 is out of range (1 to 31536000)");
	expect_error(BASE "[queue]\nlifetime = 5w\n", 4,
	             "lifetime: '5w' is not a number of seconds (suffix s, m, h "
	             "or d allowed)");
	expect_error(BASE "[queue]\nconnections = 0\n", 4,
	             "connections: 0 is out of range (1 to 1000)");
	expect_error(BASE "[queue]\nremote_port = 65536\n", 4,
	             "remote_port: 65536 is out of range (1 to 65535)");
	expect_error(BASE "[queue]\nmessage_size = 1\n", 4,
	             "unknown key 'message_size' in [queue]");
	expect_error(BASE "[queue]\nlifetime = 1d\nlifetime = 2d\n", 5,
	             "duplicate key 'lifetime' (first set on line 4)");
	expect_error(BASE "[queue]\n[transport]\n[queue]\n", 5,
	             "duplicate section [queue] (first on line 3)");
	expect_error(BASE "[transport]\n[transport]\n", 4,
	             "duplicate section [transport] (first on line 3)");
}

static void write_file(const char *name, const char *text, mode_t mode)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_transport(void **state)
{
	(void)state;
	write_file("relay.pw", "s3cret\nignored\n", 0600);
	struct posthorn_config cfg;
	load_ok(BASE "[transport]\n"
	        "Example.COM = smtp:[Relay.Example.net]:587 auth=me "
	        "password_file=relay.pw\n"
	        ".example.com = smtp:relay2.example.net\n"
	        "* = smtp:[127.0.0.1]:2525 tls=none   # comment\n"
	        "secure.example = dns tls=verify ca_file=/etc/ca.pem\n"
	        "tls.example = smtp:[::1] tls=implicit\n"
	        ".sub.example.com = smtp:[192.0.2.1]:26\n", &cfg);
	assert_int_equal(cfg.ntransports, 6);
	const struct cfg_transport *t = &cfg.transports[0];
	assert_string_equal(t->domain, "example.com");
	assert_string_equal(t->host, "relay.example.net");
	assert_int_equal(t->port, 587);
	assert_int_equal(t->tls, CFG_TTLS_ENCRYPT); /* auth: encrypt by default */
	assert_string_equal(t->auth_user, "me");
	assert_string_equal(t->password, "s3cret");
	assert_int_equal(t->line, 4);
	t = &cfg.transports[1];
	assert_string_equal(t->domain, ".example.com");
	assert_string_equal(t->host, "relay2.example.net");
	assert_int_equal(t->port, 25);
	assert_int_equal(t->tls, CFG_TTLS_MAY);
	assert_null(t->auth_user);
	assert_null(t->password);
	t = &cfg.transports[2];
	assert_string_equal(t->host, "127.0.0.1");
	assert_int_equal(t->port, 2525);
	assert_int_equal(t->tls, CFG_TTLS_NONE);
	t = &cfg.transports[3];
	assert_null(t->host);
	assert_int_equal(t->port, 0);
	assert_int_equal(t->tls, CFG_TTLS_VERIFY);
	assert_string_equal(t->ca_file, "/etc/ca.pem");
	t = &cfg.transports[4];
	assert_string_equal(t->host, "::1");
	assert_int_equal(t->port, 465);
	assert_int_equal(t->tls, CFG_TTLS_IMPLICIT);
	assert_null(cfg.warnings);
	/* lookups: exact, longest suffix, star */
	assert_ptr_equal(config_transport(&cfg, "EXAMPLE.com."), &cfg.transports[0]);
	assert_ptr_equal(config_transport(&cfg, "a.example.com"), &cfg.transports[1]);
	assert_ptr_equal(config_transport(&cfg, "x.sub.example.com"),
	                 &cfg.transports[5]);
	assert_ptr_equal(config_transport(&cfg, "sub.example.com"),
	                 &cfg.transports[1]);
	assert_ptr_equal(config_transport(&cfg, "xexample.com"), &cfg.transports[2]);
	assert_ptr_equal(config_transport(&cfg, "secure.example"),
	                 &cfg.transports[3]);
	assert_ptr_equal(config_transport(&cfg, "other.org"), &cfg.transports[2]);
	assert_string_equal(config_transport_tls_name(CFG_TTLS_VERIFY), "verify");
	assert_string_equal(config_transport_tls_name((enum cfg_transport_tls)9),
	                    "unknown");
	config_free(&cfg);
	/* without "*" a domain with no entry gets NULL (DNS) */
	load_ok(BASE "[transport]\n.example.com = dns tls=encrypt\n", &cfg);
	assert_null(config_transport(&cfg, "example.com"));
	assert_non_null(config_transport(&cfg, "mx.example.com"));
	config_free(&cfg);
}

static void test_transport_password_warning(void **state)
{
	(void)state;
	write_file("open.pw", "pw\n", 0644);
	struct posthorn_config cfg;
	load_ok(BASE "[transport]\n* = smtp:[relay.example.net] auth=u "
	        "password_file=open.pw\n", &cfg);
	assert_string_equal(cfg.transports[0].password, "pw");
	assert_non_null(cfg.warnings);
	char want[256];
	snprintf(want, sizeof want, "%s:4: password_file %s/open.pw can be read "
	         "by every user: chmod o-rwx it\n", conf, dir);
	assert_string_equal(cfg.warnings, want);
	config_free(&cfg);
}

static void test_transport_errors(void **state)
{
	(void)state;
	char want[256];
	write_file("empty.pw", "\n", 0600);
	expect_error(BASE "[transport]\nexample.com = \n", 4,
	             "transport example.com: empty value");
	expect_error(BASE "[transport]\nexa mple.com = dns\n", 4,
	             "transport: 'exa mple.com' is not a domain, .domain or *");
	expect_error(BASE "[transport]\n.. = dns\n", 4,
	             "transport: '..' is not a domain, .domain or *");
	expect_error(BASE "[transport]\nx.org = dns\nX.org = dns\n", 5,
	             "duplicate transport 'x.org' (first on line 4)");
	expect_error(BASE "[transport]\nx.org = lmtp:[h]\n", 4,
	             "transport x.org: 'lmtp:[h]' is not dns or smtp:[HOST]:PORT");
	expect_error(BASE "[transport]\nx.org = smtp:[h\n", 4,
	             "transport x.org: 'smtp:[h': expected smtp:[HOST]:PORT");
	expect_error(BASE "[transport]\nx.org = smtp:[]:25\n", 4,
	             "transport x.org: 'smtp:[]:25': no host name");
	expect_error(BASE "[transport]\nx.org = smtp:[h_x]\n", 4,
	             "transport x.org: 'h_x' is not a host name or address");
	expect_error(BASE "[transport]\nx.org = smtp:[h]:0\n", 4,
	             "transport x.org: port '0' is not 1-65535");
	expect_error(BASE "[transport]\nx.org = smtp:h:99999\n", 4,
	             "transport x.org: port '99999' is not 1-65535");
	expect_error(BASE "[transport]\nx.org = dns tls=maybe\n", 4,
	             "transport x.org: tls: 'maybe' is not one of may, none, "
	             "encrypt, verify, implicit");
	expect_error(BASE "[transport]\nx.org = dns tls=may tls=none\n", 4,
	             "transport x.org: tls given twice");
	expect_error(BASE "[transport]\nx.org = dns foo=1\n", 4,
	             "transport x.org: unknown option 'foo' (tls, auth, "
	             "password_file, ca_file)");
	expect_error(BASE "[transport]\nx.org = dns tls\n", 4,
	             "transport x.org: 'tls' is not OPTION=VALUE");
	expect_error(BASE "[transport]\nx.org = dns tls=implicit\n", 4,
	             "transport x.org: tls=implicit needs a smarthost (smtp:[HOST])");
	expect_error(BASE "[transport]\nx.org = smtp:[h] auth=u\n", 4,
	             "transport x.org: auth and password_file go together");
	write_file("ok.pw", "pw", 0600);
	expect_error(BASE "[transport]\nx.org = smtp:[h] password_file=ok.pw\n", 4,
	             "transport x.org: auth and password_file go together");
	snprintf(want, sizeof want, "transport x.org: password_file %s/nope.pw: "
	         "No such file or directory", dir);
	expect_error(BASE "[transport]\nx.org = smtp:[h] auth=u "
	             "password_file=nope.pw\n", 4, want);
	snprintf(want, sizeof want, "transport x.org: password_file %s/empty.pw: "
	         "empty first line", dir);
	expect_error(BASE "[transport]\nx.org = smtp:[h] auth=u "
	             "password_file=empty.pw\n", 4, want);
	expect_error(BASE "[transport]\nx.org = smtp:[h] auth=u tls=none "
	             "password_file=ok.pw\n", 4,
	             "transport x.org: auth with tls=none would send the password "
	             "in the clear");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_main_key),
		cmocka_unit_test(test_every_limit_key),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_crlf_and_no_final_newline),
		cmocka_unit_test(test_number_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_main_value_errors),
		cmocka_unit_test(test_optional_values),
		cmocka_unit_test(test_listener_defaults),
		cmocka_unit_test(test_listener_tls),
		cmocka_unit_test(test_listener_errors),
		cmocka_unit_test(test_relay_networks),
		cmocka_unit_test(test_relay_network_errors),
		cmocka_unit_test(test_is_loopback),
		cmocka_unit_test(test_local_domain),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_write_default_round_trip),
		cmocka_unit_test(test_write_default_limits_uncommented),
		cmocka_unit_test(test_write_default_errors),
		cmocka_unit_test(test_queue_defaults),
		cmocka_unit_test(test_queue_keys),
		cmocka_unit_test(test_queue_errors),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_transport_password_warning),
		cmocka_unit_test(test_transport_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
