/* account: the mail client's configuration: accounts in
 * $XDG_CONFIG_HOME/posthorn/config (default ~/.config/posthorn/config, or
 * the file of --config / $POSTHORN_CONFIG), where its other files live, and
 * how a password is obtained (never stored in the clear: password_cmd, an
 * environment variable, or a prompt on the terminal).
 *
 *   default = work                     # the account used without --account
 *
 *   [account work]
 *   address = alice@example.org
 *   name = Alice Liu                   # display name (UTF-8)
 *   smtp_host = mail.example.org
 *   smtp_port = 587                    # default 465 (tls), else 587
 *   smtp_tls = starttls                # starttls (default) | tls | none
 *   smtp_user = alice                  # default: address; "" = no AUTH
 *   pop3_host = mail.example.org
 *   pop3_port = 995                    # default 995 (tls), else 110
 *   pop3_tls = tls                     # starttls | tls (default) | none
 *   pop3_user = alice                  # default: smtp_user, else address
 *   mail_dir = ~/Mail/work             # Maildir++ root; default ~/Mail/NAME
 *   keep = yes                         # yes (default): leave mail on the server;
 *                                      # no: delete it once stored here
 *   password_cmd = pass show mail/work # first line of its output
 *   password_env = WORK_MAIL_PASSWORD  # or this environment variable
 *   ca_file = ~/certs/mail.pem         # trust this CA / self-signed cert too
 *   timeout = 30                       # seconds per connect, read, write
 *
 * "#" starts a comment (at the start of a line or after whitespace); "~/"
 * at the start of a path is $HOME, other relative paths are relative to
 * the config file's directory. Values are trimmed. keep takes yes/no,
 * true/false, on/off, 1/0. Account names are 1..64 of [A-Za-z0-9._-],
 * starting with a letter or digit. Unknown keys or sections, a key given
 * twice, a duplicate account, an account without address, a bad value are
 * errors ("file:line: reason"). The file may be at most 1 MiB. */
#ifndef POSTHORN_CLIENT_ACCOUNT_H
#define POSTHORN_CLIENT_ACCOUNT_H

#include <stddef.h>

#include "../lib/buf.h"

enum account_tls {
	ACCOUNT_TLS_STARTTLS,
	ACCOUNT_TLS_IMPLICIT,    /* "tls" in the file */
	ACCOUNT_TLS_NONE,
};

struct account_server {
	char *host;              /* owned; NULL when not configured */
	int port;                /* the default for the TLS mode when unset */
	enum account_tls tls;
	char *user;              /* owned; "" means do not log in (SMTP only) */
};

struct account {
	char *name;              /* owned */
	char *address;           /* owned */
	char *display_name;      /* owned or NULL */
	struct account_server smtp, pop3;
	char *mail_dir;          /* absolute; owned */
	int keep;                /* default 1 */
	char *password_cmd;      /* owned or NULL */
	char *password_env;      /* owned or NULL */
	char *ca_file;           /* absolute; owned or NULL */
	int timeout;             /* default 30 */
	int line;                /* line of its section, for messages */
};

struct account_config {
	char *path;              /* the file; owned */
	char *default_name;      /* owned or NULL (then the first account) */
	struct account *accounts;
	size_t n;
};

/* The config file path into out: path when not NULL, else
 * $POSTHORN_CONFIG, else $XDG_CONFIG_HOME/posthorn/config, else
 * $HOME/.config/posthorn/config. 0 or -1 (no HOME). */
int account_config_path(const char *path, struct buf *out);

/* Where the address book lives: $XDG_DATA_HOME/posthorn/contacts.vcf,
 * else $HOME/.local/share/posthorn/contacts.vcf (or, when
 * $POSTHORN_CONFIG or --config names the config, contacts.vcf beside it). */
int account_contacts_path(const char *config_path_arg, struct buf *out);

/* Loads the file (a missing file gives an empty config, exists = 0).
 * -1 with "file:line: reason" appended to why. Every account is complete
 * (ports, users, mail_dir filled in). Free cfg with account_config_free
 * in both cases. */
int account_config_load(const char *path, struct account_config *cfg,
                        int *exists, struct buf *why);
void account_config_free(struct account_config *cfg);

/* The account named name, or the default when name is NULL. NULL with a
 * sentence in why ("no account 'x' in FILE; 'posthorn account list' shows
 * them", "no accounts yet: 'posthorn account add' creates one"). */
const struct account *account_find(const struct account_config *cfg,
                                   const char *name, struct buf *why);

/* Writes cfg back to its path atomically (mode 0600), creating the
 * directory. Comments of the old file are not kept. 0 or -1 with why. */
int account_config_save(const struct account_config *cfg, struct buf *why);

/* The account's password into out: from password_cmd (run with /bin/sh -c,
 * first line of stdout, a failing command is an error), else from the
 * environment variable password_env, else from $POSTHORN_PASSWORD, else
 * asked on /dev/tty without echo ("Password for alice@mail.example.org: ").
 * 0 or -1 with why (no terminal to ask on, command failed...). The caller
 * should wipe and free out. */
int account_password(const struct account *a, const char *what,
                     struct buf *out, struct buf *why);

/* --- building and editing accounts (posthorn account add/remove) --- */

/* An empty account with the defaults that do not depend on other keys
 * (smtp_tls starttls, pop3_tls tls, keep 1, timeout 30). */
void account_init(struct account *a);

/* Frees what a owns and leaves it as account_init does. Safe on NULL. */
void account_free(struct account *a);

/* Sets one key of the file ("smtp_port") from its text, checked the way
 * the loader checks it; relative paths are relative to base_dir (NULL:
 * the current directory). 0, or -1 with the reason in why (no file:line). */
int account_set(struct account *a, const char *key, const char *value,
                const char *base_dir, struct buf *why);

/* Fills in the defaults that depend on other keys (ports from the TLS
 * mode, users from the address, mail_dir from HOME and the name). a->name
 * must be set. 0, or -1 with why (no address, no HOME). */
int account_complete(struct account *a, struct buf *why);

/* Nonzero when name is a valid account name. */
int account_name_valid(const char *name);

/* The account called name in cfg, or NULL. */
struct account *account_config_find(struct account_config *cfg,
                                    const char *name);

/* Moves *a (complete) to the end of cfg; *a is left empty. Pointers into
 * cfg->accounts are invalid afterwards. 0 or -1 (memory; *a untouched). */
int account_config_add(struct account_config *cfg, struct account *a);

/* Removes and frees the account called name (and the default when it was
 * the default). 0, or -1 when there is none. */
int account_config_remove(struct account_config *cfg, const char *name);

/* "starttls", "tls" or "none". */
const char *account_tls_name(enum account_tls tls);

/* The port used when none is configured (smtp nonzero for SMTP). */
int account_default_port(int smtp, enum account_tls tls);

/* 1 for yes/true/on/1, 0 for no/false/off/0 (any case), else -1. */
int account_parse_bool(const char *value);

/* Appends path made absolute: "~/" is $HOME, a relative path is under
 * base (a relative base is under the current directory). 0, or -1 with
 * why ("~user" is not expanded; no HOME). */
int account_expand_path(const char *value, const char *base, struct buf *out,
                        struct buf *why);

#endif
