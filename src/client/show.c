/* show: a message as a person reads it: the main header fields decoded,
 * the readable text, and the list of attachments; or the same as one JSON
 * object for scripts (`show --json`). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../msg/date.h"
#include "commands.h"
#include "json.h"
#include "show.h"
#include "util.h"

static const char show_usage[] =
	"usage: posthorn show [--json] FILE|-\n"
	"\n"
	"Prints the From, To, Cc, Date (local time) and Subject of a message,\n"
	"its readable text and the list of its attachments. FILE - reads\n"
	"standard input.\n"
	"\n"
	"  --json   one JSON object: from, to, cc, subject, date (UTC),\n"
	"           message_id, text\n"
	"  --help   this text\n";

/* Parses the address fields name, warning once when one is damaged. */
static int show_addresses(const struct util_input *in, const char *name,
                          struct msg_address_list *list)
{
	int r = util_header_addresses(&in->msg->root->header, name, list);
	if (r == 1)
		fprintf(stderr, "posthorn: warning: %s: %s: address syntax error, "
		        "shown as far as possible\n", in->name, name);
	return r < 0 ? -1 : 0;
}

/* A display name as a reader would retype it: quoted when it holds a
 * comma or another special that would split or change the address list,
 * UTF-8 kept as it is (this is for eyes, not for a header). */
static int show_name(const char *name, struct buf *out)
{
	if (!strpbrk(name, ",;:<>@\"()[]\\"))
		return buf_printf(out, "%s ", name);
	int r = buf_putc(out, '"');
	for (const char *c = name; *c && r == 0; c++) {
		if (*c == '"' || *c == '\\')
			r = buf_putc(out, '\\');
		r |= buf_putc(out, *c);
	}
	return r | buf_puts(out, "\" ");
}

/* "Field: Name <addr>, addr", or the field's decoded text when it holds no
 * address ("undisclosed-recipients:;"); nothing when absent. 0, 1 when the
 * field is damaged (shown as far as it parsed), -1 when out of memory. */
static int show_address_line(const struct msg_header *h, const char *name,
                             struct buf *out)
{
	struct msg_address_list list = {0};
	struct buf line = BUF_INIT;
	if (!msg_header_get(h, name))
		return 0;
	int damaged = 0, r = util_header_addresses(h, name, &list);
	if (r == 1)
		damaged = 1, r = 0;
	if (r == 0 && list.count == 0)
		r = util_header_text(h, name, &line) < 0 ? -1 : 0;
	for (size_t i = 0; i < list.count && r == 0; i++) {
		const struct msg_address *a = &list.items[i];
		int named = a->name && a->name[0];
		/* the null reverse-path "<>" keeps its brackets to stay visible */
		int angle = named || !a->local || !a->local[0];
		r |= i ? buf_puts(&line, ", ") : 0;
		r |= named ? show_name(a->name, &line) : 0;
		r |= angle ? buf_putc(&line, '<') : 0;
		r |= util_address_spec(a, &line);
		r |= angle ? buf_putc(&line, '>') : 0;
	}
	if (r == 0) {
		r |= buf_printf(out, "%s: ", name);
		r |= util_term_safe(line.data ? line.data : "", line.len, 1, out);
		r |= buf_putc(out, '\n');
	}
	buf_free(&line);
	msg_address_list_free(&list);
	return r ? -1 : damaged;
}

/* The Date field in the reader's time zone (TZ), or its raw text when it
 * cannot be parsed or shown. */
static int show_date_line(const struct msg_header *h, struct buf *out)
{
	const struct msg_field *f = msg_header_get(h, "Date");
	int64_t utc;
	int offset;
	char text[64];
	if (!f)
		return 0;
	int r = buf_puts(out, "Date: ");
	if (msg_date_parse(f->value, f->value_len, &utc, &offset) == 0 &&
	    (int64_t)(time_t)utc == utc) {
		time_t t = (time_t)utc;
		struct tm tm;
		tzset();
		if (localtime_r(&t, &tm) &&
		    strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S %z", &tm))
			return r | buf_printf(out, "%s\n", text);
	}
	struct buf raw = BUF_INIT;
	r |= msg_field_unfold(f, &raw);
	r |= util_term_safe(raw.data, raw.len, 1, out);
	r |= buf_putc(out, '\n');
	buf_free(&raw);
	return r ? -1 : 0;
}

static int show_subject_line(const struct msg_header *h, struct buf *out)
{
	struct buf subject = BUF_INIT;
	int r = util_header_text(h, "Subject", &subject);
	if (r == 1) {
		r = buf_puts(out, "Subject: ");
		r |= util_term_safe(subject.data, subject.len, 1, out);
		r |= buf_putc(out, '\n');
	}
	buf_free(&subject);
	return r < 0 ? -1 : 0;
}

int show_summary(const struct msg_header *h, const char *source,
                 struct buf *out)
{
	static const char *const fields[] = {"From", "To", "Cc"};
	int r = 0;
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		int a = show_address_line(h, fields[i], out);
		if (a == 1 && source)
			fprintf(stderr, "posthorn: warning: %s: %s: address syntax "
			        "error, shown as far as possible\n", source, fields[i]);
		r |= a < 0;
	}
	r |= show_date_line(h, out);
	r |= show_subject_line(h, out);
	return r ? -1 : 0;
}

