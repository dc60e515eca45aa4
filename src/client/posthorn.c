/* posthorn: the mail client's entry point: the global options, then a table
 * of subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "connect.h"

#ifndef POSTHORN_VERSION
#define POSTHORN_VERSION "0.1.0"
#endif

struct client_globals client_globals;

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
};

static const struct command commands[] = {
	{"send", cmd_send, "send --to ADDR --subject TEXT [--attach FILE]...  send a message"},
	{"compose", cmd_compose, "compose [--to ADDR] [--draft]   write a message in $EDITOR"},
	{"fetch", cmd_fetch, "fetch [ACCOUNT] [--keep|--delete]  new mail over POP3 into INBOX"},
	{"list", cmd_list, "list [FOLDER] [--unread] [--page P]  the messages of a folder"},
	{"read", cmd_read, "read N [--folder F]           a message, decoded"},
	{"attachments", cmd_attachments, "attachments N [--save DIR]    list or save attachments"},
	{"reply", cmd_reply, "reply N [--all]               answer a message"},
	{"forward", cmd_forward, "forward N --to ADDR [--inline|--attach]  pass a message on"},
	{"search", cmd_search, "search TEXT [--from X] [--subject X] [--since DATE]"},
	{"folders", cmd_folders, "folders                       folders with message counts"},
	{"folder", cmd_folder, "folder create|rename|delete NAME [NEW]"},
	{"move", cmd_move, "move N FOLDER [--folder F]    file messages into a folder"},
	{"delete", cmd_delete, "delete N [--folder F] [--expunge]  move messages to Trash"},
	{"contacts", cmd_contacts, "contacts add|list|remove|search|import|export  address book"},
	{"account", cmd_account, "account add|list|test|remove   mail accounts"},
	{"show", cmd_show, "show FILE|- [--json]          headers and readable text of a message file"},
	{"parts", cmd_parts, "parts FILE|- [--json]         the MIME tree, one line per part"},
	{"extract", cmd_extract, "extract FILE|- DIR [--part N] [--force]  save attachments of a file"},
	{"inspect", cmd_inspect, "inspect address|date|ctype|tree ...  parser probes (JSON)"},
};

static void usage(FILE *to)
{
	fprintf(to, "usage: posthorn [--config FILE] [--account NAME] [--trace] "
	            "COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(to, "  %s\n", commands[i].synopsis);
	fprintf(to, "\n'posthorn COMMAND --help' describes a command; "
	            "man posthorn(1) and doc/client.md have the details.\n");
}

/* Takes the global options out of argv wherever they stand (before "--"),
 * so "posthorn --trace send ..." and "posthorn send ... --trace" both work.
 * Returns the new argc, or -1 after a usage message. */
static int take_globals(int argc, char **argv)
{
	int out = 1, i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--trace")) {
			client_globals.trace = 1;
			continue;
		}
		if (!strcmp(a, "--config"))
			slot = &client_globals.config;
		else if (!strcmp(a, "--account") || !strcmp(a, "-a"))
			slot = &client_globals.account;
		else if (!strncmp(a, "--config=", 9)) {
			client_globals.config = a + 9;
			continue;
		} else if (!strncmp(a, "--account=", 10)) {
			client_globals.account = a + 10;
			continue;
		}
		if (slot) {
			if (i + 1 >= argc) {
				fprintf(stderr, "posthorn: %s needs a value\n", a);
				return -1;
			}
			*slot = argv[++i];
			continue;
		}
		argv[out++] = argv[i];
	}
	for (; i < argc; i++)
		argv[out++] = argv[i];
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	argc = take_globals(argc, argv);
	if (argc < 0)
		return 2;
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("posthorn %s\n", POSTHORN_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "posthorn: unknown command '%s'; try 'posthorn --help'\n",
	        argv[1]);
	return 2;
}
