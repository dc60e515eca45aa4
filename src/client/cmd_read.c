/* read and attachments: one message of a local folder as a person reads it
 * (decoded header fields, the readable text in UTF-8, its attachments
 * numbered), and its attachments listed or saved. Output passes through
 * util_term_safe: a message must not be able to drive the terminal. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../msg/encword.h"
#include "commands.h"
#include "extract.h"
#include "local.h"
#include "show.h"

static const char read_usage[] =
	"usage: posthorn read N [--folder F] [--headers] [--raw]\n"
	"\n"
	"Shows message N of a folder (default INBOX; numbers as 'posthorn list'\n"
	"shows them): From, To, Cc, Date (local time) and Subject decoded, the\n"
	"text converted to UTF-8 (text from HTML when that is all there is),\n"
	"and the attachments numbered as 'posthorn attachments' uses them.\n"
	"Marks the message seen.\n"
	"\n"
	"  --folder F   the folder (default INBOX)\n"
	"  --headers    every header field, decoded\n"
	"  --raw        the message file exactly as stored\n"
	"  --help       this text\n";

static const char attachments_usage[] =
	"usage: posthorn attachments N [--folder F] [--save DIR] [--force]\n"
	"\n"
	"Lists the attachments of message N (number, name, type, decoded size),\n"
	"or saves them into DIR (created when missing) and prints the path of\n"
	"each file written. Names come from the message, made safe: never a\n"
	"path outside DIR. An existing file is kept and the attachment saved as\n"
	"'name (1).ext' unless --force replaces it.\n"
	"\n"
	"  --folder F   the folder (default INBOX)\n"
	"  --save DIR   save the attachments into DIR\n"
	"  --force      replace existing files\n"
	"  --help       this text\n";

/* The attachments of a message in the order they are numbered; the parts
 * inside an attached message belong to it and are not counted. */
struct read_parts {
	const struct msg_part **parts;
	size_t n;
};

static int read_collect(const struct msg_message *m, struct read_parts *a)
{
	const struct msg_part *skip = NULL;
	size_t cap = 0;
	a->parts = NULL;
	a->n = 0;
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p)) {
		if (skip && p->depth > skip->depth)
			continue;
		skip = NULL;
		if (!msg_part_is_attachment(p))
			continue;
		skip = p;
		if (a->n == cap) {
			cap = cap ? cap * 2 : 8;
			const struct msg_part **grown = realloc(a->parts,
			                                        cap * sizeof *grown);
			if (!grown)
				return -1;
			a->parts = grown;
		}
		a->parts[a->n++] = p;
	}
	return 0;
}

/* One row per attachment: "  1  name.pdf  application/pdf  12K". */
static int read_attachment_rows(const struct msg_message *m,
                                const struct read_parts *a, const char *indent,
                                struct buf *out)
{
	char **names = calloc(a->n + 1, sizeof *names);
	size_t name_w = 0;
	int r = names ? 0 : -1;
	for (size_t i = 0; i < a->n && r == 0; i++) {
		struct buf safe = BUF_INIT;
		char *raw = msg_part_filename(a->parts[i]);
		r = raw ? util_term_safe(raw, strlen(raw), 1, &safe)
		        : buf_puts(&safe, "(no name)");
		free(raw);
		names[i] = r == 0 ? buf_steal(&safe, NULL) : NULL;
		buf_free(&safe);
		if (!names[i])
			r = -1;
		size_t w = r == 0 ? util_display_width(names[i], strlen(names[i])) : 0;
		name_w = w > name_w ? w : name_w;
	}
	name_w = name_w > 40 ? 40 : name_w;
	size_t type_w = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct msg_ctype *ct = &a->parts[i]->ctype;
		size_t w = strlen(ct->type) + 1 + strlen(ct->subtype);
		type_w = w > type_w ? w : type_w;
	}
	type_w = type_w > 40 ? 40 : type_w;
	for (size_t i = 0; i < a->n && r == 0; i++) {
		const struct msg_part *p = a->parts[i];
		struct buf body = BUF_INIT;
		char size[16];
		r = msg_part_decode(m, p, &body);
		local_size(body.len, size, sizeof size);
		size_t w = util_display_width(names[i], strlen(names[i]));
		size_t tw = strlen(p->ctype.type) + 1 + strlen(p->ctype.subtype);
		r |= buf_printf(out, "%s%2zu  %s%*s  %s/%s%*s  %5s\n", indent, i + 1,
		                names[i], w < name_w ? (int)(name_w - w) : 0, "",
		                p->ctype.type, p->ctype.subtype,
		                tw < type_w ? (int)(type_w - tw) : 0, "", size);
		buf_free(&body);
	}
	for (size_t i = 0; names && i < a->n; i++)
		free(names[i]);
	free(names);
	return r ? -1 : 0;
}

