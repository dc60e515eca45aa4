/* folders, folder, move and delete: the local folders of an account and
 * filing messages between them. The store (src/store/folder.c) refuses
 * bad names and protects INBOX; these commands add the questions a person
 * should be asked (--force before a folder full of mail goes) and say what
 * they did. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "connect.h"
#include "local.h"

static const char folders_usage[] =
	"usage: posthorn folders\n"
	"\n"
	"Lists the folders of the account with their message and unread\n"
	"counts, INBOX first. Nested folders are written with '/'.\n"
	"\n"
	"  --help   this text\n";

static const char folder_usage[] =
	"usage: posthorn folder create NAME\n"
	"       posthorn folder rename OLD NEW\n"
	"       posthorn folder delete NAME [--force]\n"
	"\n"
	"Creates, renames or deletes a local folder; nested names use '/'\n"
	"(\"Work/2026\"). INBOX cannot be renamed or deleted. A folder that holds\n"
	"messages or subfolders is deleted only with --force.\n"
	"\n"
	"  --force   delete the folder with its messages and subfolders\n"
	"  --help    this text\n";

static const char move_usage[] =
	"usage: posthorn move N FOLDER [--folder F]\n"
	"\n"
	"Moves message N (or several: 1,3,5-7) of folder F (default INBOX) to\n"
	"FOLDER, which must exist ('posthorn folder create' makes one). The\n"
	"messages left behind are numbered anew.\n"
	"\n"
	"  --folder F   the folder the messages are in (default INBOX)\n"
	"  --help       this text\n";

static const char delete_usage[] =
	"usage: posthorn delete N [--folder F] [--expunge]\n"
	"\n"
	"Moves message N (or several: 1,3,5-7) of folder F (default INBOX) to\n"
	"Trash, creating it when needed. Messages already in Trash, or all of\n"
	"them with --expunge, are removed for good.\n"
	"\n"
	"  --folder F   the folder the messages are in (default INBOX)\n"
	"  --expunge    remove for good instead of moving to Trash\n"
	"  --help       this text\n";

/* The exit status for a failed folder.c call (errno set by it). */
static int folder_status(void)
{
	return errno == EINVAL ? EXIT_USAGE :
	       errno == ENOENT || errno == EEXIST ? EXIT_INPUT : EXIT_LOCAL;
}

static int folder_report(struct buf *why)
{
	int status = folder_status();
	fprintf(stderr, "posthorn: %s\n", why->len ? buf_cstr(why) :
	        strerror(errno));
	return status;
}

/* Parses argv for a command with options opts and exactly want
 * positionals. 0, 1 after printing usage (for --help), or -1 after a
 * usage message. */
static int folder_args(int argc, char **argv, const struct util_opt *opts,
                       size_t nopts, char **pos, size_t want,
                       const char *usage)
{
	size_t npos;
	int r = util_parse_args(argc, argv, opts, nopts, pos, want, &npos);
	if (r == 1) {
		fputs(usage, stdout);
		return 1;
	}
	if (r == 0 && npos != want)
		fprintf(stderr, "posthorn %s: expected %zu argument%s\n", argv[0],
		        want, want == 1 ? "" : "s");
	if (r < 0 || npos != want) {
		fwrite(usage, 1, strcspn(usage, "\n") + 1, stderr);
		return -1;
	}
	return 0;
}

/* ---- folders ---- */

struct folder_count {
	char *name;     /* points into the names buffer */
	size_t total, unread;
	int failed;
};

static void folder_count(const char *root, struct folder_count *c)
{
	struct folder_list l = {0};
	struct buf why = BUF_INIT;
	if (folder_list(root, c->name, &l, &why) < 0) {
		fprintf(stderr, "posthorn: folder '%s': %s\n", c->name,
		        why.len ? buf_cstr(&why) : strerror(errno));
		c->failed = 1;
	}
	for (size_t i = 0; i < l.n; i++)
		c->unread += !strchr(l.msgs[i].flags, 'S');
	c->total = l.n;
	folder_list_free(&l);
	buf_free(&why);
}

