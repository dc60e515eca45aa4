/* reply and forward: a new message made from one in a local folder. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/fs.h"
#include "../msg/address.h"
#include "../msg/msgid.h"
#include "commands.h"
#include "connect.h"
#include "local.h"
#include "outgoing.h"
#include "util.h"

static const char reply_usage[] =
	"usage: posthorn reply N [--all] [--folder F] [--body-file F]\n"
	"                      [--send|--edit] [--no-save]\n"
	"\n"
	"Answers message N of the folder (default INBOX): to its Reply-To, else\n"
	"its From; --all also to its other To and Cc addresses except yours.\n"
	"The subject gets \"Re: \" once, In-Reply-To and References thread it,\n"
	"and the original text is quoted with \"> \". The text comes from\n"
	"--body-file, else standard input when it is not a terminal, else\n"
	"$EDITOR opens on the draft (--edit: always; --send: never). The\n"
	"original is marked answered.\n";

static const char forward_usage[] =
	"usage: posthorn forward N --to ADDR [--cc ADDR] [--inline|--attach]\n"
	"                        [--folder F] [--body-file F] [--send|--edit]\n"
	"                        [--no-save]\n"
	"\n"
	"Sends message N of the folder (default INBOX) on to ADDR with the\n"
	"subject \"Fwd: ...\". --attach (the default) attaches the original as\n"
	"message/rfc822, unchanged; --inline quotes its text under a\n"
	"\"Forwarded message\" block and attaches its attachments. The note of\n"
	"your own comes from --body-file, else standard input when it is not a\n"
	"terminal, else $EDITOR. The original is marked forwarded.\n";

/* Skips one reply or forward prefix at s ("Re:", "RE :", "Re[2]:",
 * "Fwd:", "Fw:", "回复:", "答复：", "转发:"); returns s when there is none. */
static const char *reply_skip_prefix(const char *s, int forward)
{
	static const char *const re[] = {"re", "aw", "sv", "回复", "答复", NULL};
	static const char *const fw[] = {"fwd", "fw", "转发", NULL};
	const char *const *list = forward ? fw : re;
	for (size_t i = 0; list[i]; i++) {
		size_t n = strlen(list[i]);
		if (strncasecmp(s, list[i], n))
			continue;
		const char *p = s + n;
		if (*p == '[') {
			while (isdigit((unsigned char)*++p))
				;
			if (*p != ']')
				continue;
			p++;
		}
		while (*p == ' ')
			p++;
		if (*p == ':')
			p++;
		else if (!strncmp(p, "\xef\xbc\x9a", 3))  /* fullwidth colon */
			p += 3;
		else
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		return p;
	}
	return s;
}

/* "Re: " + the subject without its reply prefixes, so never "Re: Re:". */
static char *reply_subject(const struct msg_header *h, int forward)
{
	struct buf subj = BUF_INIT, out = BUF_INIT;
	util_header_text(h, "Subject", &subj);
	const char *s = buf_cstr(&subj), *next;
	while (*s == ' ')
		s++;
	if (forward) {
		/* "Fwd: x" stays as it is: forwarding it again adds nothing */
		if (reply_skip_prefix(s, 1) != s)
			buf_puts(&out, s);
		else
			buf_printf(&out, "Fwd: %s", s);
	} else {
		while ((next = reply_skip_prefix(s, 0)) != s)
			s = next;
		buf_printf(&out, "Re: %s", s);
	}
	buf_free(&subj);
	return buf_steal(&out, NULL);
}

/* True when "\nSPEC\n" is in seen (spec ends in '\n'). */
static int reply_seen(const char *seen, const char *spec)
{
	size_t n = strlen(spec);
	for (const char *p = seen; (p = strstr(p, spec)); p++)
		if (p > seen && p[-1] == '\n' && p[n - 1] == '\n')
			return 1;
	return 0;
}

/* Adds the formatted addresses of field to l, skipping mine and those
 * already in skip (lowercased specs, one per line). */