/* --headers: every field in order, RFC 2047 decoded, one line each. */
static int read_all_fields(const struct msg_header *h, struct buf *out)
{
	struct buf value = BUF_INIT, decoded = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < h->count && r == 0; i++) {
		const struct msg_field *f = &h->fields[i];
		buf_reset(&value);
		buf_reset(&decoded);
		r = util_term_safe(f->name, f->name_len, 1, out);
		r |= buf_puts(out, ": ");
		r |= msg_field_unfold(f, &value);
		r |= msg_encword_decode(value.data ? value.data : "", value.len,
		                        &decoded) < 0;
		r |= util_term_safe(decoded.data ? decoded.data : "", decoded.len, 1,
		                    out);
		r |= buf_putc(out, '\n');
	}
	buf_free(&value);
	buf_free(&decoded);
	return r ? -1 : 0;
}

static int read_render(const struct util_input *in, int headers,
                       struct buf *out)
{
	const struct msg_header *h = &in->msg->root->header;
	struct buf text = BUF_INIT;
	struct read_parts a = {0};
	int r = headers ? read_all_fields(h, out) : show_summary(h, NULL, out);
	r |= buf_putc(out, '\n');
	int t = util_readable_text(in->msg, &text);
	if (t == 1)
		fprintf(stderr, "posthorn: warning: text in an unknown or damaged "
		        "charset, shown as far as possible\n");
	r |= t < 0 ? -1 : util_term_safe(text.data ? text.data : "", text.len,
	                                 0, out);
	if (out->len && out->data[out->len - 1] != '\n')
		r |= buf_putc(out, '\n');
	r |= read_collect(in->msg, &a);
	if (r == 0 && a.n) {
		r |= buf_puts(out, "\nAttachments:\n");
		r |= read_attachment_rows(in->msg, &a, "", out);
	}
	free(a.parts);
	buf_free(&text);
	return r ? -1 : 0;
}

/* Opens the folder and loads message spec: the common start of both
 * commands. 0 with f open and in loaded (free both in every case). */
static int read_open(struct local_folder *f, const char *folder,
                     const char *spec, size_t *i, struct util_input *in)
{
	memset(in, 0, sizeof *in);
	int status = local_open(f, folder);
	if (status == 0)
		status = local_pick_one(f, spec, i);
	if (status == 0)
		status = local_load(f, *i, in);
	return status;
}

static int read_mark_seen(struct local_folder *f, size_t i)
{
	struct buf why = BUF_INIT;
	int status = EXIT_OK;
	if (!strchr(f->list.msgs[i].flags, 'S') &&
	    folder_set_flags(f->root, f->name, &f->list.msgs[i], "S", NULL,
	                     &why) < 0) {
		fprintf(stderr, "posthorn: could not mark message %zu seen: %s\n",
		        i + 1, why.len ? buf_cstr(&why) : strerror(errno));
		status = EXIT_LOCAL;
	}
	buf_free(&why);
	return status;
}

