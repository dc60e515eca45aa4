/* outgoing: build, send, file. */
#include "outgoing.h"

#include <errno.h>
#include <stddef.h>
#include <strings.h>
#include <fcntl.h>
#include <magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/fs.h"
#include "../msg/address.h"
#include "../msg/build.h"
#include "../msg/msgid.h"
#include "../store/folder.h"
#include "connect.h"
#include "contacts.h"
#include "util.h"

#define OUTGOING_FILE_MAX ((size_t)256 << 20)

void outgoing_init(struct outgoing *o)
{
	memset(o, 0, sizeof *o);
}

static void outgoing_strs_free(struct outgoing_strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void outgoing_free(struct outgoing *o)
{
	outgoing_strs_free(&o->to);
	outgoing_strs_free(&o->cc);
	outgoing_strs_free(&o->bcc);
	outgoing_strs_free(&o->attach);
	outgoing_strs_free(&o->references);
	for (size_t i = 0; i < o->nparts; i++) {
		free(o->parts[i].data);
		free(o->parts[i].filename);
		free(o->parts[i].content_type);
	}
	free(o->parts);
	free(o->from);
	free(o->reply_to);
	free(o->subject);
	free(o->in_reply_to);
	buf_free(&o->text);
	buf_free(&o->html);
	memset(o, 0, sizeof *o);
}

int outgoing_strs_add(struct outgoing_strs *l, const char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v)
		return -1;
	l->v = v;
	if (!(v[l->n] = strdup(s)))
		return -1;
	l->n++;
	return 0;
}

static char *outgoing_dup(const void *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

int outgoing_add_part(struct outgoing *o, const void *data, size_t len,
                      const char *filename, const char *content_type)
{
	struct outgoing_part *v = realloc(o->parts, (o->nparts + 1) * sizeof *v);
	if (!v)
		return -1;
	o->parts = v;
	struct outgoing_part *p = &v[o->nparts];
	memset(p, 0, sizeof *p);
	p->data = outgoing_dup(data, len);
	p->len = len;
	p->filename = filename ? strdup(filename) : NULL;
	p->content_type = content_type ? strdup(content_type) : NULL;
	if (!p->data || (filename && !p->filename) ||
	    (content_type && !p->content_type)) {
		free(p->data);
		free(p->filename);
		free(p->content_type);
		return -1;
	}
	o->nparts++;
	return 0;
}

/* Splits a user's token list at commas outside quotes and angle brackets
 * and calls add for each trimmed piece. */
static int outgoing_split(const char *s, int (*add)(void *, const char *,
                                                    size_t), void *arg)
{
	int quoted = 0, angle = 0;
	const char *start = s;
	for (const char *p = s;; p++) {
		if (*p == '"' && (p == s || p[-1] != '\\'))
			quoted = !quoted;
		else if (!quoted && *p == '<')
			angle = 1;
		else if (!quoted && *p == '>')
			angle = 0;
		if (*p && (*p != ',' || quoted || angle))
			continue;
		const char *a = start, *b = p;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a && add(arg, a, (size_t)(b - a)) != 0)
			return -1;
		if (!*p)
			return 0;
		start = p + 1;
	}
}

/* Resolving one field's tokens into name/address pairs for the builder. */
struct outgoing_resolve {
	struct msg_builder *b;
	const char *field;
	struct vcard_list *book;
	int loaded;
	int failed;
};

