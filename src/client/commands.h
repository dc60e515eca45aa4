/* commands: the subcommands of the posthorn client. Each takes the argv that
 * follows its name (argv[0] is the command name) and returns the process exit
 * status: 0 success, 1 a damaged message shown with warnings or partial
 * success, 2 usage error, 3 input unreadable or not a message. */
#ifndef POSTHORN_CLIENT_COMMANDS_H
#define POSTHORN_CLIENT_COMMANDS_H

int cmd_show(int argc, char **argv);    /* show.c */
int cmd_parts(int argc, char **argv);   /* parts.c */
int cmd_extract(int argc, char **argv); /* extract.c */
int cmd_inspect(int argc, char **argv); /* inspect.c: parser probes for
                                         * scripts and the corpus tests */

#endif
