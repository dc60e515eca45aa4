/* list and search: the messages of a local folder as a table, one line each
 * (number, unread and attachment marks, date, sender, subject, size), cut
 * to the terminal's width. list reads only each message's header (at most
 * LIST_HEADER_MAX bytes), so it stays quick on big folders; that is also
 * why the attachment mark is a cheap guess from the top-level Content-Type
 * (multipart/mixed, or a single part that is not text) rather than a walk
 * of every part. search parses each message whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "../msg/date.h"
#include "commands.h"
#include "input.h"
#include "local.h"

/* Header bytes read per message by list. */
enum { LIST_HEADER_MAX = 64 * 1024, LIST_PAGE = 50, LIST_DATE_W = 16,
       LIST_SIZE_W = 5, LIST_MAX_COUNT = 1000000 };

static const char list_usage[] =
	"usage: posthorn list [FOLDER] [--limit K] [--page P] [--unread] [--all]\n"
	"\n"
	"Lists the messages of a folder (default INBOX), newest first: number,\n"
	"'*' when unread, '@' when it seems to have attachments (guessed from\n"
	"the top-level Content-Type), date, sender, subject and size. Use the\n"
	"number with 'posthorn read N'.\n"
	"\n"
	"  --limit K   K messages per page (default 50)\n"
	"  --page P    show page P (1 is the newest messages)\n"
	"  --unread    only unread messages\n"
	"  --all       every message, no pages\n"
	"  --help      this text\n";

static const char search_usage[] =
	"usage: posthorn search [TEXT] [--folder F|--all-folders] [--from X]\n"
	"                       [--subject X] [--since YYYY-MM-DD]\n"
	"                       [--before YYYY-MM-DD]\n"
	"\n"
	"Prints the messages that contain TEXT in their decoded From, To, Cc or\n"
	"Subject or in their text, like 'posthorn list'. Letters are compared\n"
	"without regard to case (ASCII letters; other characters as they are).\n"
	"Every condition given must hold; TEXT may be left out when another is\n"
	"given. Exit status 1 when nothing matches.\n"
	"\n"
	"  --folder F       search folder F (default INBOX)\n"
	"  --all-folders    search every folder\n"
	"  --from X         X in the From field\n"
	"  --subject X      X in the Subject\n"
	"  --since DATE     sent on or after DATE (local time)\n"
	"  --before DATE    sent before DATE\n"
	"  --help           this text\n";

/* One line of the table. */
struct list_row {
	const char *folder;   /* shown in a first column when not NULL */
	size_t number;
	int unread, attach;
	int64_t when;
	char *from, *subject; /* terminal-safe single-line UTF-8; owned */
	uint64_t size;
};

struct list_rows {
	struct list_row *rows;
	size_t n, cap;
};

static void list_rows_free(struct list_rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->rows[i].from);
		free(r->rows[i].subject);
	}
	free(r->rows);
	memset(r, 0, sizeof *r);
}

/* Terminal width: $COLUMNS, else the terminal of stdout, else 100. */
static size_t list_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	long w = 0;
	if (env && *env) {
		char *end;
		w = strtol(env, &end, 10);
		if (*end)
			w = 0;
	}
	if (w <= 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		w = ws.ws_col;
	if (w <= 0)
		w = 100;
	return w < 40 ? 40 : w > 1000 ? 1000 : (size_t)w;
}

/* Appends s (valid UTF-8) in exactly width columns: cut with "…" when
 * too wide (never inside a character), padded with spaces unless last. */
static int list_cell(const char *s, size_t width, int pad, struct buf *out)
{
	size_t len = strlen(s), w = util_display_width(s, len), i = 0, used = 0;
	int r = 0;
	if (w > width) {
		while (i < len) {
			unsigned char c = (unsigned char)s[i];
			size_t cl = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
			if (i + cl > len)
				break;
			size_t cw = util_display_width(s + i, cl);
			if (used + cw + 1 > width)
				break;
			used += cw;
			i += cl;
		}
		r |= buf_append(out, s, i);
		r |= width > used ? buf_puts(out, "\xE2\x80\xA6") : 0;
		used += width > used;
	} else {
		r |= buf_append(out, s, len);
		used = w;
	}
	for (; pad && used < width; used++)
		r |= buf_putc(out, ' ');
	return r ? -1 : 0;
}