static int outgoing_add_one(void *arg, const char *tok, size_t len)
{
	struct outgoing_resolve *r = arg;
	struct buf word = BUF_INIT, why = BUF_INIT, spec = BUF_INIT;
	struct msg_address_list l = {0};
	int rc = -1;
	if (buf_append(&word, tok, len) < 0)
		goto out;
	if (!memchr(tok, '@', len)) {
		const char *name = NULL, *addr = NULL;
		if (!r->loaded) {
			r->loaded = 1;  /* the book needs freeing even on failure */
			if (contacts_open(r->book, NULL, &why) < 0) {
				fprintf(stderr, "posthorn: %s\n", buf_cstr(&why));
				goto out;
			}
		}
		const struct vcard_card *c = contacts_lookup(r->book,
		                                             buf_cstr(&word), &why);
		if (!c || !c->nemails) {
			fprintf(stderr, "posthorn: %s\n", c ? "that contact has no "
			        "address" : buf_cstr(&why));
			goto out;
		}
		name = c->fn;
		addr = c->emails[0];
		if (msg_builder_add_address(r->b, r->field, name, addr) < 0) {
			fprintf(stderr, "posthorn: %s: %s\n", addr,
			        msg_builder_error(r->b));
			goto out;
		}
		rc = 0;
		goto out;
	}
	const char *err = NULL;
	if (msg_address_parse(tok, len, &l, NULL, &err) != 0 || l.count != 1 ||
	    !*l.items[0].local || !*l.items[0].domain) {
		fprintf(stderr, "posthorn: '%s' is not an e-mail address%s%s\n",
		        buf_cstr(&word), err ? ": " : "", err ? err : "");
		goto out;
	}
	if (msg_address_spec(&l.items[0], &spec) < 0)
		goto out;
	if (msg_builder_add_address(r->b, r->field,
	                            *l.items[0].name ? l.items[0].name : NULL,
	                            buf_cstr(&spec)) < 0) {
		fprintf(stderr, "posthorn: '%s': %s\n", buf_cstr(&word),
		        msg_builder_error(r->b));
		goto out;
	}
	rc = 0;
out:
	if (rc)
		r->failed = 1;
	msg_address_list_free(&l);
	buf_free(&word);
	buf_free(&why);
	buf_free(&spec);
	return rc;
}

static int outgoing_add_field(struct msg_builder *b, struct vcard_list *book,
                              int *loaded, const char *field,
                              const struct outgoing_strs *l)
{
	struct outgoing_resolve r = {b, field, book, *loaded, 0};
	for (size_t i = 0; i < l->n && !r.failed; i++)
		if (outgoing_split(l->v[i], outgoing_add_one, &r) < 0)
			r.failed = 1;
	*loaded = r.loaded;
	return r.failed ? -1 : 0;
}

/* The From address: --from, else the account's. */
static int outgoing_from(struct msg_builder *b, const struct account *a,
                         const struct outgoing *o, struct buf *envelope)
{
	if (!o->from) {
		if (buf_puts(envelope, a->address) < 0)
			return -1;
		if (msg_builder_add_address(b, "From", a->display_name,
		                            a->address) < 0) {
			fprintf(stderr, "posthorn: the account's address '%s': %s\n",
			        a->address, msg_builder_error(b));
			return -1;
		}
		return 0;
	}
	struct msg_address_list l = {0};
	struct buf spec = BUF_INIT;
	int rc = -1;
	if (msg_address_parse(o->from, strlen(o->from), &l, NULL, NULL) != 0 ||
	    l.count != 1 || !*l.items[0].domain) {
		fprintf(stderr, "posthorn: --from '%s' is not one e-mail address\n",
		        o->from);
	} else if (msg_address_spec(&l.items[0], &spec) == 0 &&
	           msg_builder_add_address(b, "From",
	                                   *l.items[0].name ? l.items[0].name
	                                                    : a->display_name,
	                                   buf_cstr(&spec)) == 0 &&
	           buf_puts(envelope, buf_cstr(&spec)) == 0) {
		rc = 0;
	} else {
		fprintf(stderr, "posthorn: --from '%s': %s\n", o->from,
		        msg_builder_error(b));
	}
	msg_address_list_free(&l);
	buf_free(&spec);
	return rc;
}

/* libmagic's idea of a file's type ("application/pdf"), or NULL. */
static const char *outgoing_magic(magic_t *m, const char *data, size_t len)
{
	if (!*m) {
		*m = magic_open(MAGIC_MIME_TYPE);
		if (*m && magic_load(*m, NULL) != 0) {
			magic_close(*m);
			*m = NULL;
		}
	}
	if (!*m)
		return NULL;
	const char *t = magic_buffer(*m, data, len);
	if (!t || !strchr(t, '/') || !strncmp(t, "application/x-empty", 19))
		return NULL;
	return t;
}

