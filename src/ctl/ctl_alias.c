/* ctl_alias: "posthornctl alias add|del|list". Changes are checked before
 * they are written: an alias that would loop or name nothing known is
 * refused, and so is a change that breaks a table that was consistent. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "../auth/aliases.h"
#include "../auth/users.h"
#include "../lib/fs.h"

#define ALIASES_FILE_MAX (16u << 20)

static const char alias_usage[] =
	"usage: posthornctl [-c CONFIG] alias add NAME TARGET...\n"
	"       posthornctl [-c CONFIG] alias del NAME\n"
	"       posthornctl [-c CONFIG] alias list\n"
	"\n"
	"A TARGET is a local user, another alias, or a remote address user@domain\n"
	"(an address in a local domain counts as the local name). Targets may also\n"
	"be given comma-separated. 'alias add' replaces an existing alias of that\n"
	"name and keeps the rest of the file, comments included. A change that\n"
	"makes an alias loop or name an unknown user is refused.\n";

/* What the commands work on: the config, users and the file's text. */
struct alias_ctx {
	struct posthorn_config cfg;
	struct users db;
	struct buf path, text;
	struct aliases before;
};

static void ctx_free(struct alias_ctx *x)
{
	aliases_free(&x->before);
	users_free(&x->db);
	buf_free(&x->path);
	buf_free(&x->text);
	config_free(&x->cfg);
}