static void list_date(int64_t when, char *out, size_t cap)
{
	time_t t = (time_t)when;
	struct tm tm;
	if ((int64_t)t != when || !localtime_r(&t, &tm) ||
	    !strftime(out, cap, "%Y-%m-%d %H:%M", &tm))
		snprintf(out, cap, "?");
}

/* Column widths for a set of rows in a terminal width columns wide. */
struct list_layout {
	size_t folder_w, number_w, from_w, subject_w;
};

static struct list_layout list_layout(const struct list_rows *rows)
{
	struct list_layout l = {0, 1, 0, 0};
	size_t max = 0;
	for (size_t i = 0; i < rows->n; i++) {
		const struct list_row *row = &rows->rows[i];
		max = row->number > max ? row->number : max;
		if (row->folder) {
			size_t w = util_display_width(row->folder, strlen(row->folder));
			l.folder_w = w > l.folder_w ? w : l.folder_w;
		}
	}
	for (; max >= 10; max /= 10)
		l.number_w++;
	l.folder_w = l.folder_w > 20 ? 20 :
	             l.folder_w && l.folder_w < 6 ? 6 : l.folder_w;
	size_t fixed = (l.folder_w ? l.folder_w + 2 : 0) + l.number_w + 2 + 2 +
	               2 + LIST_DATE_W + 2 + 2 + 2 + LIST_SIZE_W;
	size_t width = list_width();
	size_t rest = width > fixed + 20 ? width - fixed : 20;
	l.from_w = rest / 3 > 24 ? 24 : rest / 3;
	l.subject_w = rest - l.from_w;
	return l;
}

static int list_format_row(const struct list_layout *l, const struct list_row *row,
                           struct buf *out)
{
	char date[32], size[16];
	int r = 0;
	list_date(row->when, date, sizeof date);
	local_size(row->size, size, sizeof size);
	if (l->folder_w) {
		r |= list_cell(row->folder ? row->folder : "", l->folder_w, 1, out);
		r |= buf_puts(out, "  ");
	}
	r |= buf_printf(out, "%*zu  %c%c  %-*s  ", (int)l->number_w, row->number,
	                row->unread ? '*' : ' ', row->attach ? '@' : ' ',
	                LIST_DATE_W, date);
	r |= list_cell(row->from[0] ? row->from : "(unknown)", l->from_w, 1, out);
	r |= buf_puts(out, "  ");
	r |= list_cell(row->subject[0] ? row->subject : "(no subject)",
	               l->subject_w, 1, out);
	r |= buf_printf(out, "  %*s\n", LIST_SIZE_W, size);
	return r ? -1 : 0;
}

/* The heading line and every row into out. */
static int list_format(const struct list_rows *rows, struct buf *out)
{
	struct list_layout l = list_layout(rows);
	int r = 0;
	if (l.folder_w) {
		r |= list_cell("Folder", l.folder_w, 1, out);
		r |= buf_puts(out, "  ");
	}
	r |= buf_printf(out, "%*s      %-*s  ", (int)l.number_w, "#", LIST_DATE_W,
	                "Date");
	r |= list_cell("From", l.from_w, 1, out);
	r |= buf_puts(out, "  ");
	r |= list_cell("Subject", l.subject_w, 1, out);
	r |= buf_printf(out, "  %*s\n", LIST_SIZE_W, "Size");
	for (size_t i = 0; i < rows->n && r == 0; i++)
		r = list_format_row(&l, &rows->rows[i], out);
	return r ? -1 : 0;
}

/* The sender as a reader wants it: the first display name, else its
 * address, else the field's decoded text. A new terminal-safe string. */
