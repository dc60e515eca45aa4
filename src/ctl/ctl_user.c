/* ctl_user: "posthornctl user add|del|passwd|list|apop", on top of the
 * users database (src/auth/users.h) and the Maildir store. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../store/maildir.h"

static const char user_usage[] =
	"usage: posthornctl [-c CONFIG] user add NAME [--password-stdin]\n"
	"       posthornctl [-c CONFIG] user del NAME\n"
	"       posthornctl [-c CONFIG] user passwd NAME [--password-stdin]\n"
	"       posthornctl [-c CONFIG] user list\n"
	"       posthornctl [-c CONFIG] user apop NAME [--secret-stdin | --clear]\n"
	"\n"
	"NAME is 1-64 of a-z 0-9 . _ - (upper case is folded), not starting with\n"
	". or -. Without --password-stdin the password is asked twice on the\n"
	"terminal; with it, one line is read from standard input. 'user del'\n"
	"keeps the mailbox and refuses while an alias still names the user.\n"
	"APOP secrets are stored in the clear (DATA_DIR/apop, mode 0600).\n";

enum {
	OPT_PASSWORD_STDIN = 1 << 0,
	OPT_SECRET_STDIN = 1 << 1,
	OPT_CLEAR = 1 << 2,
};

struct user_args {
	unsigned flags;
	char name[65];          /* lowercased NAME, when the command takes one */
};

struct user_command {
	const char *name;
	int takes_name;
	unsigned allowed;       /* OPT_* accepted */
	int (*run)(const struct posthorn_config *cfg, const struct user_args *a);
};

static int fail_err(struct buf *err)
{
	ctl_fail("%s", buf_cstr(err));
	buf_free(err);
	return CTL_FAIL;
}

/* Loads the users; -1 after printing why. */
static int load_users(const struct posthorn_config *cfg, struct users *db)
{
	struct buf err = BUF_INIT;
	if (users_load(cfg->data_dir, db, &err) == 0) {
		buf_free(&err);
		return 0;
	}
	fail_err(&err);
	return -1;
}

/* The first user added becomes postmaster unless one is there already. */
static void ensure_postmaster(const struct posthorn_config *cfg, const char *name)
{
	struct aliases al;
	struct buf err = BUF_INIT;
	char *targets[] = {(char *)name};
	if (aliases_load(cfg->data_dir, &al, &err) < 0) {
		fprintf(stderr, "posthornctl: warning: %s\n", buf_cstr(&err));
	} else {
		int have = aliases_find(&al, "postmaster") || strcmp(name, "postmaster") == 0;
		aliases_free(&al);
		if (!have && aliases_set(cfg->data_dir, "postmaster", targets, 1, &err) < 0)
			fprintf(stderr, "posthornctl: warning: cannot create the postmaster"
			        " alias: %s\n", buf_cstr(&err));
		else if (!have) {
			ctl_give_data_file(cfg, "aliases");
			printf("created the alias \"postmaster: %s\" (RFC 5321 requires a"
			       " postmaster; change it with 'posthornctl alias add"
			       " postmaster USER')\n", name);
		}
	}
	buf_free(&err);
}

static int user_add(const struct posthorn_config *cfg, const struct user_args *a)
{
	struct users db;
	struct buf pw = BUF_INIT, err = BUF_INIT, box = BUF_INIT;
	if (load_users(cfg, &db) < 0)
		return CTL_FAIL;
	int exists = users_find(&db, a->name) != NULL;
	users_free(&db);
	if (exists)
		return ctl_fail("user \"%s\" already exists", a->name);
	if (ctl_read_secret(a->flags & OPT_PASSWORD_STDIN, "password", &pw) < 0)
		return CTL_FAIL;
	int rc = users_add(cfg->data_dir, a->name, pw.data, &err);
	ctl_wipe(&pw);
	if (rc < 0)
		return fail_err(&err);
	ctl_give_data_file(cfg, "users");
	ctl_give_data_file(cfg, "apop");
	if (maildir_user_path(cfg->data_dir, a->name, &box) < 0 || !buf_cstr(&box) ||
	    maildir_create(box.data) < 0) {
		ctl_fail("user \"%s\" added, but its mailbox %s could not be created: %m",
		         a->name, box.len ? box.data : cfg->data_dir);
		buf_free(&box);
		return CTL_FAIL;
	}
	ctl_give_to_daemon(cfg, box.data, 1);
	printf("added user %s with mailbox %s\n", a->name, box.data);
	buf_free(&box);
	ensure_postmaster(cfg, a->name);
	return CTL_OK;
}