int cmd_read(int argc, char **argv)
{
	const char *folder = NULL;
	int headers = 0, raw = 0;
	const struct util_opt opts[] = {{"--folder", &folder, NULL},
	                                {"--headers", NULL, &headers},
	                                {"--raw", NULL, &raw}};
	char *pos[1];
	size_t npos, i = 0;
	int r = util_parse_args(argc, argv, opts, 3, pos, 1, &npos);
	if (r == 1) {
		fputs(read_usage, stdout);
		return EXIT_OK;
	}
	if (r == 0 && npos != 1)
		fprintf(stderr, "posthorn read: expected a message number\n");
	if (r == 0 && npos == 1 && headers && raw)
		fprintf(stderr, "posthorn read: --headers or --raw, not both\n");
	if (r < 0 || npos != 1 || (headers && raw)) {
		fprintf(stderr, "usage: posthorn read N [--folder F] [--headers] "
		        "[--raw]\n");
		return EXIT_USAGE;
	}
	struct local_folder f;
	struct util_input in;
	struct buf out = BUF_INIT;
	int status = read_open(&f, folder, pos[0], &i, &in);
	if (status == 0 && raw) {
		if (util_write_stdout(&in.raw) < 0)
			status = EXIT_PARTIAL;
	} else if (status == 0) {
		if (read_render(&in, headers, &out) < 0) {
			fprintf(stderr, "posthorn: message %zu: %s\n", i + 1,
			        strerror(ENOMEM));
			status = EXIT_PARTIAL;
		} else if (util_write_stdout(&out) < 0) {
			status = EXIT_PARTIAL;
		}
	}
	if (status == 0)
		status = read_mark_seen(&f, i);
	buf_free(&out);
	util_input_free(&in);
	local_close(&f);
	return status;
}

static int attachments_run(const struct util_input *in, size_t number,
                           const char *save, int force)
{
	struct read_parts a = {0};
	struct buf out = BUF_INIT;
	int status = EXIT_OK;
	if (read_collect(in->msg, &a) < 0) {
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
		status = EXIT_PARTIAL;
	} else if (a.n == 0) {
		fprintf(stderr, "message %zu has no attachments\n", number);
	} else if (save) {
		status = extract_save_attachments(in, save, force, 1, &out);
	} else if (read_attachment_rows(in->msg, &a, "", &out) < 0) {
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
		status = EXIT_PARTIAL;
	}
	if (out.len && util_write_stdout(&out) < 0)
		status = EXIT_PARTIAL;
	free(a.parts);
	buf_free(&out);
	return status;
}

int cmd_attachments(int argc, char **argv)
{
	const char *folder = NULL, *save = NULL;
	int force = 0;
	const struct util_opt opts[] = {{"--folder", &folder, NULL},
	                                {"--save", &save, NULL},
	                                {"--force", NULL, &force}};
	char *pos[1];
	size_t npos, i = 0;
	int r = util_parse_args(argc, argv, opts, 3, pos, 1, &npos);
	if (r == 1) {
		fputs(attachments_usage, stdout);
		return EXIT_OK;
	}
	if (r == 0 && npos != 1)
		fprintf(stderr, "posthorn attachments: expected a message number\n");
	else if (r == 0 && save && !save[0])
		fprintf(stderr, "posthorn attachments: --save wants a directory\n");
	else if (r == 0 && force && !save)
		fprintf(stderr, "posthorn attachments: --force goes with --save\n");
	if (r < 0 || npos != 1 || (save && !save[0]) || (force && !save)) {
		fprintf(stderr, "usage: posthorn attachments N [--folder F] "
		        "[--save DIR] [--force]\n");
		return EXIT_USAGE;
	}
	struct local_folder f;
	struct util_input in;
	int status = read_open(&f, folder, pos[0], &i, &in);
	if (status == 0)
		status = attachments_run(&in, i + 1, save, force);
	util_input_free(&in);
	local_close(&f);
	return status;
}