/* "  [2] name.pdf (application/pdf, 1234 bytes)" for each attachment; the
 * parts inside an attached message belong to it and are not listed. */
static int show_attachments(const struct msg_message *m, struct buf *out)
{
	int r = 0, listed = 0;
	const struct msg_part *p = m->root, *skip_until = NULL;
	for (; p && r == 0; p = msg_part_walk(p)) {
		if (skip_until && p->depth > skip_until->depth)
			continue;
		skip_until = NULL;
		if (!msg_part_is_attachment(p))
			continue;
		skip_until = p;
		struct buf body = BUF_INIT, section = BUF_INIT;
		char *name = msg_part_filename(p);
		r |= msg_part_decode(m, p, &body);
		r |= msg_part_section(p, &section);
		if (!listed++)
			r |= buf_puts(out, "\nAttachments:\n");
		r |= buf_printf(out, "  [%s] ", section.len ? buf_cstr(&section) : "-");
		if (name)
			r |= util_term_safe(name, strlen(name), 1, out);
		else
			r |= buf_puts(out, "(no name)");
		r |= buf_printf(out, " (%s/%s, %zu bytes)\n", p->ctype.type,
		                p->ctype.subtype, body.len);
		free(name);
		buf_free(&body);
		buf_free(&section);
	}
	return r ? -1 : 0;
}

static int show_text(const struct util_input *in, struct buf *out)
{
	struct buf text = BUF_INIT;
	int r = show_summary(&in->msg->root->header, in->name, out);
	r |= buf_putc(out, '\n');
	int t = util_readable_text(in->msg, &text);
	if (t == 1)
		fprintf(stderr, "posthorn: warning: %s: text in an unknown or "
		        "damaged charset, shown as far as possible\n", in->name);
	r |= t < 0 ? -1 : util_term_safe(text.data, text.len, 0, out);
	if (out->len && out->data[out->len - 1] != '\n')
		r |= buf_putc(out, '\n');
	r |= show_attachments(in->msg, out);
	buf_free(&text);
	return r ? -1 : 0;
}

static int show_json_addresses(const struct util_input *in, const char *name,
                               struct json *j)
{
	struct msg_address_list list = {0};
	struct buf spec = BUF_INIT;
	int r = show_addresses(in, name, &list);
	json_array_begin(j);
	for (size_t i = 0; i < list.count && r == 0; i++) {
		buf_reset(&spec);
		r = util_address_spec(&list.items[i], &spec);
		json_object_begin(j);
		json_key(j, "name");
		json_cstring(j, list.items[i].name ? list.items[i].name : "");
		json_key(j, "address");
		json_string(j, spec.data ? spec.data : "", spec.len);
		json_object_end(j);
	}
	json_array_end(j);
	buf_free(&spec);
	msg_address_list_free(&list);
	return r;
}

static int show_json(const struct util_input *in, struct buf *out)
{
	const struct msg_header *h = &in->msg->root->header;
	const struct msg_field *date = msg_header_get(h, "Date");
	struct buf subject = BUF_INIT, text = BUF_INIT;
	struct json j;
	int64_t utc;
	int offset;
	char iso[40];
	json_init(&j, out);
	json_object_begin(&j);
	int r = 0;
	static const char *const fields[][2] = {{"From", "from"}, {"To", "to"},
	                                        {"Cc", "cc"}};
	for (size_t i = 0; i < 3; i++) {
		json_key(&j, fields[i][1]);
		r |= show_json_addresses(in, fields[i][0], &j);
	}
	json_key(&j, "subject");
	int has = util_header_text(h, "Subject", &subject);
	r |= has < 0;
	if (has == 1)
		json_string(&j, subject.data ? subject.data : "", subject.len);
	else
		json_null(&j);
	json_key(&j, "date");
	if (date && msg_date_parse(date->value, date->value_len, &utc, &offset) == 0
	    && msg_date_format_iso(utc, iso, sizeof iso) > 0)
		json_cstring(&j, iso);
	else
		json_null(&j);
	char *id = util_message_id(h);
	json_key(&j, "message_id");
	json_cstring(&j, id);
	free(id);
	json_key(&j, "text");
	int t = util_readable_text(in->msg, &text);
	r |= t < 0;
	json_string(&j, text.data ? text.data : "", text.len);
	json_object_end(&j);
	r |= buf_putc(out, '\n');
	buf_free(&subject);
	buf_free(&text);
	return r || json_finish(&j) < 0 ? -1 : 0;
}

static int show_render(const struct util_input *in, int json, struct buf *out)
{
	return json ? show_json(in, out) : show_text(in, out);
}

int cmd_show(int argc, char **argv)
{
	return util_run_render(argc, argv, "show", show_usage, show_render);
}