static int reply_add_field(const struct msg_header *h, const char *field,
                           const char *mine, struct buf *seen,
                           struct outgoing_strs *l)
{
	struct msg_address_list al = {0};
	int rc = util_header_addresses(h, field, &al) < 0 ? -1 : 0;
	for (size_t i = 0; i < al.count && !rc; i++) {
		struct buf spec = BUF_INIT, fmt = BUF_INIT;
		if (!*al.items[i].domain || msg_address_spec(&al.items[i], &spec) < 0)
			goto next;
		char *sp = buf_cstr(&spec);
		for (char *p = sp; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!strcasecmp(sp, mine))
			goto next;
		buf_putc(&spec, '\n');
		if (!seen->len)
			buf_putc(seen, '\n');
		if (reply_seen(buf_cstr(seen), buf_cstr(&spec)))
			goto next;
		buf_puts(seen, buf_cstr(&spec));
		if (msg_address_format(&al.items[i], &fmt) < 0 ||
		    outgoing_strs_add(l, buf_cstr(&fmt)) < 0)
			rc = -1;
next:
		buf_free(&spec);
		buf_free(&fmt);
	}
	msg_address_list_free(&al);
	return rc;
}

/* The original's text quoted with "> ", after "On DATE, NAME wrote:". */
static int reply_quote(const struct util_input *in, struct buf *out)
{
	struct buf text = BUF_INIT, from = BUF_INIT, date = BUF_INIT;
	struct msg_address_list al = {0};
	util_readable_text(in->msg, &text);
	util_header_text(&in->msg->root->header, "Date", &date);
	if (util_header_addresses(&in->msg->root->header, "From", &al) >= 0 &&
	    al.count)
		buf_puts(&from, *al.items[0].name ? al.items[0].name : "");
	if (!from.len && al.count)
		msg_address_spec(&al.items[0], &from);
	buf_printf(out, "On %s, %s wrote:\n", date.len ? buf_cstr(&date)
	           : "an unknown date", from.len ? buf_cstr(&from) : "someone");
	const char *s = buf_cstr(&text);
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		buf_printf(out, ">%s%.*s\n", n && s[0] != '>' ? " " : "", (int)n, s);
		s += n + (nl ? 1 : 0);
	}
	msg_address_list_free(&al);
	buf_free(&text);
	buf_free(&from);
	buf_free(&date);
	return 0;
}

/* Threading: In-Reply-To the original, References its References + it. */
static int reply_thread(const struct msg_header *h, struct outgoing *o)
{
	char *id = util_message_id(h);
	if (!id)
		return 0;
	const struct msg_field *f = msg_header_get(h, "References");
	if (f) {
		struct msg_id_list ids = {0};
		msg_id_parse(f->value, f->value_len, &ids);
		size_t from = ids.count > 20 ? ids.count - 20 : 0;
		for (size_t i = from; i < ids.count; i++)
			outgoing_strs_add(&o->references, ids.ids[i]);
		msg_id_list_free(&ids);
	}
	outgoing_strs_add(&o->references, id);
	o->in_reply_to = id;
	return 0;
}

/* The user's own text: --body-file, else stdin, else none yet (*have 0). */
static int reply_own_text(const char *body_file, struct buf *text, int *have)
{
	*have = 0;
	if (body_file) {
		if (fs_read_file(body_file, (size_t)64 << 20, text) < 0) {
			fprintf(stderr, "posthorn: cannot read the text file %s: %s\n",
			        body_file, strerror(errno));
			return EXIT_INPUT;
		}
		*have = 1;
		return 0;
	}
	struct outgoing tmp;
	outgoing_init(&tmp);
	int rc = outgoing_read_stdin(&tmp, have);
	if (!rc && *have)
		buf_append(text, tmp.text.data ? tmp.text.data : "", tmp.text.len);
	outgoing_free(&tmp);
	return rc;
}

/* Sends o (through the editor first when the user gave no text), then
 * marks the original with flag. */