static int outgoing_attach_files(struct msg_builder *b,
                                 const struct outgoing *o)
{
	magic_t m = NULL;
	int rc = 0;
	for (size_t i = 0; i < o->attach.n && !rc; i++) {
		const char *path = o->attach.v[i];
		struct buf data = BUF_INIT;
		if (fs_read_file(path, OUTGOING_FILE_MAX, &data) < 0) {
			fprintf(stderr, "posthorn: cannot attach %s: %s\n", path,
			        errno == EFBIG ? "larger than 256 MB" : strerror(errno));
			rc = EXIT_INPUT;
		} else {
			const char *base = strrchr(path, '/');
			base = base ? base + 1 : path;
			const char *type = outgoing_magic(&m, data.data ? data.data : "",
			                                  data.len);
			if (msg_builder_attach(b, data.data ? data.data : "", data.len,
			                       *base ? base : NULL, type, 0, NULL) < 0) {
				fprintf(stderr, "posthorn: cannot attach %s: %s\n", path,
				        msg_builder_error(b));
				rc = EXIT_INPUT;
			}
		}
		buf_free(&data);
	}
	if (m)
		magic_close(m);
	return rc;
}

static int outgoing_contents(struct msg_builder *b, const struct outgoing *o)
{
	if (msg_builder_set_subject(b, o->subject ? o->subject : "") < 0 ||
	    (o->text.len && msg_builder_set_text(b, o->text.data, o->text.len) < 0) ||
	    (o->html.len && msg_builder_set_html(b, o->html.data, o->html.len) < 0) ||
	    (o->in_reply_to && msg_builder_set_in_reply_to(b, o->in_reply_to) < 0)) {
		fprintf(stderr, "posthorn: %s\n", msg_builder_error(b));
		return EXIT_INPUT;
	}
	if (!o->text.len && !o->html.len && msg_builder_set_text(b, "", 0) < 0)
		return EXIT_INPUT;
	for (size_t i = 0; i < o->references.n; i++)
		if (msg_builder_add_reference(b, o->references.v[i]) < 0) {
			fprintf(stderr, "posthorn: %s\n", msg_builder_error(b));
			return EXIT_INPUT;
		}
	if (msg_builder_add_header(b, "X-Mailer", "posthorn 0.1.0") < 0)
		return EXIT_INPUT;
	int rc = outgoing_attach_files(b, o);
	for (size_t i = 0; i < o->nparts && !rc; i++) {
		const struct outgoing_part *p = &o->parts[i];
		if (msg_builder_attach(b, p->data, p->len, p->filename,
		                       p->content_type, 0, NULL) < 0) {
			fprintf(stderr, "posthorn: cannot attach %s: %s\n",
			        p->filename ? p->filename : "a part",
			        msg_builder_error(b));
			rc = EXIT_INPUT;
		}
	}
	if (!rc && o->forward_raw &&
	    msg_builder_attach_message(b, o->forward_raw, o->forward_len) < 0) {
		fprintf(stderr, "posthorn: cannot attach the message: %s\n",
		        msg_builder_error(b));
		rc = EXIT_INPUT;
	}
	return rc;
}

/* The finished message twice: for the wire (no Bcc) and for the copy we
 * keep (with Bcc), both with the same Date and Message-ID. */
struct outgoing_built {
	struct buf wire, copy, rcpts, envelope;
	char msgid[400];
};

static void outgoing_built_free(struct outgoing_built *m)
{
	buf_free(&m->wire);
	buf_free(&m->copy);
	buf_free(&m->rcpts);
	buf_free(&m->envelope);
}

