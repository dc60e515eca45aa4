/* ctl: what the posthornctl commands share: the global options, loading
 * the configuration, asking for passwords, and giving data files to the
 * daemon's user. Each command is a function taking its own argv (argv[0]
 * is the command's name) and returning the exit status. */
#ifndef POSTHORN_CTL_H
#define POSTHORN_CTL_H

#include <stddef.h>

#include "../lib/buf.h"
#include "../lib/config.h"

/* Exit statuses of every command. */
enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
	const char *config_path;  /* -c, $POSTHORN_CONFIG or ./posthorn.conf */
};

/* The commands (ctl_init.c, ctl_user.c, ctl_alias.c, ctl_check.c,
 * ctl_queue.c). */
int ctl_init(struct ctl *ctl, int argc, char **argv);
int ctl_user(struct ctl *ctl, int argc, char **argv);
int ctl_alias(struct ctl *ctl, int argc, char **argv);
int ctl_check(struct ctl *ctl, int argc, char **argv);
int ctl_queue(struct ctl *ctl, int argc, char **argv);

/* Prints "posthornctl: " and the message to stderr; returns CTL_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints the message and "try 'posthornctl CMD --help'"; returns CTL_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads ctl->config_path into cfg; on failure prints the file:line reason
 * and returns -1. */
int ctl_load_config(const struct ctl *ctl, struct posthorn_config *cfg);

/* Reads a password or secret into out: from_stdin reads one line from
 * standard input; otherwise it is asked twice on the terminal (/dev/tty)
 * with echo off. what names it in prompts ("password"). Empty values are
 * refused. 0, or -1 after printing why (out is wiped and freed then);
 * after 0 the caller wipes out with ctl_wipe. */
int ctl_read_secret(int from_stdin, const char *what, struct buf *out);

/* When running as root and the config's run_user exists, makes path owned
 * by that user (so posthornd can use it after dropping privileges); else
 * does nothing. recursive descends into directories. Failures are
 * printed as warnings: the command still did its job. */
void ctl_give_to_daemon(const struct posthorn_config *cfg, const char *path,
                        int recursive);

/* The same for DATA_DIR/name. */
void ctl_give_data_file(const struct posthorn_config *cfg, const char *name);

/* Bytes in regular files under path (0 when missing). */
unsigned long long ctl_tree_size(const char *path);

/* Wipes and frees a buffer that held a secret. */
void ctl_wipe(struct buf *b);

#endif
