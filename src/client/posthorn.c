/* posthorn: the mail client's entry point: a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#ifndef POSTHORN_VERSION
#define POSTHORN_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *synopsis;
};

static const struct command commands[] = {
	{"show", cmd_show, "show FILE|- [--json]        headers and readable text of a message"},
	{"parts", cmd_parts, "parts FILE|- [--json]       the MIME tree, one line per part"},
	{"extract", cmd_extract, "extract FILE|- DIR [--part N] [--force]  save attachments"},
	{"inspect", cmd_inspect, "inspect address|date|ctype|tree ...  parser probes (JSON)"},
};

static void usage(FILE *to)
{
	fprintf(to, "usage: posthorn COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(to, "  %s\n", commands[i].synopsis);
	fprintf(to, "\n'posthorn COMMAND --help' describes a command; "
	            "man posthorn(1) has the details.\n");
}

int main(int argc, char **argv)
{
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