static char *list_from(const struct msg_header *h)
{
	struct msg_address_list list = {0};
	struct buf text = BUF_INIT, safe = BUF_INIT;
	int r = util_header_addresses(h, "From", &list) < 0 ? -1 : 0;
	if (r == 0 && list.count > 0 && list.items[0].name[0])
		r = buf_puts(&text, list.items[0].name);
	else if (r == 0 && list.count > 0 && list.items[0].local[0])
		r = util_address_spec(&list.items[0], &text);
	else if (r == 0)
		r = util_header_text(h, "From", &text) < 0 ? -1 : 0;
	if (r == 0)
		r = util_term_safe(text.data ? text.data : "", text.len, 1, &safe);
	msg_address_list_free(&list);
	buf_free(&text);
	char *s = r == 0 ? buf_steal(&safe, NULL) : NULL;
	buf_free(&safe);
	return s;
}

static char *list_subject(const struct msg_header *h)
{
	struct buf text = BUF_INIT, safe = BUF_INIT;
	int r = util_header_text(h, "Subject", &text) < 0 ? -1 : 0;
	if (r == 0)
		r = util_term_safe(text.data ? text.data : "", text.len, 1, &safe);
	buf_free(&text);
	char *s = r == 0 ? buf_steal(&safe, NULL) : NULL;
	buf_free(&safe);
	return s;
}

/* The guess behind '@': a top-level multipart/mixed, or a message that is
 * a single non-text part (a bare PDF). Walking every part would mean
 * reading every message whole. */
static int list_attach_guess(const struct msg_header *h)
{
	const struct msg_field *f = msg_header_get(h, "Content-Type");
	struct msg_ctype ct = {0};
	int attach = 0;
	if (f && msg_ctype_parse(f->value, f->value_len, &ct) == 0 && ct.type)
		attach = !strcmp(ct.type, "multipart") ?
		         !strcmp(ct.subtype, "mixed") :
		         strcmp(ct.type, "text") && strcmp(ct.type, "message");
	msg_ctype_free(&ct);
	return attach;
}

/* The Date field, else the delivery time. */
static int64_t list_when(const struct msg_header *h, const struct folder_msg *m)
{
	const struct msg_field *f = msg_header_get(h, "Date");
	int64_t utc;
	int offset;
	if (f && msg_date_parse(f->value, f->value_len, &utc, &offset) == 0)
		return utc;
	return m->time;
}

/* Fills row from a parsed header. 0 or -1 (memory). */
static int list_fill(struct list_row *row, const struct msg_header *h,
                     const struct folder_msg *m, size_t number)
{
	row->number = number;
	row->unread = !strchr(m->flags, 'S');
	row->attach = list_attach_guess(h);
	row->when = list_when(h, m);
	row->size = m->size;
	row->from = list_from(h);
	row->subject = list_subject(h);
	return row->from && row->subject ? 0 : -1;
}

static struct list_row *list_add(struct list_rows *rows)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 64;
		struct list_row *grown = realloc(rows->rows, cap * sizeof *grown);
		if (!grown)
			return NULL;
		rows->rows = grown;
		rows->cap = cap;
	}
	struct list_row *row = &rows->rows[rows->n++];
	memset(row, 0, sizeof *row);
	return row;
}

/* Reads the header of a message file: up to its blank line, at most
 * LIST_HEADER_MAX bytes. A file that cannot be read gives an empty header
 * (its row still shows, with what the listing knows). */
static int list_read_header(const char *path, struct buf *raw)
{
	buf_reset(raw);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	int r = buf_reserve(raw, LIST_HEADER_MAX);
	while (r == 0 && raw->len < LIST_HEADER_MAX) {
		ssize_t n = read(fd, raw->data + raw->len, LIST_HEADER_MAX - raw->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -1 : 0;
			break;
		}
		size_t from = raw->len > 2 ? raw->len - 2 : 0;
		raw->len += (size_t)n;
		if (memmem(raw->data + from, raw->len - from, "\n\n", 2) ||
		    memmem(raw->data + from, raw->len - from, "\n\r\n", 3))
			break;
	}
	close(fd);
	return r;
}