static int outgoing_build_one(const struct account *a, const struct outgoing *o,
                              const struct outgoing_built *m, int keep_bcc,
                              time_t now, int off, struct buf *out,
                              struct buf *rcpts, struct buf *envelope)
{
	struct msg_builder *b = msg_builder_new();
	struct vcard_list book;
	int loaded = 0, rc = EXIT_INPUT;
	memset(&book, 0, sizeof book);
	if (!b)
		return EXIT_LOCAL;
	msg_builder_keep_bcc(b, keep_bcc);
	char id[400];
	snprintf(id, sizeof id, "%.*s", (int)strlen(m->msgid) - 2, m->msgid + 1);
	if (outgoing_from(b, a, o, envelope) < 0 ||
	    outgoing_add_field(b, &book, &loaded, "To", &o->to) < 0 ||
	    outgoing_add_field(b, &book, &loaded, "Cc", &o->cc) < 0 ||
	    outgoing_add_field(b, &book, &loaded, "Bcc", &o->bcc) < 0)
		goto out;
	if (o->reply_to) {
		struct outgoing_strs l = {(char **)&o->reply_to, 1};
		if (outgoing_add_field(b, &book, &loaded, "Reply-To", &l) < 0)
			goto out;
	}
	if (msg_builder_set_date(b, (int64_t)now, off) < 0 ||
	    msg_builder_set_message_id(b, id) < 0)
		goto out;
	if ((rc = outgoing_contents(b, o)) != 0)
		goto out;
	if (msg_builder_write(b, out) < 0 ||
	    (rcpts && msg_builder_recipients(b, rcpts) < 0)) {
		fprintf(stderr, "posthorn: cannot build the message: %s\n",
		        msg_builder_error(b));
		rc = EXIT_INPUT;
	}
out:
	if (loaded)
		vcard_list_free(&book);
	msg_builder_free(&b);
	return rc;
}

static int outgoing_build(const struct account *a, const struct outgoing *o,
                          struct outgoing_built *m)
{
	memset(m, 0, sizeof *m);
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	int off = (int)(tm.tm_gmtoff / 60);
	const char *at = strrchr(a->address, '@');
	if (msg_id_generate(at ? at + 1 : NULL, m->msgid, sizeof m->msgid) < 0 &&
	    msg_id_generate(NULL, m->msgid, sizeof m->msgid) < 0)
		return EXIT_LOCAL;
	struct buf scratch = BUF_INIT;
	int rc = outgoing_build_one(a, o, m, 0, now, off, &m->wire, &m->rcpts,
	                            &m->envelope);
	if (!rc)
		rc = outgoing_build_one(a, o, m, 1, now, off, &m->copy, NULL,
		                        &scratch);
	buf_free(&scratch);
	return rc;
}

/* Files msg in folder of a's mail_dir, creating both when missing. */
static int outgoing_file(const struct account *a, const char *folder,
                         const struct buf *msg, const char *flags)
{
	struct buf why = BUF_INIT;
	int rc = 0;
	if (folder_root_init(a->mail_dir, &why) < 0 ||
	    folder_create(a->mail_dir, folder, &why) < 0 ||
	    folder_add(a->mail_dir, folder, msg->data, msg->len, flags, NULL,
	               NULL, &why) < 0) {
		fprintf(stderr, "posthorn: cannot save a copy in %s: %s\n", folder,
		        buf_cstr(&why));
		rc = EXIT_LOCAL;
	}
	buf_free(&why);
	return rc;
}

/* One line per recipient; the exit status of the first refusal, or 0. */
static int outgoing_report(struct smtpc_rcpt *r, size_t n)
{
	int status = 0;
	for (size_t i = 0; i < n; i++) {
		if (!r[i].reply.code) {
			/* never asked: the transaction failed before its RCPT */
			printf("not sent %s\n", r[i].address);
			continue;
		}
		struct buf t = BUF_INIT;
		util_term_safe(r[i].reply.text.data ? r[i].reply.text.data : "",
		               r[i].reply.text.len, 1, &t);
		int ok = r[i].reply.code >= 200 && r[i].reply.code < 300;
		printf("%s %s: %d %s%s%s\n", ok ? "accepted" : "REFUSED",
		       r[i].address, r[i].reply.code, r[i].reply.enhanced,
		       *r[i].reply.enhanced ? " " : "", buf_cstr(&t));
		if (!ok && !status)
			status = client_smtp_exit(&r[i].reply);
		buf_free(&t);
	}
	fflush(stdout);
	return status;
}

/* The envelope recipients, one per line in rcpts, as smtpc wants them. */
static struct smtpc_rcpt *outgoing_rcpts(struct buf *rcpts, size_t *n)
{
	*n = 0;
	char *s = buf_cstr(rcpts);
	for (char *p = s; *p; p++)
		if (*p == '\n')
			(*n)++;
	struct smtpc_rcpt *v = calloc(*n ? *n : 1, sizeof *v);
	if (!v)
		return NULL;
	size_t i = 0;
	for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		*nl = 0;
		size_t j = 0;
		while (j < i && strcasecmp(v[j].address, line))
			j++;
		if (j < i)
			continue;  /* in To and Bcc, say: one RCPT is enough */
		v[i].address = line;
		smtpc_reply_init(&v[i].reply);
		i++;
	}
	*n = i;
	return v;
}