/* True when target names the local user name (directly or as
 * name@local-domain). */
static int target_is_user(const struct posthorn_config *cfg, const char *target,
                          const char *name)
{
	const char *at = strrchr(target, '@');
	size_t n = at ? (size_t)(at - target) : strlen(target);
	if (at && !config_is_local_domain(cfg, at + 1))
		return 0;
	return n == strlen(name) && strncasecmp(target, name, n) == 0;
}

/* Names the aliases that still deliver to name into out. */
static int aliases_naming(const struct posthorn_config *cfg, const char *name,
                          struct buf *out)
{
	struct aliases al;
	struct buf err = BUF_INIT;
	if (aliases_load(cfg->data_dir, &al, &err) < 0)
		return fail_err(&err);
	for (size_t i = 0; i < al.count; i++)
		for (size_t t = 0; t < al.items[i].ntargets; t++)
			if (target_is_user(cfg, al.items[i].targets[t], name)) {
				buf_printf(out, "%s%s", out->len ? ", " : "", al.items[i].name);
				break;
			}
	aliases_free(&al);
	buf_free(&err);
	return CTL_OK;
}

static int user_del(const struct posthorn_config *cfg, const struct user_args *a)
{
	struct buf used = BUF_INIT, err = BUF_INIT, box = BUF_INIT;
	if (aliases_naming(cfg, a->name, &used) != CTL_OK)
		return CTL_FAIL;
	if (used.len) {
		ctl_fail("user \"%s\" is a target of the aliases %s: change or delete"
		         " them first ('posthornctl alias add|del')", a->name,
		         buf_cstr(&used));
		buf_free(&used);
		return CTL_FAIL;
	}
	buf_free(&used);
	if (users_delete(cfg->data_dir, a->name, &err) < 0)
		return fail_err(&err);
	maildir_user_path(cfg->data_dir, a->name, &box);
	printf("deleted user %s; its mailbox %s was kept (remove it by hand when no"
	       " longer needed)\n", a->name, buf_cstr(&box));
	buf_free(&box);
	return CTL_OK;
}

/* CTL_OK when the user exists, so nobody types a password for nothing. */
static int user_must_exist(const struct posthorn_config *cfg, const char *name)
{
	struct users db;
	if (load_users(cfg, &db) < 0)
		return CTL_FAIL;
	int exists = users_find(&db, name) != NULL;
	users_free(&db);
	return exists ? CTL_OK : ctl_fail("no such user \"%s\"", name);
}

static int user_passwd(const struct posthorn_config *cfg, const struct user_args *a)
{
	struct buf pw = BUF_INIT, err = BUF_INIT;
	if (user_must_exist(cfg, a->name) != CTL_OK)
		return CTL_FAIL;
	if (ctl_read_secret(a->flags & OPT_PASSWORD_STDIN, "password", &pw) < 0)
		return CTL_FAIL;
	int rc = users_set_password(cfg->data_dir, a->name, pw.data, &err);
	ctl_wipe(&pw);
	if (rc < 0)
		return fail_err(&err);
	ctl_give_data_file(cfg, "users");
	printf("changed the password of %s\n", a->name);
	return CTL_OK;
}

static int user_list(const struct posthorn_config *cfg, const struct user_args *a)
{
	struct users db;
	struct buf box = BUF_INIT;
	(void)a;
	if (load_users(cfg, &db) < 0)
		return CTL_FAIL;
	printf("%-24s %14s %4s %14s\n", "NAME", "QUOTA", "APOP", "MAILBOX");
	for (size_t i = 0; i < db.count; i++) {
		const struct user *u = &db.items[i];
		char quota[24] = "-";
		if (u->quota)
			snprintf(quota, sizeof quota, "%llu", u->quota);
		buf_reset(&box);
		maildir_user_path(cfg->data_dir, u->name, &box);
		printf("%-24s %14s %4s %14llu\n", u->name, quota,
		       u->apop_secret ? "yes" : "no", ctl_tree_size(buf_cstr(&box)));
	}
	users_free(&db);
	buf_free(&box);
	return CTL_OK;
}

