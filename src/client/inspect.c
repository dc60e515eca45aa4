/* inspect: `posthorn inspect`, parser probes that print as JSON what the
 * message library makes of one input (an address list, a date, a MIME type,
 * a whole message's part tree), for scripts and the corpus tests. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../msg/address.h"
#include "../msg/codec.h"
#include "../msg/date.h"
#include "../msg/encword.h"
#include "../msg/header.h"
#include "../msg/message.h"
#include "../msg/mime.h"
#include "../msg/msgid.h"
#include "commands.h"
#include "json.h"
#include "util.h"

#define INSPECT_MAX_INPUT ((size_t)256 << 20) /* largest file or value read */
#define INSPECT_MAX_LINE ((size_t)1 << 20)    /* largest --lines input */
#define INSPECT_MAX_OUTPUT ((size_t)1 << 30)  /* largest JSON document */

/* A probe writes the members of one JSON object for s[0..len). Returns 0
 * when the input parsed, 1 when it did not (the JSON says why), -1 when out
 * of memory. */
struct probe {
	const char *name;
	int (*run)(struct json *j, const char *s, size_t len);
	const char *help;
};

static int probe_address(struct json *j, const char *s, size_t len);
static int probe_date(struct json *j, const char *s, size_t len);
static int probe_ctype(struct json *j, const char *s, size_t len);
static int probe_disposition(struct json *j, const char *s, size_t len);
static int probe_encword(struct json *j, const char *s, size_t len);
static int probe_msgid(struct json *j, const char *s, size_t len);

static const struct probe probes[] = {
	{"address", probe_address,
	 "an RFC 5322 address list: {\"ok\",\"error\",\"error_pos\",\"groups\",\n"
	 "\"addresses\":[{\"name\",\"local\",\"domain\",\"group\",\"spec\"}]}"},
	{"date", probe_date,
	 "an RFC 5322 date: {\"ok\",\"utc\",\"offset\",\"iso\",\"rfc5322\"}"},
	{"ctype", probe_ctype,
	 "a Content-Type value: {\"ok\",\"type\",\"subtype\",\"params\":{..},\n"
	 "\"params_ext\":[{\"name\",\"charset\",\"lang\"}] (RFC 2231 only)}"},
	{"disposition", probe_disposition,
	 "a Content-Disposition value: like ctype, subtype always null"},
	{"encword", probe_encword,
	 "text with RFC 2047 encoded-words: {\"ok\",\"text\",\"lossy\"}"},
	{"msgid", probe_msgid,
	 "a Message-ID/References value: {\"ok\",\"ids\":[..]}"},
};

static const char tree_help[] =
	"usage: posthorn inspect tree [--bodies] [--text] FILE|- [FILE...]\n"
	"\n"
	"Prints, per file, one line of JSON: {\"file\",\"ok\",\"size\",\"nparts\",\n"
	"\"warnings\":[..],\"text_part\":N,\"parts\":[..]} where parts is the part\n"
	"tree flattened in depth-first order; each part has \"index\", \"parent\"\n"
	"(index or null), \"depth\", \"nchildren\", \"section\", \"type\", \"subtype\",\n"
	"\"params\", \"disposition\", \"disposition_params\", \"encoding\",\n"
	"\"content_id\", \"description\", \"filename\", \"attachment\", the byte\n"
	"offsets \"offset\", \"header_len\", \"body_offset\", \"body_len\", \"lines\",\n"
	"\"preamble_offset\", \"preamble_len\", \"epilogue_offset\", \"epilogue_len\",\n"
	"\"flags\", \"header_flags\" and \"headers\":[[name, unfolded value,\n"
	"offset, raw length],..].\n"
	"  --bodies  leaves add \"decoded_len\", \"body_sha256\" and \"body_base64\"\n"
	"            (the body with its transfer encoding undone)\n"
	"  --text    text leaves add \"text\" (UTF-8) and \"text_status\"\n"
	"Exit status 0, or 3 when a file could not be read.\n";