/* Adds a row for message index i of f from its header alone. */
static int list_add_header_row(const struct local_folder *f, size_t i,
                               struct list_rows *rows, struct buf *raw)
{
	struct msg_header h = {0};
	struct list_row *row = list_add(rows);
	if (!row)
		return -1;
	if (list_read_header(f->list.msgs[i].path, raw) < 0)
		fprintf(stderr, "posthorn: warning: message %zu: %s\n", i + 1,
		        strerror(errno));
	int r = msg_header_parse(raw->data ? raw->data : "", raw->len, 0, &h);
	if (r == 0)
		r = list_fill(row, &h, &f->list.msgs[i], i + 1);
	msg_header_free(&h);
	return r;
}

/* A count option: 1..LIST_MAX_COUNT. */
static int list_count_opt(const char *cmd, const char *opt, const char *s,
                          size_t *v)
{
	char *end;
	if (!s)
		return 0;
	errno = 0;
	long n = s[0] >= '0' && s[0] <= '9' ? strtol(s, &end, 10) : 0;
	if (n < 1 || n > LIST_MAX_COUNT || *end || errno) {
		fprintf(stderr, "posthorn %s: %s wants a number from 1 to %d, not "
		        "'%s'\n", cmd, opt, LIST_MAX_COUNT, s);
		return -1;
	}
	*v = (size_t)n;
	return 0;
}

static int list_print(struct list_rows *rows)
{
	struct buf out = BUF_INIT;
	int r = list_format(rows, &out);
	if (r < 0)
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
	else
		r = util_write_stdout(&out);
	buf_free(&out);
	return r;
}

/* The listing indexes to show, newest first, after --unread. */
static size_t *list_select(const struct local_folder *f, int unread, size_t *n)
{
	size_t *sel = malloc(f->list.n * sizeof *sel + 1);
	*n = 0;
	for (size_t i = f->list.n; sel && i-- > 0;)
		if (!unread || !strchr(f->list.msgs[i].flags, 'S'))
			sel[(*n)++] = i;
	return sel;
}

static int list_page(const struct local_folder *f, const size_t *sel, size_t n,
                     size_t per, size_t page)
{
	size_t pages = (n + per - 1) / per;
	if (page > pages) {
		fprintf(stderr, "posthorn list: no page %zu: %s has %zu page%s of "
		        "%zu\n", page, f->name, pages, pages == 1 ? "" : "s", per);
		return EXIT_USAGE;
	}
	struct list_rows rows = {0};
	struct buf raw = BUF_INIT;
	int r = 0;
	size_t end = page * per < n ? page * per : n;
	for (size_t k = (page - 1) * per; k < end && r == 0; k++)
		r = list_add_header_row(f, sel[k], &rows, &raw);
	if (r < 0)
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
	else
		r = list_print(&rows);
	if (r == 0 && pages > 1)
		fprintf(stderr, page < pages ? "page %zu of %zu; --page %zu for more\n"
		        : "page %zu of %zu\n", page, pages, page + 1);
	buf_free(&raw);
	list_rows_free(&rows);
	return r < 0 ? EXIT_PARTIAL : EXIT_OK;
}

int cmd_list(int argc, char **argv)
{
	const char *limit = NULL, *page_s = NULL;
	int unread = 0, all = 0;
	const struct util_opt opts[] = {
		{"--limit", &limit, NULL}, {"--page", &page_s, NULL},
		{"--unread", NULL, &unread}, {"--all", NULL, &all},
	};
	char *pos[1];
	size_t npos, per = LIST_PAGE, page = 1;
	int r = util_parse_args(argc, argv, opts, 4, pos, 1, &npos);
	if (r == 1) {
		fputs(list_usage, stdout);
		return EXIT_OK;
	}
	if (r == 0 && (list_count_opt("list", "--limit", limit, &per) < 0 ||
	               list_count_opt("list", "--page", page_s, &page) < 0))
		r = -1;
	if (r == 0 && all && (limit || page_s)) {
		fprintf(stderr, "posthorn list: --all shows every message; leave "
		        "out --limit and --page\n");
		r = -1;
	}
	if (r < 0) {
		fprintf(stderr, "usage: posthorn list [FOLDER] [--limit K] "
		        "[--page P] [--unread] [--all]\n");
		return EXIT_USAGE;
	}
	struct local_folder f;
	int status = local_open(&f, npos ? pos[0] : NULL);
	size_t n = 0, *sel = NULL;
	if (status == 0) {
		sel = list_select(&f, unread, &n);
		if (!sel) {
			fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
			status = EXIT_LOCAL;
		} else if (n == 0) {
			fprintf(stderr, unread && f.list.n ? "no unread messages in %s\n"
			        : "%s is empty\n", f.name);
		} else {
			status = list_page(&f, sel, n, all ? n : per, page);
		}
	}
	free(sel);
	local_close(&f);
	return status;
}