static int folders_print(struct folder_count *c, size_t n)
{
	struct buf out = BUF_INIT, safe = BUF_INIT;
	size_t name_w = 0, count_w = 1;
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		size_t w = util_display_width(c[i].name, strlen(c[i].name));
		name_w = w > name_w ? w : name_w;
		for (size_t t = c[i].total, d = 1; t >= 10; t /= 10)
			count_w = ++d > count_w ? d : count_w;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		buf_reset(&safe);
		r = util_term_safe(c[i].name, strlen(c[i].name), 1, &safe);
		size_t w = util_display_width(c[i].name, strlen(c[i].name));
		r |= buf_printf(&out, "%s%*s  ", buf_cstr(&safe) ? safe.data : "",
		                (int)(name_w - w), "");
		if (c[i].failed)
			r |= buf_puts(&out, "(unreadable)\n");
		else
			r |= buf_printf(&out, "%*zu message%s, %zu unread\n",
			                (int)count_w, c[i].total,
			                c[i].total == 1 ? "" : "s", c[i].unread);
	}
	if (r == 0)
		r = util_write_stdout(&out);
	buf_free(&out);
	buf_free(&safe);
	return r;
}

int cmd_folders(int argc, char **argv)
{
	char *pos[1];
	int r = folder_args(argc, argv, NULL, 0, pos, 0, folders_usage);
	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	struct local_folder f;
	struct buf names = BUF_INIT, why = BUF_INIT;
	struct folder_count *c = NULL;
	size_t n = 0;
	int status = local_open(&f, NULL);
	if (status == 0 && (folder_names(f.root, &names, &why) < 0 ||
	                    !buf_cstr(&names)))
		status = folder_report(&why);
	for (size_t i = 0; status == 0 && i < names.len; i++)
		n += names.data[i] == '\n';
	if (status == 0 && !(c = calloc(n + 1, sizeof *c))) {
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
		status = EXIT_LOCAL;
	}
	char *name = names.data;
	for (size_t i = 0; status == 0 && i < n; i++) {
		char *nl = strchr(name, '\n');
		*nl = '\0';
		c[i].name = name;
		folder_count(f.root, &c[i]);
		name = nl + 1;
	}
	if (status == 0 && folders_print(c, n) < 0)
		status = EXIT_PARTIAL;
	for (size_t i = 0; status == 0 && i < n; i++)
		if (c[i].failed)
			status = EXIT_PARTIAL;
	free(c);
	buf_free(&names);
	buf_free(&why);
	local_close(&f);
	return status;
}

/* ---- folder create|rename|delete ---- */

static int folder_is_inbox(const char *name)
{
	return !strcasecmp(name, "INBOX");
}

static int folder_do_create(const char *root, const char *name)
{
	struct buf why = BUF_INIT;
	int status = EXIT_OK;
	if (!folder_is_inbox(name) && folder_exists(root, name))
		fprintf(stderr, "folder '%s' exists already\n", name);
	else if (folder_is_inbox(name))
		fprintf(stderr, "INBOX always exists\n");
	else if (folder_create(root, name, &why) < 0)
		status = folder_report(&why);
	else
		printf("created folder %s\n", name);
	buf_free(&why);
	return status;
}

static int folder_do_rename(const char *root, const char *from, const char *to)
{
	struct buf why = BUF_INIT;
	int status = EXIT_OK;
	if (folder_is_inbox(from)) {
		fprintf(stderr, "posthorn: INBOX cannot be renamed; move its messages "
		        "instead ('posthorn move 1-N FOLDER')\n");
		status = EXIT_USAGE;
	} else if (folder_rename(root, from, to, &why) < 0) {
		status = folder_report(&why);
	} else {
		printf("renamed folder %s to %s\n", from, to);
	}
	buf_free(&why);
	return status;
}