static int outgoing_transmit(const struct account *a, struct outgoing_built *m,
                             struct smtpc_rcpt *r, size_t n, int *sent)
{
	struct smtpc *s = NULL;
	struct smtpc_reply last;
	struct buf why = BUF_INIT;
	enum net_err err = NET_OK;
	int rc = client_smtp_open(a, &s);
	if (rc)
		return rc;
	smtpc_reply_init(&last);
	unsigned long long limit = smtpc_ext(s)->size;
	if (limit && m->wire.len > limit) {
		fprintf(stderr, "posthorn: the message is %zu bytes; the server "
		        "accepts at most %llu (SIZE): send smaller attachments\n",
		        m->wire.len, limit);
		rc = EXIT_TOO_BIG;
		goto out;
	}
	int got = smtpc_send(s, buf_cstr(&m->envelope), r, n, m->wire.data,
	                     m->wire.len, &last, &err, &why);
	if (got < 0) {
		if (last.code == 0) {
			char what[300];
			snprintf(what, sizeof what, "SMTP server %s:%d", a->smtp.host,
			         a->smtp.port);
			rc = client_net_fail(err ? err : NET_ERR_PROTOCOL, what,
			                     buf_cstr(&why));
		} else {
			int refusals = outgoing_report(r, n);
			struct buf t = BUF_INIT;
			util_term_safe(last.text.data ? last.text.data : "",
			               last.text.len, 1, &t);
			fprintf(stderr, "posthorn: the server refused the message: "
			        "%d %s%s%s\n", last.code, last.enhanced,
			        *last.enhanced ? " " : "", buf_cstr(&t));
			buf_free(&t);
			rc = client_smtp_exit(&last);
			if (refusals && rc == EXIT_SERVER)
				rc = refusals;
			if (rc == EXIT_TOO_BIG && limit)
				fprintf(stderr, "posthorn: the server's limit is %llu "
				        "bytes\n", limit);
		}
		goto out;
	}
	rc = outgoing_report(r, n);
	*sent = got > 0;
	if (got == 0) {
		fprintf(stderr, "posthorn: no recipient accepted the message; "
		        "nothing was sent\n");
		if (!rc)
			rc = EXIT_SERVER;
	}
out:
	if (s)
		smtpc_quit(&s);
	smtpc_reply_free(&last);
	buf_free(&why);
	return rc;
}

int outgoing_send(const struct account *a, const struct outgoing *o, int save)
{
	struct outgoing_built m;
	int rc = outgoing_build(a, o, &m);
	if (rc) {
		outgoing_built_free(&m);
		return rc;
	}
	size_t n = 0;
	struct smtpc_rcpt *r = outgoing_rcpts(&m.rcpts, &n);
	if (!r) {
		outgoing_built_free(&m);
		return EXIT_LOCAL;
	}
	int sent = 0;
	if (!n) {
		fprintf(stderr, "posthorn: no recipients: give --to, --cc or --bcc\n");
		rc = EXIT_USAGE;
	} else {
		rc = outgoing_transmit(a, &m, r, n, &sent);
	}
	if (sent) {
		printf("sent: Message-ID %s\n", m.msgid);
		fflush(stdout);
		if (save) {
			int frc = outgoing_file(a, "Sent", &m.copy, "S");
			if (frc && !rc)
				rc = frc;
		}
	}
	for (size_t i = 0; i < n; i++)
		smtpc_reply_free(&r[i].reply);
	free(r);
	outgoing_built_free(&m);
	return rc;
}

int outgoing_save_draft(const struct account *a, const struct outgoing *o)
{
	struct outgoing_built m;
	int rc = outgoing_build(a, o, &m);
	if (!rc)
		rc = outgoing_file(a, "Drafts", &m.copy, "DS");
	if (!rc)
		printf("saved to Drafts: Message-ID %s\n", m.msgid);
	outgoing_built_free(&m);
	return rc;
}