/* ---- search ---- */

struct search {
	const char *text, *from, *subject;
	int64_t since, before;  /* INT64_MIN / INT64_MAX when not given */
	struct list_rows rows;
	int all_folders;
};

/* Whether needle occurs in hay, ASCII letters compared without case. */
static int search_contains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);
	for (size_t i = 0; m <= n && i <= n - m; i++) {
		size_t k = 0;
		while (k < m) {
			unsigned char a = (unsigned char)hay[i + k];
			unsigned char b = (unsigned char)needle[k];
			if (a >= 'A' && a <= 'Z')
				a = (unsigned char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			if (a != b)
				break;
			k++;
		}
		if (k == m)
			return 1;
	}
	return 0;
}

/* Whether the decoded field name contains needle. -1 on memory. */
static int search_field(const struct msg_header *h, const char *name,
                        const char *needle)
{
	struct buf text = BUF_INIT;
	int r = util_header_text(h, name, &text);
	if (r == 1)
		r = search_contains(text.data, text.len, needle);
	buf_free(&text);
	return r;
}

/* Whether TEXT is anywhere a reader would see it. -1 on memory. */
static int search_text(const struct msg_message *m, const char *needle)
{
	static const char *const fields[] = {"From", "To", "Cc", "Subject"};
	int r = 0;
	for (size_t i = 0; i < 4 && r == 0; i++)
		r = search_field(&m->root->header, fields[i], needle);
	if (r != 0)
		return r;
	struct buf text = BUF_INIT;
	r = util_readable_text(m, &text);
	if (r >= 0)
		r = search_contains(text.data ? text.data : "", text.len, needle);
	buf_free(&text);
	return r;
}

/* 1 when message m matches every condition, 0 when not, -1 on memory. */
static int search_match(const struct search *s, const struct msg_message *m,
                        const struct folder_msg *fm)
{
	const struct msg_header *h = &m->root->header;
	int64_t when = list_when(h, fm);
	int r = when >= s->since && when < s->before;
	if (r == 1 && s->from)
		r = search_field(h, "From", s->from);
	if (r == 1 && s->subject)
		r = search_field(h, "Subject", s->subject);
	if (r == 1 && s->text)
		r = search_text(m, s->text);
	return r;
}

static int search_folder(struct search *s, const struct local_folder *f,
                         const char *folder)
{
	struct buf raw = BUF_INIT;
	int r = 0;
	for (size_t i = f->list.n; i-- > 0 && r == 0;) {
		const struct folder_msg *fm = &f->list.msgs[i];
		if (input_read(fm->path, INPUT_MAX_BYTES, &raw) < 0)
			continue;
		struct msg_message *m = msg_parse(raw.data ? raw.data : "", raw.len,
		                                  NULL);
		r = m ? search_match(s, m, fm) : -1;
		if (r == 1) {
			struct list_row *row = list_add(&s->rows);
			r = row ? list_fill(row, &m->root->header, fm, i + 1) : -1;
			if (row)
				row->folder = folder;
		}
		msg_message_free(&m);
	}
	buf_free(&raw);
	if (r < 0)
		fprintf(stderr, "posthorn: %s\n", strerror(ENOMEM));
	return r < 0 ? -1 : 0;
}