static int ctx_load(const struct ctl *ctl, struct alias_ctx *x)
{
	struct buf err = BUF_INIT;
	memset(x, 0, sizeof *x);
	if (ctl_load_config(ctl, &x->cfg) < 0)
		return -1;
	int rc = -1;
	if (users_load(x->cfg.data_dir, &x->db, &err) < 0)
		goto out;
	if (fs_join(x->cfg.data_dir, "aliases", &x->path) < 0 || !buf_cstr(&x->path)) {
		buf_printf(&err, "%s: invalid data directory", x->cfg.data_dir);
		goto out;
	}
	if (fs_read_file(x->path.data, ALIASES_FILE_MAX, &x->text) < 0 &&
	    errno != ENOENT) {
		buf_printf(&err, "%s: %s", x->path.data, strerror(errno));
		goto out;
	}
	if (!buf_cstr(&x->text) ||
	    aliases_parse(x->path.data, x->text.data, x->text.len, &x->before, &err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		ctl_fail("%s", err.len ? buf_cstr(&err) : "out of memory");
		ctx_free(x);
	}
	buf_free(&err);
	return rc;
}

/* Applies the edit for name (lowercase), checks the result and writes it.
 * CTL_OK or CTL_FAIL. */
static int apply(struct alias_ctx *x, const char *name, char *const *targets,
                 size_t ntargets)
{
	struct buf next = BUF_INIT, err = BUF_INIT, old = BUF_INIT;
	struct aliases after = {0};
	struct strlist u = {0}, r = {0};
	int rc = CTL_FAIL;
	if (aliases_edit(x->text.data, x->text.len, name, targets, ntargets, &next,
	                 &err) < 0 ||
	    aliases_parse(x->path.data, next.data, next.len, &after, &err) < 0)
		goto out;
	/* The new alias itself must resolve; and a table that was consistent
	 * must stay so (deleting an alias others use would break them). */
	if (ntargets &&
	    aliases_expand(&after, &x->db, &x->cfg, name, &u, &r, &err) < 0)
		goto out;
	if (aliases_check(&x->before, &x->db, &x->cfg, &old) == 0) {
		buf_reset(&old);
		if (aliases_check(&after, &x->db, &x->cfg, &old) < 0) {
			buf_printf(&err, "other aliases would break:\n%s", buf_cstr(&old));
			goto out;
		}
	}
	if (fs_write_atomic(x->path.data, next.data, next.len, 0644) < 0) {
		buf_printf(&err, "%s: %s", x->path.data, strerror(errno));
		goto out;
	}
	ctl_give_data_file(&x->cfg, "aliases");
	rc = CTL_OK;
out:
	if (rc != CTL_OK)
		ctl_fail("alias %s refused: %s", name, buf_cstr(&err));
	strlist_free(&u);
	strlist_free(&r);
	aliases_free(&after);
	buf_free(&next);
	buf_free(&err);
	buf_free(&old);
	return rc;
}

/* NAME lowercased into lower (65 bytes); CTL_OK or CTL_FAIL. */
static int alias_name(const char *name, char *lower)
{
	size_t n = strlen(name);
	for (size_t i = 0; i <= n && i < 65; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (n > 64 || !users_name_valid(lower))
		return ctl_fail("invalid alias name \"%.80s\": use 1-64 of a-z 0-9 . _ -,"
		                " not starting with . or -", name);
	return CTL_OK;
}

/* The TARGET arguments, each possibly "a, b, c", as one list. */
static int split_targets(int argc, char **argv, struct strlist *out)
{
	for (int i = 0; i < argc; i++) {
		char *copy = strdup(argv[i]), *save = NULL;
		if (!copy)
			return -1;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			t += strspn(t, " \t");
			size_t n = strlen(t);
			while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
				t[--n] = '\0';
			if (n && strlist_add_unique(out, t) < 0) {
				free(copy);
				return -1;
			}
		}
		free(copy);
	}
	return 0;
}

static int alias_add(const struct ctl *ctl, int argc, char **argv)
{
	char name[65];
	struct strlist targets = {0};
	struct alias_ctx x;
	if (argc < 2)
		return ctl_usage_error("alias ", "alias add needs NAME and at least one TARGET");
	if (alias_name(argv[0], name) != CTL_OK)
		return CTL_FAIL;
	if (split_targets(argc - 1, argv + 1, &targets) < 0 || !targets.count) {
		strlist_free(&targets);
		return ctl_fail("alias add: no targets given");
	}
	if (ctx_load(ctl, &x) < 0) {
		strlist_free(&targets);
		return CTL_FAIL;
	}
	int replaced = aliases_find(&x.before, name) != NULL;
	int rc = apply(&x, name, targets.items, targets.count);
	if (rc == CTL_OK) {
		printf("%s alias %s:", replaced ? "replaced" : "added", name);
		for (size_t i = 0; i < targets.count; i++)
			printf("%s %s", i ? "," : "", targets.items[i]);
		putchar('\n');
		if (users_find(&x.db, name))
			printf("note: %s is also a user; its mail now goes to these targets"
			       " (list %s itself to keep a copy)\n", name, name);
	}
	ctx_free(&x);
	strlist_free(&targets);
	return rc;
}

static int alias_del(const struct ctl *ctl, int argc, char **argv)
{
	char name[65];
	struct alias_ctx x;
	if (argc != 1)
		return ctl_usage_error("alias ", "alias del needs exactly one NAME");
	if (alias_name(argv[0], name) != CTL_OK || ctx_load(ctl, &x) < 0)
		return CTL_FAIL;
	int rc = apply(&x, name, NULL, 0);
	if (rc == CTL_OK) {
		printf("deleted alias %s\n", name);
		if (strcmp(name, "postmaster") == 0 && !users_find(&x.db, name))
			printf("warning: there is no postmaster now; RFC 5321 requires one:"
			       " posthornctl alias add postmaster USER\n");
	}
	ctx_free(&x);
	return rc;
}

static void print_expansion(const struct alias_ctx *x, const struct alias *a)
{
	struct strlist u = {0}, r = {0};
	struct buf err = BUF_INIT;
	printf("%s:", a->name);
	for (size_t i = 0; i < a->ntargets; i++)
		printf("%s %s", i ? "," : "", a->targets[i]);
	if (aliases_expand(&x->before, &x->db, &x->cfg, a->name, &u, &r, &err) < 0) {
		printf("\n    error: %s\n", buf_cstr(&err));
	} else {
		printf("\n    delivers to:");
		for (size_t i = 0; i < u.count; i++)
			printf("%s %s", i ? "," : "", u.items[i]);
		for (size_t i = 0; i < r.count; i++)
			printf("%s %s", i || u.count ? "," : "", r.items[i]);
		putchar('\n');
	}
	strlist_free(&u);
	strlist_free(&r);
	buf_free(&err);
}

static int alias_list(const struct ctl *ctl, int argc, char **argv)
{
	struct alias_ctx x;
	(void)argv;
	if (argc != 0)
		return ctl_usage_error("alias ", "alias list takes no arguments");
	if (ctx_load(ctl, &x) < 0)
		return CTL_FAIL;
	for (size_t i = 0; i < x.before.count; i++)
		print_expansion(&x, &x.before.items[i]);
	if (!x.before.count)
		printf("no aliases (add one with 'posthornctl alias add NAME TARGET...')\n");
	ctx_free(&x);
	return CTL_OK;
}

int ctl_alias(struct ctl *ctl, int argc, char **argv)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const struct {
		const char *name;
		int (*run)(const struct ctl *ctl, int argc, char **argv);
	} subs[] = {{"add", alias_add}, {"del", alias_del}, {"list", alias_list}};
	int c;
	if (argc < 2)
		return ctl_usage_error("alias ", "alias: which command? add, del or list");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(alias_usage, stdout);
		return CTL_OK;
	}
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", options, NULL)) != -1) {
		if (c != 'h')
			return ctl_usage_error("alias ", "alias: unexpected option %s",
			                       (argv + 1)[optind - 1]);
		fputs(alias_usage, stdout);
		return CTL_OK;
	}
	/* argv + 1 + optind: the arguments after "alias SUB" and its options. */
	for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(ctl, argc - 1 - optind, argv + 1 + optind);
	return ctl_usage_error("alias ", "alias: unknown command \"%s\"", argv[1]);
}
