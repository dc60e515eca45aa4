/* posthornctl: the administration tool of posthorn. Sets up a server
 * directory (init), manages users, aliases and the outbound queue, and
 * checks a setup before posthornd is started. Exit status: 0 done,
 * 1 failed, 2 usage error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const char usage_text[] =
	"usage: posthornctl [-c CONFIG] COMMAND [ARGS...]\n"
	"\n"
	"  init DIR [--hostname H] [--domain D]... [--listen ADDR] [--port-base N] [--force]\n"
	"                          create a server directory: config, certificate, data\n"
	"  user add NAME [--password-stdin]      add a user and its mailbox\n"
	"  user del NAME                         delete a user (the mailbox is kept)\n"
	"  user passwd NAME [--password-stdin]   set a new password\n"
	"  user list                             users, quota, APOP, mailbox size\n"
	"  user apop NAME [--secret-stdin|--clear]  set or clear the APOP secret\n"
	"  alias add NAME TARGET...              set an alias (replaces an old one)\n"
	"  alias del NAME                        delete an alias\n"
	"  alias list                            aliases and what they deliver to\n"
	"  check                                 check config, users, aliases, TLS, dirs\n"
	"  queue list                            queued messages: age, size, sender, state\n"
	"  queue show ID                         a message's envelope and header\n"
	"  queue flush [ID]                      try one message (or all) now\n"
	"  queue delete ID                       remove a message, without a report\n"
	"  queue bounce ID                       return a message to its sender (DSN)\n"
	"\n"
	"  -c, --config CONFIG   the configuration file (default: $POSTHORN_CONFIG,\n"
	"                        else ./posthorn.conf)\n"
	"  -h, --help            this text; 'posthornctl COMMAND --help' for a command\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error. See posthornctl(8).\n";

struct command {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
	{"init", ctl_init},
	{"user", ctl_user},
	{"alias", ctl_alias},
	{"check", ctl_check},
	{"queue", ctl_queue},
};

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *env = getenv("POSTHORN_CONFIG");
	struct ctl ctl = {.config_path = env && *env ? env : "posthorn.conf"};
	int c;
	/* "+": stop at the command, whose options are its own. */
	while ((c = getopt_long(argc, argv, "+c:h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CTL_OK;
		default:
			fputs(usage_text, stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* getopt restarts for the command's options */
			return commands[i].run(&ctl, sub_argc, sub_argv);
		}
	}
	return ctl_usage_error("", "unknown command \"%s\"", argv[optind]);
}
