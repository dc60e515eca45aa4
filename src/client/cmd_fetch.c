/* fetch: new mail over POP3 into INBOX, each message exactly once.
 *
 * Which messages are new is decided by UIDL: the UIDLs already fetched are
 * listed in MAIL_DIR/.posthorn-uidl. Order of events per message: RETR,
 * store in INBOX (fsync'd file and directory), append the UIDL to the list
 * (fsync'd), then DELE in delete mode. A kill between storing and recording
 * is caught by the tag in the stored file's name (a hash of the UIDL), so
 * the next run records the message instead of fetching it again. DELE
 * only takes effect at QUIT, so a fetch cut short deletes nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "../store/folder.h"
#include "commands.h"
#include "connect.h"
#include "util.h"

#define FETCH_STATE ".posthorn-uidl"
#define FETCH_STATE_MAX ((size_t)64 << 20)
#define FETCH_MESSAGE_MAX ((size_t)1 << 30)

static const char fetch_usage[] =
	"usage: posthorn fetch [ACCOUNT] [--keep|--delete] [--quiet]\n"
	"\n"
	"Downloads the messages not fetched before (by their POP3 UIDL) into\n"
	"the INBOX folder of the account's mail_dir, over POP3 with STLS or\n"
	"POP3S as configured. Every message is on disk before it is recorded\n"
	"and, in delete mode, before it is deleted from the server; a fetch\n"
	"that is interrupted can be run again and brings each message once.\n"
	"  --keep     leave the messages on the server (the default unless the\n"
	"             account says keep = no)\n"
	"  --delete   delete them from the server once they are stored here\n"
	"  --quiet    no progress and no summary\n"
	"Global: --account NAME, --config FILE, --trace.\n";

/* The UIDLs fetched before: a sorted array for bsearch. */
struct fetch_state {
	char **v;
	size_t n;
	int fd;          /* the list, open for appending */
	char *path;
};

static int fetch_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fetch_known(const struct fetch_state *st, const char *uidl)
{
	return st->n && bsearch(&uidl, st->v, st->n, sizeof *st->v,
	                        fetch_cmp) != NULL;
}

static int fetch_state_load(const char *root, struct fetch_state *st)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	memset(st, 0, sizeof *st);
	st->fd = -1;
	if (fs_join(root, FETCH_STATE, &path) < 0)
		return -1;
	st->path = buf_steal(&path, NULL);
	if (!st->path)
		return -1;
	if (fs_read_file(st->path, FETCH_STATE_MAX, &data) < 0 && errno != ENOENT) {
		fprintf(stderr, "posthorn: cannot read %s: %s\n", st->path,
		        strerror(errno));
		return -1;
	}
	char *s = buf_cstr(&data);
	for (char *line = s, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;  /* a torn last line was never recorded */
		*nl = 0;
		if (!*line)
			continue;
		char **v = realloc(st->v, (st->n + 1) * sizeof *v);
		if (!v || !(v[st->n] = strdup(line))) {
			if (v)
				st->v = v;
			buf_free(&data);
			return -1;
		}
		st->v = v;
		st->n++;
	}
	buf_free(&data);
	if (st->n)
		qsort(st->v, st->n, sizeof *st->v, fetch_cmp);
	st->fd = open(st->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (st->fd < 0) {
		fprintf(stderr, "posthorn: cannot write %s: %s\n", st->path,
		        strerror(errno));
		return -1;
	}
	return 0;
}

static void fetch_state_free(struct fetch_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->v[i]);
	free(st->v);
	if (st->fd >= 0)
		close(st->fd);
	free(st->path);
}

/* Records uidl durably. A torn write leaves a line without '\n', which the
 * loader ignores, so the message would be recovered by its tag. */
static int fetch_record(struct fetch_state *st, const char *uidl)
{
	struct buf line = BUF_INIT;
	int rc = -1;
	if (buf_printf(&line, "%s\n", uidl) == 0 &&
	    fs_write_all(st->fd, line.data, line.len) == 0 && fsync(st->fd) == 0)
		rc = 0;
	else
		fprintf(stderr, "posthorn: cannot write %s: %s\n", st->path,
		        strerror(errno));
	buf_free(&line);
	return rc;
}

/* Rewrites the list to hold only the UIDLs still worth remembering. */
static void fetch_state_rewrite(struct fetch_state *st,
                                const struct pop3c_msg *msgs,
                                const unsigned char *keep, size_t n)
{
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		if (keep[i] && buf_printf(&out, "%s\n", msgs[i].uidl) < 0)
			goto out;
	if (fs_write_atomic(st->path, out.data ? out.data : "", out.len,
	                    0600) < 0)
		fprintf(stderr, "posthorn: warning: cannot rewrite %s: %s\n",
		        st->path, strerror(errno));
out:
	buf_free(&out);
}