/* Messages in name and its subfolders, and how many subfolders. */
static int folder_contents(const char *root, const char *name, size_t *msgs,
                           size_t *subs)
{
	struct buf names = BUF_INIT, why = BUF_INIT;
	size_t len = strlen(name);
	int status = EXIT_OK;
	*msgs = *subs = 0;
	if (folder_names(root, &names, &why) < 0 || !buf_cstr(&names))
		status = folder_report(&why);
	for (char *s = names.data, *nl; status == 0 && (nl = strchr(s, '\n'));
	     s = nl + 1) {
		*nl = '\0';
		int sub = !strncmp(s, name, len) && s[len] == '/';
		if (!sub && strcmp(s, name))
			continue;
		struct folder_count c = {.name = s};
		folder_count(root, &c);
		*msgs += c.total;
		*subs += sub;
	}
	buf_free(&names);
	buf_free(&why);
	return status;
}

static int folder_do_delete(const char *root, const char *name, int force)
{
	struct buf why = BUF_INIT, path = BUF_INIT;
	size_t msgs = 0, subs = 0;
	int status = EXIT_OK;
	if (folder_is_inbox(name)) {
		fprintf(stderr, "posthorn: INBOX cannot be deleted\n");
		return EXIT_USAGE;
	}
	if (folder_path(root, name, &path, &why) < 0)
		status = folder_report(&why);
	else if (!folder_exists(root, name)) {
		fprintf(stderr, "posthorn: no folder '%s'; 'posthorn folders' lists "
		        "them\n", name);
		status = EXIT_INPUT;
	}
	if (status == 0)
		status = folder_contents(root, name, &msgs, &subs);
	if (status == 0 && (msgs || subs) && !force) {
		fprintf(stderr, "posthorn folder: '%s' holds %zu message%s", name,
		        msgs, msgs == 1 ? "" : "s");
		if (subs)
			fprintf(stderr, " and %zu subfolder%s", subs,
			        subs == 1 ? "" : "s");
		fprintf(stderr, "; add --force to delete %s too\n",
		        msgs + subs == 1 ? "it" : "them");
		status = EXIT_USAGE;
	}
	buf_reset(&why);
	if (status == 0 && folder_delete(root, name, &why) < 0)
		status = folder_report(&why);
	else if (status == 0)
		printf("deleted folder %s (%zu message%s)\n", name, msgs,
		       msgs == 1 ? "" : "s");
	buf_free(&path);
	buf_free(&why);
	return status;
}

int cmd_folder(int argc, char **argv)
{
	int force = 0;
	const struct util_opt opts[] = {{"--force", NULL, &force}};
	char *pos[3];
	size_t npos;
	int r = util_parse_args(argc, argv, opts, 1, pos, 3, &npos);
	if (r == 1) {
		fputs(folder_usage, stdout);
		return EXIT_OK;
	}
	const char *sub = r == 0 && npos ? pos[0] : "";
	size_t want = !strcmp(sub, "rename") ? 3 : 2;
	if (r == 0 && strcmp(sub, "create") && strcmp(sub, "rename") &&
	    strcmp(sub, "delete"))
		fprintf(stderr, "posthorn folder: expected create, rename or "
		        "delete\n");
	else if (r == 0 && npos != want)
		fprintf(stderr, "posthorn folder %s: expected %s\n", sub,
		        want == 3 ? "OLD and NEW" : "a folder name");
	else if (r == 0 && force && strcmp(sub, "delete"))
		fprintf(stderr, "posthorn folder: --force goes with delete\n");
	else if (r == 0)
		r = 2;
	if (r != 2) {
		fwrite(folder_usage, 1, strstr(folder_usage, "\n\n") + 1 -
		       folder_usage, stderr);
		return EXIT_USAGE;
	}
	struct local_folder f;
	int status = local_open(&f, NULL);
	if (status == 0 && !strcmp(sub, "create"))
		status = folder_do_create(f.root, pos[1]);
	else if (status == 0 && !strcmp(sub, "rename"))
		status = folder_do_rename(f.root, pos[1], pos[2]);
	else if (status == 0)
		status = folder_do_delete(f.root, pos[1], force);
	local_close(&f);
	return status;
}

