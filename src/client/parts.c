/* parts: the MIME tree of a message, one line (or one JSON object) per part
 * in depth-first order, with what a script needs to pick a part: section,
 * type, charset, encoding, disposition, file name, size and digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "util.h"

static const char parts_usage[] =
	"usage: posthorn parts [--json] FILE|-\n"
	"\n"
	"Lists every part of a message in tree order, one per line: section\n"
	"(IMAP numbering; '-' for a multipart root), type indented by depth,\n"
	"charset, transfer encoding, disposition, file name and decoded size\n"
	"('-' for absent values). FILE - reads standard input.\n"
	"\n"
	"  --json   a JSON list of {section, type, charset, encoding,\n"
	"           disposition, filename, size, sha256}\n"
	"  --help   this text\n";

enum { PARTS_COLS = 7 };

/* One part described as text: every value as a string, NULL when absent. */
struct parts_row {
	char *cell[PARTS_COLS]; /* section, type, charset, encoding,
	                         * disposition, filename, size */
	char sha256[65];
	size_t size;
	int depth;
};

static void parts_row_free(struct parts_row *row)
{
	for (int i = 0; i < PARTS_COLS; i++)
		free(row->cell[i]);
}

static char *parts_lower(const char *s)
{
	char *d = s ? strdup(s) : NULL;
	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p | 0x20);
	return d;
}

/* Containers (multiparts, attached messages that were split) are described
 * by their raw body; leaves by their decoded content. */
static int parts_digest(const struct msg_message *m, const struct msg_part *p,
                        struct parts_row *row)
{
	struct buf body = BUF_INIT;
	const char *bytes = m->data + p->body_offset;
	size_t len = p->body_len;
	if (!p->child && strcmp(p->ctype.type, "multipart") != 0) {
		if (msg_part_decode(m, p, &body) < 0) {
			buf_free(&body);
			return -1;
		}
		bytes = body.data ? body.data : "";
		len = body.len;
	}
	row->size = len;
	int r = util_sha256_hex(bytes, len, row->sha256);
	buf_free(&body);
	return r;
}

static int parts_describe(const struct msg_message *m, const struct msg_part *p,
                          struct parts_row *row)
{
	struct buf section = BUF_INIT, type = BUF_INIT;
	memset(row, 0, sizeof *row);
	row->depth = p->depth;
	int r = msg_part_section(p, &section);
	r |= buf_printf(&type, "%s/%s", p->ctype.type, p->ctype.subtype);
	row->cell[0] = buf_steal(&section, NULL);
	row->cell[1] = buf_steal(&type, NULL);
	row->cell[2] = parts_lower(msg_ctype_param(&p->ctype, "charset"));
	row->cell[3] = strdup(msg_cte_name(p->cte));
	row->cell[4] = parts_lower(p->disposition.type);
	row->cell[5] = msg_part_filename(p);
	r |= parts_digest(m, p, row);
	char size[32];
	snprintf(size, sizeof size, "%zu", row->size);
	row->cell[6] = strdup(size);
	if (r || !row->cell[0] || !row->cell[1] || !row->cell[3] || !row->cell[6])
		return -1;
	return 0;
}

static int parts_json(struct parts_row *rows, size_t n, struct buf *out)
{
	static const char *const keys[] = {"section", "type", "charset",
	                                   "encoding", "disposition", "filename"};
	struct json j;
	json_init(&j, out);
	json_array_begin(&j);
	for (size_t i = 0; i < n; i++) {
		json_object_begin(&j);
		for (int c = 0; c < 6; c++) {
			json_key(&j, keys[c]);
			json_cstring(&j, rows[i].cell[c]);
		}
		json_key(&j, "size");
		json_int(&j, (long long)rows[i].size);
		json_key(&j, "sha256");
		json_cstring(&j, rows[i].sha256);
		json_object_end(&j);
	}
	json_array_end(&j);
	int r = buf_putc(out, '\n');
	return r < 0 || json_finish(&j) < 0 ? -1 : 0;
}

/* Aligned columns: every cell is made terminal-safe first, so widths are
 * measured on what is printed. */
static int parts_text(struct parts_row *rows, size_t n, struct buf *out)
{
	size_t width[PARTS_COLS] = {0};
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		for (int c = 0; c < PARTS_COLS; c++) {
			struct buf safe = BUF_INIT;
			const char *v = rows[i].cell[c];
			if (c == 0 && v && !v[0])
				v = "-"; /* the multipart root's empty section */
			if (v)
				r |= util_term_safe(v, strlen(v), 1, &safe);
			else
				r |= buf_putc(&safe, '-');
			free(rows[i].cell[c]);
			rows[i].cell[c] = buf_steal(&safe, NULL);
			if (!rows[i].cell[c])
				return -1;
			size_t w = util_display_width(rows[i].cell[c],
			                              strlen(rows[i].cell[c]));
			if (c == 1)
				w += 2 * (size_t)rows[i].depth;
			if (w > width[c])
				width[c] = w;
		}
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		for (int c = 0; c < PARTS_COLS; c++) {
			const char *v = rows[i].cell[c];
			size_t w = util_display_width(v, strlen(v));
			size_t indent = c == 1 ? 2 * (size_t)rows[i].depth : 0;
			if (c == PARTS_COLS - 1) {
				r |= buf_printf(out, "%*s%s\n", (int)(width[c] - w), "", v);
				continue;
			}
			r |= buf_printf(out, "%*s%s%*s  ", (int)indent, "", v,
			                (int)(width[c] - w - indent), "");
		}
	}
	return r ? -1 : 0;
}

static int parts_run(const struct util_input *in, int json, struct buf *out)
{
	const struct msg_message *m = in->msg;
	struct parts_row *rows = calloc(m->nparts ? m->nparts : 1, sizeof *rows);
	size_t n = 0;
	int r = rows ? 0 : -1;
	for (const struct msg_part *p = m->root; p && r == 0 && n < m->nparts;
	     p = msg_part_walk(p))
		r = parts_describe(m, p, &rows[n++]);
	if (r == 0)
		r = json ? parts_json(rows, n, out) : parts_text(rows, n, out);
	for (size_t i = 0; i < n; i++)
		parts_row_free(&rows[i]);
	free(rows);
	return r;
}

int cmd_parts(int argc, char **argv)
{
	return util_run_render(argc, argv, "parts", parts_usage, parts_run);
}