/* A name-safe tag for the stored file: 32 hex digits of SHA-256(uidl). */
static void fetch_tag(const char *uidl, char tag[33])
{
	char hex[65];
	if (util_sha256_hex(uidl, strlen(uidl), hex) < 0)
		memset(hex, '0', 64);
	memcpy(tag, hex, 32);
	tag[32] = 0;
}

static void fetch_size(unsigned long long n, char *out, size_t len)
{
	if (n < 10 * 1024)
		snprintf(out, len, "%llu bytes", n);
	else if (n < 10ull * 1024 * 1024)
		snprintf(out, len, "%.1f KB", n / 1024.0);
	else
		snprintf(out, len, "%.1f MB", n / (1024.0 * 1024));
}

struct fetch_run {
	const struct account *acct;
	struct pop3c *p;
	struct pop3c_msg *msgs;
	size_t n;
	unsigned char *keep;     /* per message: remember its UIDL */
	unsigned char *deleted;  /* per message: DELE said +OK */
	struct fetch_state st;
	struct folder_list inbox;
	int delete, progress;
	size_t fetched, already, ndeleted, todo;
	unsigned long long bytes, todo_bytes;
};

static void fetch_progress(const struct fetch_run *r, int done)
{
	if (!r->progress || !r->todo)
		return;
	size_t got = r->fetched;
	int width = 30, fill = (int)(r->todo_bytes ? r->bytes * width / r->todo_bytes
	                                            : (unsigned long long)got * width / r->todo);
	if (fill > width)
		fill = width;
	char sz[32], tot[32];
	fetch_size(r->bytes, sz, sizeof sz);
	fetch_size(r->todo_bytes, tot, sizeof tot);
	fprintf(stderr, "\rfetching %zu/%zu [%.*s%*s] %s of %s", got, r->todo,
	        fill, "##############################", width - fill, "", sz, tot);
	if (done)
		fputc('\n', stderr);
	fflush(stderr);
}

/* The exit status of a failed POP3 step, printed. */
static int fetch_fail(const struct fetch_run *r, const char *doing,
                      const struct pop3c_error *e, enum net_err err,
                      struct buf *why)
{
	char what[300];
	snprintf(what, sizeof what, "POP3 server %s:%d", r->acct->pop3.host,
	         r->acct->pop3.port);
	if (r->progress)
		fputc('\n', stderr);
	if (err != NET_OK && err != NET_ERR_PROTOCOL)
		return client_net_fail(err, what, buf_cstr(why));
	if (e->text.len)
		fprintf(stderr, "posthorn: %s refused %s: %s\n", what, doing,
		        buf_cstr((struct buf *)&e->text));
	else  /* we stopped it: a reply that breaks the protocol or a limit */
		fprintf(stderr, "posthorn: %s: %s failed: %s\n", what, doing,
		        buf_cstr(why));
	return !strcmp(e->code, "SYS/TEMP") ? EXIT_TEMP : EXIT_SERVER;
}

/* Fetches (or recognises) message i. 0 or an exit status. */
static int fetch_one(struct fetch_run *r, size_t i, struct buf *data)
{
	struct pop3c_msg *m = &r->msgs[i];
	struct pop3c_error e;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	char tag[33];
	int rc = 0;
	pop3c_error_init(&e);
	fetch_tag(m->uidl, tag);
	if (*m->uidl && (fetch_known(&r->st, m->uidl) ||
	                 folder_has_tag(&r->inbox, tag))) {
		if (!fetch_known(&r->st, m->uidl) && fetch_record(&r->st, m->uidl) < 0)
			rc = EXIT_LOCAL;
		r->already++;
	} else {
		buf_reset(data);
		/* The server said how big it is (LIST); a server that then sends
		 * far more is not trusted with our memory. */
		data->max = m->size < (FETCH_MESSAGE_MAX - ((size_t)1 << 20)) / 2
		            ? (size_t)m->size * 2 + ((size_t)1 << 20)
		            : FETCH_MESSAGE_MAX;
		if (pop3c_retr(r->p, m->num, data, &e, &err, &why) < 0) {
			rc = fetch_fail(r, "RETR", &e, err, &why);
			goto out;
		}
		if (folder_add(r->acct->mail_dir, "INBOX", data->data ? data->data : "",
		               data->len, NULL, *m->uidl ? tag : NULL, NULL, &why) < 0) {
			if (r->progress)
				fputc('\n', stderr);
			fprintf(stderr, "posthorn: cannot store message %lu: %s\n",
			        m->num, buf_cstr(&why));
			rc = EXIT_LOCAL;
			goto out;
		}
		if (*m->uidl && fetch_record(&r->st, m->uidl) < 0) {
			rc = EXIT_LOCAL;
			goto out;
		}
		r->fetched++;
		r->bytes += m->size;
		fetch_progress(r, 0);
	}
	if (rc)
		goto out;
	r->keep[i] = 1;
	if (r->delete) {
		if (pop3c_dele(r->p, m->num, &e, &err, &why) < 0) {
			rc = fetch_fail(r, "DELE", &e, err, &why);
			goto out;
		}
		r->deleted[i] = 1;
	}
out:
	pop3c_error_free(&e);
	buf_free(&why);
	return rc;
}

