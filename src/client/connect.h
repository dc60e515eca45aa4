/* connect: what send, fetch and account test share to reach an account's
 * servers: net options from the account (timeout, ca_file, the --trace
 * transcript on stderr), connecting with the configured TLS mode, logging
 * in, and turning every failure into one clear message on stderr and the
 * distinct exit status of util.h (EXIT_DNS, EXIT_LOGIN...). */
#ifndef POSTHORN_CLIENT_CONNECT_H
#define POSTHORN_CLIENT_CONNECT_H

#include "../lib/net.h"
#include "../pop3/pop3c.h"
#include "../smtp/smtpc.h"
#include "account.h"

/* The options every command understands anywhere on its command line;
 * main() takes them out of argv before the command sees it. */
struct client_globals {
	const char *config;   /* --config FILE or NULL */
	const char *account;  /* --account/-a NAME or NULL */
	int trace;            /* --trace */
};
extern struct client_globals client_globals;

/* Loads the config of --config and finds the account (name, else
 * --account, else the default). Returns 0, or prints "posthorn: ..." with
 * what to do and returns EXIT_CONFIG. Free cfg with account_config_free in
 * both cases. */
int client_account(struct account_config *cfg, const char *name,
                   const struct account **a);

/* The exit status for a net error, and prints "posthorn: what: why" plus
 * a hint line ("check the host name...", "add ca_file = ... to trust
 * it"...) to stderr. what names the server ("SMTP server
 * mail.example.org:587"). */
int client_net_fail(enum net_err err, const char *what, const char *why);

/* The exit status for a refusing SMTP reply (550 5.1.1 -> EXIT_RECIPIENT,
 * 554 5.7.1 / relay -> EXIT_RELAY, 552 5.2.2 / 452 4.2.2 -> EXIT_FULL, 552
 * 5.3.4 -> EXIT_TOO_BIG, 535 -> EXIT_LOGIN, other 4xx -> EXIT_TEMP, else
 * EXIT_SERVER). Prints nothing. */
int client_smtp_exit(const struct smtpc_reply *r);

/* Connects to the account's SMTP server, does STARTTLS or implicit TLS as
 * configured (refusing to go on in the clear when starttls is configured
 * but not offered), and logs in when the account has a user (asking for
 * the password through account_password). 0 with *s, or the exit status
 * after printing the reason. */
int client_smtp_open(const struct account *a, struct smtpc **s);

/* The same for POP3: connect, STLS or POP3S, login. */
int client_pop3_open(const struct account *a, struct pop3c **p);

#endif