static void inspect_usage(FILE *to)
{
	fprintf(to, "usage: posthorn inspect PROBE [--lines [--escaped]] "
	            "[VALUE|-]\n"
	            "       posthorn inspect tree [--bodies] [--text] "
	            "FILE|- [FILE...]\n\nprobes:\n");
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		fprintf(to, "  %s\n", probes[i].name);
	fprintf(to, "  tree\n\n'posthorn inspect PROBE --help' describes one.\n");
}

static void probe_usage(const struct probe *p, FILE *to)
{
	fprintf(to,
	        "usage: posthorn inspect %s [--lines [--escaped]] [VALUE|-]\n\n"
	        "Parses VALUE (or all of stdin for '-', one final newline\n"
	        "dropped) as %s.\n\n"
	        "  --lines    each stdin line is one input; one JSON line each\n"
	        "  --escaped  with --lines: \\n \\r \\t \\\\ and \\xHH in a line\n"
	        "             stand for those bytes (for folded values)\n\n"
	        "Exit status 0, 1 when some input did not parse, 2 usage, 3\n"
	        "unreadable input.\n",
	        p->name, p->help);
}

/* ---- output ---- */

/* Writes one finished JSON document and a newline to stdout. */
static int emit(struct buf *out, struct json *j)
{
	if (json_finish(j) < 0) {
		fprintf(stderr, "posthorn: inspect: could not write JSON\n");
		return -1;
	}
	if (buf_putc(out, '\n') < 0) {
		fprintf(stderr, "posthorn: inspect: out of memory\n");
		return -1;
	}
	if (fwrite(out->data, 1, out->len, stdout) != out->len) {
		fprintf(stderr, "posthorn: inspect: write error\n");
		return -1;
	}
	return 0;
}

static void json_member_str(struct json *j, const char *key, const char *v)
{
	json_key(j, key);
	json_cstring(j, v);
}

static void json_member_int(struct json *j, const char *key, long long v)
{
	json_key(j, key);
	json_int(j, v);
}

/* ---- the value probes ---- */

static int probe_address(struct json *j, const char *s, size_t len)
{
	struct msg_address_list list = {0};
	size_t err_pos = 0;
	const char *err = NULL;
	int r = msg_address_parse(s, len, &list, &err_pos, &err);
	if (r == -2) {
		msg_address_list_free(&list);
		return -1;
	}
	json_key(j, "ok");
	json_bool(j, r == 0);
	json_member_str(j, "error", r == 0 ? NULL : err ? err : "syntax error");
	json_key(j, "error_pos");
	if (r == 0)
		json_null(j);
	else
		json_int(j, (long long)err_pos);
	json_member_int(j, "groups", (long long)list.groups);
	json_key(j, "addresses");
	json_array_begin(j);
	struct buf spec = BUF_INIT;
	for (size_t i = 0; i < list.count; i++) {
		const struct msg_address *a = &list.items[i];
		json_object_begin(j);
		json_member_str(j, "name", a->name);
		json_member_str(j, "local", a->local);
		json_member_str(j, "domain", a->domain);
		json_member_str(j, "group", a->group);
		buf_reset(&spec);
		json_key(j, "spec");
		if (msg_address_spec(a, &spec) == 0)
			json_string(j, spec.data ? spec.data : "", spec.len);
		else
			json_null(j);
		json_object_end(j);
	}
	json_array_end(j);
	buf_free(&spec);
	msg_address_list_free(&list);
	return r == 0 ? 0 : 1;
}

static int probe_date(struct json *j, const char *s, size_t len)
{
	int64_t utc = 0;
	int offset = 0;
	char rfc[64], iso[64];
	int r = msg_date_parse(s, len, &utc, &offset);
	json_key(j, "ok");
	json_bool(j, r == 0);
	if (r != 0)
		return 1;
	json_member_int(j, "utc", (long long)utc);
	json_member_int(j, "offset", offset);
	json_member_str(j, "iso",
	                msg_date_format_iso(utc, iso, sizeof iso) < 0 ? NULL : iso);
	json_member_str(j, "rfc5322", msg_date_format(utc, offset, rfc,
	                                              sizeof rfc) < 0 ? NULL : rfc);
	return 0;
}