static int fetch_all(struct fetch_run *r)
{
	struct pop3c_error e;
	struct buf why = BUF_INIT, data = BUF_INIT;
	enum net_err err = NET_OK;
	int rc = 0;
	pop3c_error_init(&e);
	buf_init(&data, FETCH_MESSAGE_MAX);
	if (pop3c_list(r->p, &r->msgs, &r->n, &e, &err, &why) < 0) {
		rc = fetch_fail(r, "LIST", &e, err, &why);
		goto out;
	}
	r->keep = calloc(r->n + 1, 1);
	r->deleted = calloc(r->n + 1, 1);
	if (!r->keep || !r->deleted) {
		rc = EXIT_LOCAL;
		goto out;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (!*r->msgs[i].uidl && !r->delete) {
			fprintf(stderr, "posthorn: the server does not give message "
			        "ids (UIDL), so new mail cannot be told from old in "
			        "keep mode: fetch with --delete\n");
			rc = EXIT_SERVER;
			goto out;
		}
		if (!*r->msgs[i].uidl || !fetch_known(&r->st, r->msgs[i].uidl)) {
			r->todo++;
			r->todo_bytes += r->msgs[i].size;
		}
	}
	for (size_t i = 0; i < r->n && !rc; i++)
		rc = fetch_one(r, i, &data);
	if (!rc)
		fetch_progress(r, 1);
out:
	pop3c_error_free(&e);
	buf_free(&why);
	buf_free(&data);
	return rc;
}

static int fetch_finish(struct fetch_run *r, int rc, int quiet)
{
	struct pop3c_error e;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	pop3c_error_init(&e);
	if (rc) {
		pop3c_abort(&r->p);  /* no QUIT: the server deletes nothing */
	} else if (pop3c_quit(&r->p, &e, &err, &why) < 0) {
		fprintf(stderr, "posthorn: the server did not confirm the end of "
		        "the session%s; the next fetch will retry the deletions\n",
		        r->delete ? "" : " (nothing lost)");
		rc = EXIT_SERVER;
	} else {
		for (size_t i = 0; i < r->n; i++) {
			if (r->deleted[i]) {
				r->keep[i] = 0;
				r->ndeleted++;
			}
		}
		fetch_state_rewrite(&r->st, r->msgs, r->keep, r->n);
	}
	if (!quiet) {
		char sz[32];
		fetch_size(r->bytes, sz, sizeof sz);
		printf("fetched %zu new message%s (%s), %zu already here", r->fetched,
		       r->fetched == 1 ? "" : "s", sz, r->already);
		if (r->delete)
			printf(", %zu deleted from the server", rc ? 0 : r->ndeleted);
		printf("\n");
	}
	pop3c_error_free(&e);
	buf_free(&why);
	return rc;
}

int cmd_fetch(int argc, char **argv)
{
	int keep = 0, del = 0, quiet = 0;
	const struct util_opt opts[] = {
		{"--keep", NULL, &keep},
		{"--delete", NULL, &del},
		{"--quiet", NULL, &quiet},
	};
	char *pos[1];
	size_t npos = 0;
	int r = util_parse_args(argc, argv, opts, 3, pos, 1, &npos);
	if (r == 1) {
		fputs(fetch_usage, stdout);
		return EXIT_OK;
	}
	if (r < 0 || (keep && del)) {
		if (r == 0)
			fprintf(stderr, "posthorn fetch: --keep and --delete exclude "
			        "each other\n");
		fputs("try 'posthorn fetch --help'\n", stderr);
		return EXIT_USAGE;
	}
	struct account_config cfg;
	struct fetch_run run;
	struct buf why = BUF_INIT;
	memset(&run, 0, sizeof run);
	run.st.fd = -1;
	int rc = client_account(&cfg, npos ? pos[0] : NULL, &run.acct);
	if (rc)
		goto out;
	run.delete = del || (!keep && !run.acct->keep);
	run.progress = !quiet && isatty(2) && !client_globals.trace;
	if (folder_root_init(run.acct->mail_dir, &why) < 0 ||
	    folder_list(run.acct->mail_dir, "INBOX", &run.inbox, &why) < 0) {
		fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
		rc = EXIT_LOCAL;
		goto out;
	}
	if (fetch_state_load(run.acct->mail_dir, &run.st) < 0) {
		rc = EXIT_LOCAL;
		goto out;
	}
	if ((rc = client_pop3_open(run.acct, &run.p)) != 0)
		goto out;
	rc = fetch_all(&run);
	rc = fetch_finish(&run, rc, quiet);
out:
	if (run.p)
		pop3c_abort(&run.p);
	fetch_state_free(&run.st);
	folder_list_free(&run.inbox);
	free(run.msgs);
	free(run.keep);
	free(run.deleted);
	buf_free(&why);
	account_config_free(&cfg);
	return rc;
}
