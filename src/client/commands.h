/* commands: the subcommands of the posthorn client. Each takes the argv that
 * follows its name (argv[0] is the command name; the global options
 * --config, --account and --trace are already taken out, see connect.h)
 * and returns the process exit status of util.h: 0 success, 1 partial,
 * 2 usage error, 3 input unreadable or no such message, 4 and up the mail
 * client's failures (doc/client.md "Exit status"). */
#ifndef POSTHORN_CLIENT_COMMANDS_H
#define POSTHORN_CLIENT_COMMANDS_H

int cmd_show(int argc, char **argv);        /* show.c */
int cmd_parts(int argc, char **argv);       /* parts.c */
int cmd_extract(int argc, char **argv);     /* extract.c */
int cmd_inspect(int argc, char **argv);     /* inspect.c: parser probes for
                                             * scripts and the corpus tests */
int cmd_account(int argc, char **argv);     /* cmd_account.c */
int cmd_send(int argc, char **argv);        /* cmd_send.c */
int cmd_compose(int argc, char **argv);     /* cmd_send.c */
int cmd_fetch(int argc, char **argv);       /* cmd_fetch.c */
int cmd_list(int argc, char **argv);        /* cmd_list.c */
int cmd_search(int argc, char **argv);      /* cmd_list.c */
int cmd_read(int argc, char **argv);        /* cmd_read.c */
int cmd_attachments(int argc, char **argv); /* cmd_read.c */
int cmd_reply(int argc, char **argv);       /* cmd_reply.c */
int cmd_forward(int argc, char **argv);     /* cmd_reply.c */
int cmd_folders(int argc, char **argv);     /* cmd_folder.c */
int cmd_folder(int argc, char **argv);      /* cmd_folder.c */
int cmd_move(int argc, char **argv);        /* cmd_folder.c */
int cmd_delete(int argc, char **argv);      /* cmd_folder.c */
int cmd_contacts(int argc, char **argv);    /* cmd_contacts.c */

#endif