int outgoing_read_stdin(struct outgoing *o, int *done)
{
	*done = 0;
	if (isatty(0))
		return 0;
	char chunk[65536];
	ssize_t n;
	while ((n = read(0, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || buf_append(&o->text, chunk, (size_t)n) < 0) {
			fprintf(stderr, "posthorn: cannot read the text from standard "
			        "input: %s\n", n < 0 ? strerror(errno) : "too large");
			return EXIT_INPUT;
		}
	}
	*done = 1;
	return 0;
}

/* The template the editor shows: our fields, a blank line, the text. */
static int outgoing_template(const struct account *a, const struct outgoing *o,
                             struct buf *t)
{
	static const struct { const char *name; size_t off; } lists[] = {
		{"To", offsetof(struct outgoing, to)},
		{"Cc", offsetof(struct outgoing, cc)},
		{"Bcc", offsetof(struct outgoing, bcc)},
	};
	int rc = 0;
	if (o->from)
		rc |= buf_printf(t, "From: %s\n", o->from);
	else if (a->display_name)
		rc |= buf_printf(t, "From: %s <%s>\n", a->display_name, a->address);
	else
		rc |= buf_printf(t, "From: %s\n", a->address);
	for (size_t i = 0; i < 3; i++) {
		const struct outgoing_strs *l =
			(const void *)((const char *)o + lists[i].off);
		rc |= buf_printf(t, "%s: ", lists[i].name);
		for (size_t j = 0; j < l->n; j++)
			rc |= buf_printf(t, "%s%s", j ? ", " : "", l->v[j]);
		rc |= buf_puts(t, "\n");
	}
	if (o->reply_to)
		rc |= buf_printf(t, "Reply-To: %s\n", o->reply_to);
	rc |= buf_printf(t, "Subject: %s\n", o->subject ? o->subject : "");
	for (size_t j = 0; j < o->attach.n; j++)
		rc |= buf_printf(t, "Attach: %s\n", o->attach.v[j]);
	if (!o->attach.n)
		rc |= buf_puts(t, "Attach: \n");
	rc |= buf_puts(t, "\n");
	rc |= buf_append(t, o->text.data ? o->text.data : "", o->text.len);
	return rc ? -1 : 0;
}

/* Runs the editor on path. 0 or an exit status after printing why. */
static int outgoing_run_editor(const char *path)
{
	const char *ed = getenv("VISUAL");
	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	struct buf cmd = BUF_INIT;
	if (buf_printf(&cmd, "%s \"$1\"", ed) < 0)
		return EXIT_LOCAL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", buf_cstr(&cmd), "sh", path, (char *)NULL);
		_exit(127);
	}
	buf_free(&cmd);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		fprintf(stderr, "posthorn: cannot run the editor: %s\n",
		        strerror(errno));
		return EXIT_LOCAL;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "posthorn: the editor '%s' failed (status %d); "
		        "nothing was sent\n", ed, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return EXIT_INPUT;
	}
	return 0;
}

static int outgoing_set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = *v ? strdup(v) : NULL;
	return *v && !*slot ? -1 : 0;
}

/* Reads one "Key: value" line of the edited template into o. */
static int outgoing_parse_field(const struct account *a, struct outgoing *o,
                                char *line, int *draft, int *seen_attach)
{
	char *colon = strchr(line, ':');
	if (!colon) {
		fprintf(stderr, "posthorn: the edited message has a header line "
		        "without ':': %s\n", line);
		return EXIT_INPUT;
	}
	*colon = 0;
	char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t' ||
	                                        e[-1] == '\r'); )
		*--e = 0;
	struct outgoing_strs *l = NULL;
	if (!strcasecmp(line, "To"))
		l = &o->to;
	else if (!strcasecmp(line, "Cc"))
		l = &o->cc;
	else if (!strcasecmp(line, "Bcc"))
		l = &o->bcc;
	if (l) {
		outgoing_strs_free(l);
		return *v && outgoing_strs_add(l, v) < 0 ? EXIT_LOCAL : 0;
	}
	if (!strcasecmp(line, "Attach")) {
		if (!*seen_attach)
			outgoing_strs_free(&o->attach);
		*seen_attach = 1;
		return *v && outgoing_strs_add(&o->attach, v) < 0 ? EXIT_LOCAL : 0;
	}
	if (!strcasecmp(line, "X-Posthorn-Draft")) {
		*draft = !strcasecmp(v, "yes");
		return 0;
	}
	int rc = 0;
	if (!strcasecmp(line, "Subject"))
		rc = outgoing_set_str(&o->subject, v);
	else if (!strcasecmp(line, "Reply-To"))
		rc = outgoing_set_str(&o->reply_to, v);
	else if (!strcasecmp(line, "From")) {
		char mine[600];
		snprintf(mine, sizeof mine, "%s <%s>", a->display_name ?
		         a->display_name : "", a->address);
		rc = strcmp(v, mine) && strcmp(v, a->address)
		     ? outgoing_set_str(&o->from, v) : 0;
	} else {
		fprintf(stderr, "posthorn: warning: field '%s' of the edited "
		        "message is ignored\n", line);
	}
	return rc ? EXIT_LOCAL : 0;
}