/* YYYY-MM-DD as the local midnight that starts it. */
static int search_date(const char *opt, const char *s, int64_t *t)
{
	int y, mo, d, n = 0, digits = strlen(s) == 10;
	struct tm tm = {0};
	for (size_t i = 0; digits && i < 10; i++)
		digits = i == 4 || i == 7 ? s[i] == '-' : s[i] >= '0' && s[i] <= '9';
	if (digits && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 &&
	    n == 10 && y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31) {
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_isdst = -1;
		time_t v = mktime(&tm);
		if (v != (time_t)-1 && tm.tm_mday == d && tm.tm_mon == mo - 1) {
			*t = v;
			return 0;
		}
	}
	fprintf(stderr, "posthorn search: %s wants a date as YYYY-MM-DD, not "
	        "'%s'\n", opt, s);
	return -1;
}

/* Folder names of the account, or just the one asked for. */
static int search_run(struct search *s, struct local_folder *f,
                      struct buf *names)
{
	if (!s->all_folders)
		return search_folder(s, f, NULL);
	struct buf why = BUF_INIT;
	int r = folder_names(f->root, names, &why);
	if (r < 0)
		fprintf(stderr, "posthorn: %s: %s\n", f->root, buf_cstr(&why));
	buf_free(&why);
	if (r < 0 || !buf_cstr(names))
		return -1;
	for (char *name = names->data, *nl; r == 0 && *name; name = nl + 1) {
		nl = strchr(name, '\n');
		if (!nl)
			break;
		*nl = '\0';
		if (local_switch(f, name) != 0)
			continue;
		r = search_folder(s, f, name);
	}
	return r;
}

static int search_args(int argc, char **argv, struct search *s,
                       const char **folder)
{
	const char *since = NULL, *before = NULL;
	const struct util_opt opts[] = {
		{"--folder", folder, NULL}, {"--all-folders", NULL, &s->all_folders},
		{"--from", &s->from, NULL}, {"--subject", &s->subject, NULL},
		{"--since", &since, NULL}, {"--before", &before, NULL},
	};
	char *pos[1];
	size_t npos;
	int r = util_parse_args(argc, argv, opts, 6, pos, 1, &npos);
	if (r == 1) {
		fputs(search_usage, stdout);
		return 1;
	}
	s->text = r == 0 && npos ? pos[0] : NULL;
	if (r == 0 && ((since && search_date("--since", since, &s->since) < 0) ||
	               (before && search_date("--before", before, &s->before) < 0)))
		r = -1;
	if (r == 0 && *folder && s->all_folders) {
		fprintf(stderr, "posthorn search: --folder and --all-folders exclude "
		        "each other\n");
		r = -1;
	}
	const char *words[] = {s->text, s->from, s->subject};
	for (size_t i = 0; r == 0 && i < 3; i++)
		if (words[i] && !words[i][0]) {
			fprintf(stderr, "posthorn search: empty search text\n");
			r = -1;
		}
	if (r == 0 && !s->text && !s->from && !s->subject && !since && !before) {
		fprintf(stderr, "posthorn search: expected TEXT, or --from, "
		        "--subject, --since or --before\n");
		r = -1;
	}
	if (r < 0)
		fprintf(stderr, "usage: posthorn search [TEXT] [--folder F|"
		        "--all-folders] [--from X] [--subject X] [--since YYYY-MM-DD] "
		        "[--before YYYY-MM-DD]\n");
	return r;
}

int cmd_search(int argc, char **argv)
{
	struct search s = {.since = INT64_MIN, .before = INT64_MAX};
	const char *folder = NULL;
	int r = search_args(argc, argv, &s, &folder);
	if (r != 0)
		return r == 1 ? EXIT_OK : EXIT_USAGE;
	struct local_folder f;
	struct buf names = BUF_INIT;
	int status = local_open(&f, folder);
	if (status == 0 && search_run(&s, &f, &names) < 0)
		status = EXIT_LOCAL;
	if (status == 0 && s.rows.n == 0) {
		fprintf(stderr, "no messages match\n");
		status = EXIT_PARTIAL;
	} else if (status == 0 && list_print(&s.rows) < 0) {
		status = EXIT_PARTIAL;
	}
	list_rows_free(&s.rows);
	buf_free(&names);
	local_close(&f);
	return status;
}