/* Writes "params" (name: value) and "params_ext" (RFC 2231 charset and
 * language of those that had them) under the given key names. */
static void write_params(struct json *j, const struct msg_ctype *ct,
                         const char *key, const char *ext_key)
{
	json_key(j, key);
	json_object_begin(j);
	size_t ext = 0;
	for (size_t i = 0; i < ct->nparams; i++) {
		json_key(j, ct->params[i].name ? ct->params[i].name : "");
		json_cstring(j, ct->params[i].value);
		if (ct->params[i].charset || ct->params[i].lang)
			ext++;
	}
	json_object_end(j);
	if (!ext)
		return;
	json_key(j, ext_key);
	json_array_begin(j);
	for (size_t i = 0; i < ct->nparams; i++) {
		const struct msg_param *p = &ct->params[i];
		if (!p->charset && !p->lang)
			continue;
		json_object_begin(j);
		json_member_str(j, "name", p->name);
		json_member_str(j, "charset", p->charset);
		json_member_str(j, "lang", p->lang);
		json_object_end(j);
	}
	json_array_end(j);
}

static int probe_mime(struct json *j, const char *s, size_t len, int is_ctype)
{
	struct msg_ctype ct = {0};
	int r = is_ctype ? msg_ctype_parse(s, len, &ct)
	                 : msg_disposition_parse(s, len, &ct);
	if (r < 0) {
		msg_ctype_free(&ct);
		return -1;
	}
	json_key(j, "ok");
	json_bool(j, r == 0 && ct.type);
	json_member_str(j, "type", ct.type);
	json_member_str(j, "subtype", ct.subtype);
	write_params(j, &ct, "params", "params_ext");
	int ok = r == 0 && ct.type;
	msg_ctype_free(&ct);
	return ok ? 0 : 1;
}

static int probe_ctype(struct json *j, const char *s, size_t len)
{
	return probe_mime(j, s, len, 1);
}

static int probe_disposition(struct json *j, const char *s, size_t len)
{
	return probe_mime(j, s, len, 0);
}

static int probe_encword(struct json *j, const char *s, size_t len)
{
	struct buf text = BUF_INIT;
	int r = msg_encword_decode(s, len, &text);
	if (r < 0) {
		buf_free(&text);
		return -1;
	}
	json_key(j, "ok");
	json_bool(j, 1);
	json_key(j, "text");
	json_string(j, text.data ? text.data : "", text.len);
	json_key(j, "lossy");
	json_bool(j, r == 1);
	buf_free(&text);
	return 0;
}

static int probe_msgid(struct json *j, const char *s, size_t len)
{
	struct msg_id_list list = {0};
	int r = msg_id_parse(s, len, &list);
	if (r < 0) {
		msg_id_list_free(&list);
		return -1;
	}
	json_key(j, "ok");
	json_bool(j, list.count > 0);
	json_key(j, "ids");
	json_array_begin(j);
	for (size_t i = 0; i < list.count; i++)
		json_cstring(j, list.ids[i]);
	json_array_end(j);
	int ok = list.count > 0;
	msg_id_list_free(&list);
	return ok ? 0 : 1;
}

/* ---- input ---- */

/* Reads all of f into b. Returns 0, or -1 with errno set. */
static int read_all(FILE *f, struct buf *b)
{
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (buf_append(b, chunk, n) < 0) {
			errno = EFBIG;
			return -1;
		}
	}
	return ferror(f) ? -1 : 0;
}

/* Reads FILE, or stdin for "-", into b. 0 or -1 with errno set. */
static int read_input(const char *path, struct buf *b)
{
	if (!strcmp(path, "-"))
		return read_all(stdin, b);
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	int r = read_all(f, b);
	int saved = errno;
	fclose(f);
	errno = saved;
	return r;
}