static int reply_finish(struct local_folder *f, size_t idx, struct outgoing *o,
                        int have_text, int save, const char *flag)
{
	int rc = 0, draft = 0;
	if (!have_text && (rc = outgoing_edit(f->acct, o, &draft)) != 0)
		return rc;
	if (draft)
		return outgoing_save_draft(f->acct, o);
	rc = outgoing_send(f->acct, o, save);
	if (rc == 0 || rc == EXIT_PARTIAL) {
		struct buf why = BUF_INIT;
		if (folder_set_flags(f->root, f->name, &f->list.msgs[idx], flag, NULL,
		                     &why) < 0)
			fprintf(stderr, "posthorn: warning: cannot mark the original: "
			        "%s\n", buf_cstr(&why));
		buf_free(&why);
	}
	return rc;
}

/* Opens the folder and message N (exactly one). */
static int reply_open(struct local_folder *f, const char *folder,
                      const char *spec, size_t *idx, struct util_input *in)
{
	size_t *v = NULL, n = 0;
	int rc = local_open(f, folder);
	if (!rc && !(rc = local_pick(f, spec, &v, &n)) && n != 1) {
		fprintf(stderr, "posthorn: give one message number, not %zu\n", n);
		rc = EXIT_USAGE;
	}
	if (!rc) {
		*idx = v[0];
		rc = local_load(f, *idx, in);
	}
	free(v);
	return rc;
}

int cmd_reply(int argc, char **argv)
{
	const char *folder = NULL, *body_file = NULL;
	int all = 0, no_save = 0, send = 0, edit = 0;
	const struct util_opt opts[] = {
		{"--all", NULL, &all}, {"--folder", &folder, NULL},
		{"--body-file", &body_file, NULL}, {"--no-save", NULL, &no_save},
		{"--send", NULL, &send}, {"--edit", NULL, &edit},
	};
	char *pos[1];
	size_t npos = 0, idx = 0;
	int r = util_parse_args(argc, argv, opts, 6, pos, 1, &npos);
	if (r == 1) {
		fputs(reply_usage, stdout);
		return EXIT_OK;
	}
	if (r < 0 || npos != 1 || (send && edit)) {
		if (r == 0)
			fprintf(stderr, "posthorn reply: %s\n", npos != 1 ?
			        "which message? give its number" :
			        "--send and --edit exclude each other");
		fputs("try 'posthorn reply --help'\n", stderr);
		return EXIT_USAGE;
	}
	struct local_folder f;
	struct util_input in;
	struct outgoing o;
	struct buf seen = BUF_INIT, own = BUF_INIT;
	int have = 0;
	memset(&in, 0, sizeof in);
	outgoing_init(&o);
	int rc = reply_open(&f, folder, pos[0], &idx, &in);
	if (rc)
		goto out;
	const struct msg_header *h = &in.msg->root->header;
	const char *mine = f.acct->address;
	int has_reply_to = msg_header_get(h, "Reply-To") != NULL;
	reply_add_field(h, has_reply_to ? "Reply-To" : "From", "", &seen, &o.to);
	if (all) {
		reply_add_field(h, "To", mine, &seen, &o.cc);
		reply_add_field(h, "Cc", mine, &seen, &o.cc);
	}
	if (!o.to.n && !o.cc.n) {
		fprintf(stderr, "posthorn: message %s has no address to reply to\n",
		        pos[0]);
		rc = EXIT_INPUT;
		goto out;
	}
	o.subject = reply_subject(h, 0);
	reply_thread(h, &o);
	if ((rc = reply_own_text(body_file, &own, &have)) != 0)
		goto out;
	buf_append(&o.text, own.data ? own.data : "", own.len);
	while (o.text.len && o.text.data[o.text.len - 1] == '\n')
		o.text.len--;
	/* room to write above the quote when the editor opens */
	buf_puts(&o.text, o.text.len ? "\n\n" : have ? "" : "\n\n");
	reply_quote(&in, &o.text);
	rc = reply_finish(&f, idx, &o, (have || send) && !edit, !no_save, "R");
out:
	buf_free(&seen);
	buf_free(&own);
	outgoing_free(&o);
	util_input_free(&in);
	local_close(&f);
	return rc;
}

/* The inline form: the original's header and text under a marker line,
 * its attachments attached again. */