static int user_apop(const struct posthorn_config *cfg, const struct user_args *a)
{
	struct buf secret = BUF_INIT, err = BUF_INIT;
	int clear = a->flags & OPT_CLEAR;
	if (user_must_exist(cfg, a->name) != CTL_OK)
		return CTL_FAIL;
	if (!clear && ctl_read_secret(a->flags & OPT_SECRET_STDIN, "APOP secret",
	                              &secret) < 0)
		return CTL_FAIL;
	int rc = users_set_apop(cfg->data_dir, a->name, clear ? NULL : secret.data,
	                        &err);
	ctl_wipe(&secret);
	if (rc < 0)
		return fail_err(&err);
	ctl_give_data_file(cfg, "apop");
	printf(clear ? "cleared the APOP secret of %s\n"
	             : "set the APOP secret of %s (stored in the clear)\n", a->name);
	return CTL_OK;
}

static const struct user_command user_commands[] = {
	{"add", 1, OPT_PASSWORD_STDIN, user_add},
	{"del", 1, 0, user_del},
	{"passwd", 1, OPT_PASSWORD_STDIN, user_passwd},
	{"list", 0, 0, user_list},
	{"apop", 1, OPT_SECRET_STDIN | OPT_CLEAR, user_apop},
};

/* Options and NAME of one user command; CTL_OK, or a status to exit with. */
static int parse_user_args(const struct user_command *uc, int argc, char **argv,
                           struct user_args *a, int *help)
{
	static const struct option options[] = {
		{"password-stdin", no_argument, NULL, 'p'},
		{"secret-stdin", no_argument, NULL, 's'},
		{"clear", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0; /* our own message names the command */
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		unsigned bit = c == 'p' ? OPT_PASSWORD_STDIN : c == 's' ? OPT_SECRET_STDIN
		             : c == 'C' ? OPT_CLEAR : 0;
		if (c == 'h')
			*help = 1;
		else if (!bit || !(uc->allowed & bit))
			return ctl_usage_error("user ", "user %s: unexpected option %s",
			                       uc->name, argv[optind - 1]);
		a->flags |= bit;
	}
	if (*help)
		return CTL_OK;
	if ((a->flags & OPT_SECRET_STDIN) && (a->flags & OPT_CLEAR))
		return ctl_usage_error("user ", "--secret-stdin and --clear exclude each other");
	if (argc - optind != uc->takes_name)
		return ctl_usage_error("user ", uc->takes_name ? "user %s needs one NAME"
		                       : "user %s takes no arguments", uc->name);
	if (!uc->takes_name)
		return CTL_OK;
	const char *name = argv[optind];
	size_t n = strlen(name);
	for (size_t i = 0; i < n && i < sizeof a->name - 1; i++)
		a->name[i] = (char)tolower((unsigned char)name[i]);
	if (n >= sizeof a->name || !users_name_valid(a->name))
		return ctl_fail("invalid user name \"%.80s\": use 1-64 of a-z 0-9 . _ -,"
		                " not starting with . or -", name);
	return CTL_OK;
}

int ctl_user(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("user ", "user: which command? add, del, passwd,"
		                       " list or apop");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(user_usage, stdout);
		return CTL_OK;
	}
	for (size_t i = 0; i < sizeof user_commands / sizeof *user_commands; i++) {
		const struct user_command *uc = &user_commands[i];
		if (strcmp(argv[1], uc->name) != 0)
			continue;
		struct user_args a = {0};
		struct posthorn_config cfg;
		int help = 0, rc = parse_user_args(uc, argc - 1, argv + 1, &a, &help);
		if (help)
			fputs(user_usage, stdout);
		if (rc != CTL_OK || help)
			return rc;
		if (ctl_load_config(ctl, &cfg) < 0)
			return CTL_FAIL;
		rc = uc->run(&cfg, &a);
		config_free(&cfg);
		return rc;
	}
	return ctl_usage_error("user ", "user: unknown command \"%s\"", argv[1]);
}