/* Reads one line without its LF into line (bounded by line->max). Returns 1
 * for a line, 0 at the end of input, -1 when the line was too long (the
 * rest of it is skipped). */
static int read_line(FILE *f, struct buf *line)
{
	int c, too_long = 0, any = 0;
	buf_reset(line);
	while ((c = getc(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (!too_long && buf_putc(line, (char)c) < 0)
			too_long = 1;
	}
	if (!any)
		return 0;
	return too_long ? -1 : 1;
}

/* Decodes the --escaped escapes of line in place; unknown ones stay. */
static void unescape(struct buf *line)
{
	size_t r = 0, w = 0;
	char *s = line->data;
	while (r < line->len) {
		char c = s[r++];
		if (c != '\\' || r == line->len) {
			s[w++] = c;
			continue;
		}
		char e = s[r];
		if (e == 'n' || e == 'r' || e == 't' || e == '\\') {
			s[w++] = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : '\\';
			r++;
		} else if (e == 'x' && r + 2 < line->len &&
		           msg_hex_value((unsigned char)s[r + 1]) >= 0 &&
		           msg_hex_value((unsigned char)s[r + 2]) >= 0) {
			s[w++] = (char)(msg_hex_value((unsigned char)s[r + 1]) * 16 +
			                msg_hex_value((unsigned char)s[r + 2]));
			r += 3;
		} else {
			s[w++] = c;
		}
	}
	line->len = w;
}

/* Runs the probe on one input and prints its JSON line. Returns the probe's
 * 0 or 1, or -1 on a failure already reported. */
static int run_probe(const struct probe *p, const char *s, size_t len)
{
	struct buf out;
	struct json j;
	buf_init(&out, INSPECT_MAX_OUTPUT);
	json_init(&j, &out);
	json_object_begin(&j);
	json_member_str(&j, "probe", p->name);
	int r = p->run(&j, s, len);
	json_object_end(&j);
	if (r < 0)
		fprintf(stderr, "posthorn: inspect: out of memory\n");
	else if (emit(&out, &j) < 0)
		r = -1;
	buf_free(&out);
	return r;
}

/* Prints {"ok":false,"error":...} for an input that was not probed. */
static int print_error(const char *key, const char *name, const char *error)
{
	struct buf out = BUF_INIT;
	struct json j;
	json_init(&j, &out);
	json_object_begin(&j);
	if (key)
		json_member_str(&j, key, name);
	json_key(&j, "ok");
	json_bool(&j, 0);
	json_member_str(&j, "error", error);
	json_object_end(&j);
	int r = emit(&out, &j);
	buf_free(&out);
	return r;
}

static int probe_lines(const struct probe *p, int escaped)
{
	struct buf line;
	int status = 0, r;
	buf_init(&line, INSPECT_MAX_LINE);
	while ((r = read_line(stdin, &line)) != 0) {
		if (r < 0) {
			if (print_error(NULL, NULL, "line too long") < 0)
				break;
			status = 1;
			continue;
		}
		if (line.len && line.data[line.len - 1] == '\r' && !escaped)
			line.len--;
		if (escaped && line.len)
			unescape(&line);
		int pr = run_probe(p, line.len ? line.data : "", line.len);
		if (pr < 0) {
			status = 1;
			break;
		}
		if (pr == 1)
			status = 1;
	}
	fflush(stdout);
	buf_free(&line);
	return status;
}

static int probe_stdin(const struct probe *p)
{
	struct buf in;
	buf_init(&in, INSPECT_MAX_INPUT);
	if (read_all(stdin, &in) < 0) {
		fprintf(stderr, "posthorn: inspect: stdin: %s\n", strerror(errno));
		buf_free(&in);
		return 3;
	}
	if (in.len && in.data[in.len - 1] == '\n')
		in.len--;
	if (in.len && in.data[in.len - 1] == '\r')
		in.len--;
	int r = run_probe(p, in.len ? in.data : "", in.len);
	buf_free(&in);
	return r < 0 ? 1 : r;
}

static int inspect_value(const struct probe *p, int argc, char **argv)
{
	int lines = 0, escaped = 0;
	const char *value = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			probe_usage(p, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--lines")) {
			lines = 1;
		} else if (!strcmp(argv[i], "--escaped")) {
			escaped = 1;
		} else if (!strcmp(argv[i], "--")) {
			if (i + 1 < argc && !value && i + 2 == argc)
				value = argv[++i];
			else
				goto usage;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			goto usage;
		} else if (!value) {
			value = argv[i];
		} else {
			goto usage;
		}
	}
	if (lines ? value != NULL : value == NULL || escaped)
		goto usage;
	if (lines)
		return probe_lines(p, escaped);
	if (!strcmp(value, "-"))
		return probe_stdin(p);
	int r = run_probe(p, value, strlen(value));
	return r < 0 ? 1 : r;
usage:
	probe_usage(p, stderr);
	return 2;
}

/* ---- the part tree ---- */

struct tree_options {
	int bodies;
	int text;
};

static const struct {
	unsigned bit;
	const char *name;
} part_flags[] = {
	{MSG_PART_NO_END_BOUNDARY, "no_end_boundary"},
	{MSG_PART_NO_BOUNDARY, "no_boundary"},
	{MSG_PART_DEPTH_LIMIT, "depth_limit"},
	{MSG_PART_PART_LIMIT, "part_limit"},
	{MSG_PART_BAD_HEADER, "bad_header"},
	{MSG_PART_BAD_CTYPE, "bad_ctype"},
}, header_flags[] = {
	{MSG_HDR_BARE_LF, "bare_lf"},
	{MSG_HDR_NO_BLANK, "no_blank"},
	{MSG_HDR_8BIT, "8bit"},
	{MSG_HDR_BAD_LINES, "bad_lines"},
	{MSG_HDR_TRUNCATED, "truncated"},
	{MSG_HDR_NUL, "nul"},
};

static void write_part_flags(struct json *j, const char *key, unsigned flags)
{
	json_key(j, key);
	json_array_begin(j);
	for (size_t i = 0; i < sizeof part_flags / sizeof part_flags[0]; i++)
		if (flags & part_flags[i].bit)
			json_cstring(j, part_flags[i].name);
	json_array_end(j);
}

static void write_header_flags(struct json *j, unsigned flags)
{
	json_key(j, "header_flags");
	json_array_begin(j);
	for (size_t i = 0; i < sizeof header_flags / sizeof header_flags[0]; i++)
		if (flags & header_flags[i].bit)
			json_cstring(j, header_flags[i].name);
	json_array_end(j);
}

/* Each field as [name, unfolded value, offset, raw length], the offset
 * that of its name in the whole input, so a caller can look at the raw
 * bytes (the JSON strings replace invalid UTF-8). */
static int write_headers(struct json *j, const struct msg_message *m,
                         const struct msg_header *h)
{
	struct buf value = BUF_INIT;
	int r = 0;
	json_key(j, "headers");
	json_array_begin(j);
	for (size_t i = 0; i < h->count; i++) {
		const struct msg_field *f = &h->fields[i];
		buf_reset(&value);
		if (msg_field_unfold(f, &value) < 0) {
			r = -1;
			break;
		}
		json_array_begin(j);
		json_string(j, f->name, f->name_len);
		json_string(j, value.data ? value.data : "", value.len);
		json_int(j, (long long)(f->name - m->data));
		json_int(j, (long long)f->raw_len);
		json_array_end(j);
	}
	json_array_end(j);
	buf_free(&value);
	return r;
}

/* "decoded_len" and "body_base64" of a leaf. 0 or -1. */
static int write_body(struct json *j, const struct msg_message *m,
                      const struct msg_part *p)
{
	struct buf body = BUF_INIT, b64 = BUF_INIT;
	int r = -1;
	if (msg_part_decode(m, p, &body) < 0 ||
	    msg_base64_encode(body.data ? body.data : "", body.len, 0, &b64) < 0)
		goto out;
	char sha[65];
	if (util_sha256_hex(body.data ? body.data : "", body.len, sha) < 0)
		goto out;
	json_member_int(j, "decoded_len", (long long)body.len);
	json_member_str(j, "body_sha256", sha);
	json_key(j, "body_base64");
	json_string(j, b64.data ? b64.data : "", b64.len);
	r = 0;
out:
	buf_free(&body);
	buf_free(&b64);
	return r;
}

static int write_text(struct json *j, const struct msg_message *m,
                      const struct msg_part *p)
{
	static const char *const status[] = {"ok", "lossy", "unknown"};
	struct buf text = BUF_INIT;
	int r = msg_part_text(m, p, &text);
	if (r >= 0) {
		json_key(j, "text");
		json_string(j, text.data ? text.data : "", text.len);
		json_member_str(j, "text_status", r <= 2 ? status[r] : "?");
	}
	buf_free(&text);
	return r < 0 ? -1 : 0;
}

static void write_part_mime(struct json *j, const struct msg_part *p)
{
	json_member_str(j, "type", p->ctype.type);
	json_member_str(j, "subtype", p->ctype.subtype);
	write_params(j, &p->ctype, "params", "params_ext");
	json_member_str(j, "disposition", p->disposition.type);
	write_params(j, &p->disposition, "disposition_params",
	             "disposition_params_ext");
	json_member_str(j, "encoding", msg_cte_name(p->cte));
	json_member_str(j, "content_id", p->content_id);
	json_member_str(j, "description", p->description);
	char *filename = msg_part_filename(p);
	json_member_str(j, "filename", filename);
	free(filename);
	json_key(j, "attachment");
	json_bool(j, msg_part_is_attachment(p));
}

static void write_part_offsets(struct json *j, const struct msg_part *p)
{
	json_member_int(j, "offset", (long long)p->offset);
	json_member_int(j, "header_len", (long long)p->header_len);
	json_member_int(j, "body_offset", (long long)p->body_offset);
	json_member_int(j, "body_len", (long long)p->body_len);
	json_member_int(j, "lines", (long long)p->body_lines);
	json_member_int(j, "preamble_offset", (long long)p->preamble_offset);
	json_member_int(j, "preamble_len", (long long)p->preamble_len);
	json_member_int(j, "epilogue_offset", (long long)p->epilogue_offset);
	json_member_int(j, "epilogue_len", (long long)p->epilogue_len);
}

static int write_part(struct json *j, const struct msg_message *m,
                      const struct msg_part *p, size_t index, long long parent,
                      const struct tree_options *opt)
{
	struct buf section = BUF_INIT;
	json_object_begin(j);
	json_member_int(j, "index", (long long)index);
	json_key(j, "parent");
	if (parent < 0)
		json_null(j);
	else
		json_int(j, parent);
	json_member_int(j, "depth", p->depth);
	json_member_int(j, "nchildren", (long long)p->nchildren);
	json_key(j, "section");
	if (msg_part_section(p, &section) == 0)
		json_string(j, section.data ? section.data : "", section.len);
	else
		json_null(j);
	buf_free(&section);
	write_part_mime(j, p);
	write_part_offsets(j, p);
	write_part_flags(j, "flags", p->flags);
	write_header_flags(j, p->header.flags);
	int r = write_headers(j, m, &p->header);
	if (r == 0 && !p->child && opt->bodies)
		r = write_body(j, m, p);
	if (r == 0 && !p->child && opt->text && p->ctype.type &&
	    !strcmp(p->ctype.type, "text"))
		r = write_text(j, m, p);
	json_object_end(j);
	return r;
}

/* Writes the parts in walk order with their parent's index, keeping the
 * chain of ancestors on a stack so no lookup is quadratic. 0 or -1. */
static int write_parts(struct json *j, const struct msg_message *m,
                       const struct tree_options *opt, long long *text_index)
{
	const struct msg_part *text = msg_text_part(m);
	struct buf stack = BUF_INIT; /* of struct ancestor */
	struct ancestor {
		const struct msg_part *part;
		size_t index;
	} a;
	size_t index = 0;
	int r = 0;
	*text_index = -1;
	json_key(j, "parts");
	json_array_begin(j);
	for (const struct msg_part *p = m->root; p && r == 0;
	     p = msg_part_walk(p), index++) {
		size_t n = stack.len / sizeof a;
		struct ancestor *s = (struct ancestor *)(void *)stack.data;
		while (n > 0 && s[n - 1].part != p->parent)
			n--;
		stack.len = n * sizeof a;
		long long parent = n > 0 ? (long long)s[n - 1].index : -1;
		if (p == text)
			*text_index = (long long)index;
		r = write_part(j, m, p, index, parent, opt);
		a.part = p;
		a.index = index;
		if (r == 0 && buf_append(&stack, &a, sizeof a) < 0)
			r = -1;
	}
	json_array_end(j);
	buf_free(&stack);
	return r;
}

static int tree_file(const char *path, const struct tree_options *opt)
{
	struct buf in, out;
	buf_init(&in, INSPECT_MAX_INPUT);
	if (read_input(path, &in) < 0) {
		const char *why = strerror(errno);
		fprintf(stderr, "posthorn: inspect: %s: %s\n", path, why);
		print_error("file", path, why);
		buf_free(&in);
		return 3;
	}
	struct msg_message *m = msg_parse(in.data ? in.data : "", in.len, NULL);
	if (!m) {
		fprintf(stderr, "posthorn: inspect: out of memory\n");
		buf_free(&in);
		return 1;
	}
	struct json j;
	long long text_index;
	buf_init(&out, INSPECT_MAX_OUTPUT);
	json_init(&j, &out);
	json_object_begin(&j);
	json_member_str(&j, "file", path);
	json_key(&j, "ok");
	json_bool(&j, 1);
	json_member_int(&j, "size", (long long)in.len);
	json_member_int(&j, "nparts", (long long)m->nparts);
	write_part_flags(&j, "warnings", m->warnings);
	int r = write_parts(&j, m, opt, &text_index);
	json_key(&j, "text_part");
	if (text_index < 0)
		json_null(&j);
	else
		json_int(&j, text_index);
	json_object_end(&j);
	if (r < 0)
		fprintf(stderr, "posthorn: inspect: %s: out of memory\n", path);
	else
		r = emit(&out, &j);
	buf_free(&out);
	msg_message_free(&m);
	buf_free(&in);
	return r < 0 ? 1 : 0;
}

static int inspect_tree(int argc, char **argv)
{
	struct tree_options opt = {0};
	int files = 0, status = 0, only_files = 0;
	for (int i = 1; i < argc; i++) {
		if (only_files || !strcmp(argv[i], "-") || argv[i][0] != '-') {
			files++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(tree_help, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--bodies")) {
			opt.bodies = 1;
		} else if (!strcmp(argv[i], "--text")) {
			opt.text = 1;
		} else if (!strcmp(argv[i], "--")) {
			only_files = 1;
		} else {
			fputs(tree_help, stderr);
			return 2;
		}
	}
	if (!files) {
		fputs(tree_help, stderr);
		return 2;
	}
	only_files = 0;
	for (int i = 1; i < argc; i++) {
		if (!only_files && !strcmp(argv[i], "--")) {
			only_files = 1;
			continue;
		}
		if (!only_files && argv[i][0] == '-' && argv[i][1] != '\0')
			continue;
		int r = tree_file(argv[i], &opt);
		if (r > status)
			status = r;
		fflush(stdout);
	}
	return status;
}

int cmd_inspect(int argc, char **argv)
{
	if (argc < 2) {
		inspect_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		inspect_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "tree"))
		return inspect_tree(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		if (!strcmp(argv[1], probes[i].name))
			return inspect_value(&probes[i], argc - 1, argv + 1);
	fprintf(stderr, "posthorn: inspect: unknown probe '%s'\n", argv[1]);
	inspect_usage(stderr);
	return 2;
}