static int outgoing_parse_template(const struct account *a, struct outgoing *o,
                                   struct buf *t, int *draft)
{
	char *s = buf_cstr(t), *line = s;
	int seen_attach = 0;
	while (*line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (!*line || !strcmp(line, "\r")) {
			line = nl ? nl + 1 : line + strlen(line);
			break;
		}
		int rc = outgoing_parse_field(a, o, line, draft, &seen_attach);
		if (rc)
			return rc;
		if (!nl) {
			line += strlen(line);
			break;
		}
		line = nl + 1;
	}
	buf_reset(&o->text);
	return buf_puts(&o->text, line) < 0 ? EXIT_LOCAL : 0;
}

int outgoing_edit(const struct account *a, struct outgoing *o, int *draft)
{
	struct buf t = BUF_INIT, back = BUF_INIT;
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int rc = EXIT_LOCAL, fd;
	*draft = 0;
	snprintf(path, sizeof path, "%s/posthorn-XXXXXX.eml",
	         dir && *dir ? dir : "/tmp");
	if (outgoing_template(a, o, &t) < 0 || (fd = mkstemps(path, 4)) < 0) {
		fprintf(stderr, "posthorn: cannot write the draft file %s: %s\n",
		        path, strerror(errno));
		buf_free(&t);
		return EXIT_LOCAL;
	}
	if (fs_write_all(fd, t.data ? t.data : "", t.len) < 0 || close(fd) < 0) {
		fprintf(stderr, "posthorn: cannot write %s: %s\n", path,
		        strerror(errno));
		goto out;
	}
	if ((rc = outgoing_run_editor(path)) != 0)
		goto out;
	if (fs_read_file(path, OUTGOING_FILE_MAX, &back) < 0) {
		fprintf(stderr, "posthorn: cannot read back %s: %s\n", path,
		        strerror(errno));
		rc = EXIT_LOCAL;
		goto out;
	}
	if (back.len == t.len && !memcmp(back.data, t.data, t.len)) {
		fprintf(stderr, "posthorn: the message was not changed: nothing "
		        "to send\n");
		rc = 1;
		goto out;
	}
	if ((rc = outgoing_parse_template(a, o, &back, draft)) != 0)
		goto out;
	int empty = 1;
	for (size_t i = 0; i < o->text.len && empty; i++)
		if (!strchr(" \t\r\n", o->text.data[i]))
			empty = 0;
	if (!*draft && empty && !o->attach.n && !o->forward_raw && !o->nparts) {
		fprintf(stderr, "posthorn: the message is empty: nothing to send\n");
		rc = 1;
	}
out:
	unlink(path);
	buf_free(&t);
	buf_free(&back);
	return rc;
}

/* Takes every "--name VALUE" / "--name=VALUE" of a repeatable option out
 * of argv into l. Returns the new argc, or -1 (a usage error, printed). */
int outgoing_take_multi(int argc, char **argv, const char *name,
                           struct outgoing_strs *l)
{
	size_t nl = strlen(name);
	int out = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strncmp(a, name, nl) && (a[nl] == 0 || a[nl] == '=')) {
			const char *v = a[nl] == '=' ? a + nl + 1 : NULL;
			if (!v && i + 1 >= argc) {
				fprintf(stderr, "posthorn %s: option '%s' needs a value\n",
				        argv[0], name);
				return -1;
			}
			if (outgoing_strs_add(l, v ? v : argv[++i]) < 0)
				return -1;
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	return out;
}