static void forward_inline(const struct util_input *in, struct outgoing *o)
{
	static const char *const fields[] = {"From", "Date", "Subject", "To",
	                                     "Cc", NULL};
	buf_puts(&o->text, "\n---------- Forwarded message ----------\n");
	for (size_t i = 0; fields[i]; i++) {
		struct buf v = BUF_INIT;
		if (util_header_text(&in->msg->root->header, fields[i], &v) == 1)
			buf_printf(&o->text, "%s: %s\n", fields[i], buf_cstr(&v));
		buf_free(&v);
	}
	buf_puts(&o->text, "\n");
	util_readable_text(in->msg, &o->text);
	const struct msg_part *text = msg_text_part(in->msg);
	for (const struct msg_part *p = in->msg->root; p; p = msg_part_walk(p)) {
		if (p == text || !msg_part_is_attachment(p))
			continue;
		struct buf data = BUF_INIT, type = BUF_INIT;
		char *name = msg_part_filename(p);
		if (p->ctype.type)
			buf_printf(&type, "%s/%s", p->ctype.type, p->ctype.subtype);
		if (msg_part_decode(in->msg, p, &data) == 0 &&
		    (!p->ctype.type || strcmp(p->ctype.type, "message")) &&
		    (!p->ctype.type || strcmp(p->ctype.type, "multipart")))
			outgoing_add_part(o, data.data ? data.data : "", data.len, name,
			                  type.len ? buf_cstr(&type) : NULL);
		free(name);
		buf_free(&data);
		buf_free(&type);
	}
}

int cmd_forward(int argc, char **argv)
{
	const char *folder = NULL, *body_file = NULL;
	int as_inline = 0, as_attach = 0, no_save = 0, send = 0, edit = 0;
	struct outgoing o;
	outgoing_init(&o);
	if ((argc = outgoing_take_multi(argc, argv, "--to", &o.to)) < 0 ||
	    (argc = outgoing_take_multi(argc, argv, "--cc", &o.cc)) < 0) {
		outgoing_free(&o);
		return EXIT_USAGE;
	}
	const struct util_opt opts[] = {
		{"--inline", NULL, &as_inline}, {"--attach", NULL, &as_attach},
		{"--folder", &folder, NULL}, {"--body-file", &body_file, NULL},
		{"--no-save", NULL, &no_save}, {"--send", NULL, &send},
		{"--edit", NULL, &edit},
	};
	char *pos[1];
	size_t npos = 0, idx = 0;
	int r = util_parse_args(argc, argv, opts, 7, pos, 1, &npos);
	if (r == 1) {
		outgoing_free(&o);
		fputs(forward_usage, stdout);
		return EXIT_OK;
	}
	if (r < 0 || npos != 1 || !o.to.n || (as_inline && as_attach) ||
	    (send && edit)) {
		if (r == 0)
			fprintf(stderr, "posthorn forward: %s\n", npos != 1 ?
			        "which message? give its number" : !o.to.n ?
			        "to whom? give --to ADDR" : send && edit ?
			        "--send and --edit exclude each other" :
			        "--inline and --attach exclude each other");
		fputs("try 'posthorn forward --help'\n", stderr);
		outgoing_free(&o);
		return EXIT_USAGE;
	}
	struct local_folder f;
	struct util_input in;
	struct buf own = BUF_INIT;
	int have = 0;
	memset(&in, 0, sizeof in);
	int rc = reply_open(&f, folder, pos[0], &idx, &in);
	if (rc)
		goto out;
	o.subject = reply_subject(&in.msg->root->header, 1);
	if ((rc = reply_own_text(body_file, &own, &have)) != 0)
		goto out;
	buf_append(&o.text, own.data ? own.data : "", own.len);
	if (as_inline) {
		forward_inline(&in, &o);
	} else {
		o.forward_raw = in.raw.data;
		o.forward_len = in.raw.len;
	}
	rc = reply_finish(&f, idx, &o, (have || send) && !edit, !no_save, "P");
out:
	buf_free(&own);
	outgoing_free(&o);
	util_input_free(&in);
	local_close(&f);
	return rc;
}