/* ---- move, delete ---- */

/* Moves (to != NULL) or removes the messages idx[0..n) of f; prints what
 * was done. */
static int folder_file(struct local_folder *f, const size_t *idx, size_t n,
                       const char *to)
{
	struct buf why = BUF_INIT;
	size_t done = 0;
	int status = EXIT_OK;
	for (size_t k = 0; k < n; k++) {
		const struct folder_msg *m = &f->list.msgs[idx[k]];
		buf_reset(&why);
		int r = to ? folder_move(f->root, f->name, m, to, &why)
		           : folder_remove(f->root, f->name, m, &why);
		if (r < 0) {
			fprintf(stderr, "posthorn: message %zu: %s\n", idx[k] + 1,
			        why.len ? buf_cstr(&why) : strerror(errno));
			status = EXIT_LOCAL;
			continue;
		}
		done++;
	}
	if (to)
		printf("moved %zu message%s to %s\n", done, done == 1 ? "" : "s", to);
	else
		printf("deleted %zu message%s for good\n", done, done == 1 ? "" : "s");
	buf_free(&why);
	return status;
}

/* The target folder of move: must exist (a typo should not make a
 * folder) and differ from the source. A new string (INBOX spelt
 * canonically) in *out. */
static int folder_target(const struct local_folder *f, const char *name,
                         char **out)
{
	struct buf why = BUF_INIT, path = BUF_INIT;
	int status = EXIT_OK;
	*out = NULL;
	if (folder_path(f->root, name, &path, &why) < 0)
		status = folder_report(&why);
	else if (!folder_exists(f->root, name)) {
		fprintf(stderr, "posthorn: no folder '%s'; 'posthorn folder create "
		        "%s' makes it\n", name, name);
		status = EXIT_INPUT;
	} else if (!(*out = strdup(folder_is_inbox(name) ? "INBOX" : name))) {
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
		status = EXIT_LOCAL;
	} else if (!strcmp(*out, f->name)) {
		fprintf(stderr, "posthorn move: the messages are in %s already\n",
		        *out);
		status = EXIT_USAGE;
	}
	buf_free(&path);
	buf_free(&why);
	return status;
}

int cmd_move(int argc, char **argv)
{
	const char *folder = NULL;
	const struct util_opt opts[] = {{"--folder", &folder, NULL}};
	char *pos[2];
	int r = folder_args(argc, argv, opts, 1, pos, 2, move_usage);
	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	struct local_folder f;
	size_t *idx = NULL, n = 0;
	char *to = NULL;
	int status = local_open(&f, folder);
	if (status == 0)
		status = local_pick(&f, pos[0], &idx, &n);
	if (status == 0)
		status = folder_target(&f, pos[1], &to);
	if (status == 0)
		status = folder_file(&f, idx, n, to);
	free(to);
	free(idx);
	local_close(&f);
	return status;
}

int cmd_delete(int argc, char **argv)
{
	const char *folder = NULL;
	int expunge = 0;
	const struct util_opt opts[] = {{"--folder", &folder, NULL},
	                                {"--expunge", NULL, &expunge}};
	char *pos[1];
	int r = folder_args(argc, argv, opts, 2, pos, 1, delete_usage);
	if (r != 0)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	struct local_folder f;
	struct buf why = BUF_INIT;
	size_t *idx = NULL, n = 0;
	int status = local_open(&f, folder);
	if (status == 0)
		status = local_pick(&f, pos[0], &idx, &n);
	int for_good = status == 0 && (expunge || !strcmp(f.name, "Trash"));
	if (status == 0 && !for_good && !folder_exists(f.root, "Trash") &&
	    folder_create(f.root, "Trash", &why) < 0)
		status = folder_report(&why);
	if (status == 0)
		status = folder_file(&f, idx, n, for_good ? NULL : "Trash");
	free(idx);
	buf_free(&why);
	local_close(&f);
	return status;
}
