/* cmd_contacts: `posthorn contacts add|list|remove|search|import|export`,
 * the address book on the command line. Each subcommand loads the book,
 * changes it in memory and saves it atomically, or leaves it untouched. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/fs.h"
#include "../msg/address.h"
#include "../msg/charset.h"
#include "commands.h"
#include "contacts.h"
#include "util.h"

static const char contacts_usage[] =
	"usage: posthorn contacts add NAME ADDRESS [--nick N] [--phone P] [--org O]\n"
	"       posthorn contacts list\n"
	"       posthorn contacts remove NAME|ADDRESS\n"
	"       posthorn contacts search TEXT\n"
	"       posthorn contacts import FILE.vcf|-\n"
	"       posthorn contacts export [FILE|-] [--version 3.0|4.0]\n"
	"\n"
	"The address book: names and nicknames in it can be used instead of\n"
	"addresses in send --to, --cc and --bcc. It is a vCard 4.0 file,\n"
	"contacts.vcf beside the config file when --config or $POSTHORN_CONFIG\n"
	"names it, else $XDG_DATA_HOME/posthorn/contacts.vcf\n"
	"(~/.local/share/posthorn/contacts.vcf).\n"
	"\n"
	"'posthorn contacts SUBCOMMAND --help' describes each one.\n"
	"Exit status: 0 done (also when search finds nothing), 1 import skipped\n"
	"damaged cards, 2 usage error or an ambiguous name, 3 no such contact or\n"
	"an unreadable file, 4 no place for the address book, 5 a file could\n"
	"not be written.\n";

static const char add_usage[] =
	"usage: posthorn contacts add NAME ADDRESS [--nick N] [--phone P] [--org O]\n"
	"\n"
	"Adds a contact, or updates the one that already has ADDRESS (its name,\n"
	"and the nickname, phone and organisation given). ADDRESS is one e-mail\n"
	"address. An empty value (--nick '') removes that field.\n"
	"\n"
	"  --nick N    a nickname, usable in send --to\n"
	"  --phone P   a telephone number\n"
	"  --org O     the organisation\n"
	"  --help      this text\n";

static const char list_usage[] =
	"usage: posthorn contacts list\n"
	"\n"
	"Prints every contact: name, nickname and addresses, sorted by name.\n";

static const char remove_usage[] =
	"usage: posthorn contacts remove NAME|ADDRESS\n"
	"\n"
	"Removes the contact with that name or nickname (exactly, ignoring case)\n"
	"or that address. A name several contacts share is refused (exit 2)\n"
	"with the list of them; none found is exit 3.\n";

static const char search_usage[] =
	"usage: posthorn contacts search TEXT\n"
	"\n"
	"Prints the contacts whose name, nickname, address or organisation\n"
	"contains TEXT (ignoring case), like list. Finding none prints \"no\n"
	"contact matches\" on standard error and exits 0.\n";

static const char import_usage[] =
	"usage: posthorn contacts import FILE.vcf|-\n"
	"\n"
	"Reads vCard 2.1, 3.0 or 4.0 (- is standard input) and merges it by\n"
	"address: a card with an address already in the book updates that\n"
	"contact, others are added. Cards without an e-mail address are\n"
	"skipped; damaged cards are skipped with a warning and exit status 1.\n";

static const char export_usage[] =
	"usage: posthorn contacts export [FILE|-] [--version 3.0|4.0]\n"
	"\n"
	"Writes the address book as vCard (default 4.0) to FILE, or to\n"
	"standard output when FILE is - or missing.\n"
	"\n"
	"  --version V   3.0 for older programs, or 4.0\n"
	"  --help        this text\n";

/* The loaded book and where it lives. */
struct contacts_book {
	struct buf path;
	struct vcard_list cards;
	size_t damaged;
};

/* Prints "posthorn: " (or "posthorn CMD: ") and the formatted text made
 * safe for a terminal to stderr. */
static void contacts_verror(const char *cmd, const char *fmt, va_list ap)
{
	struct buf raw = BUF_INIT, safe = BUF_INIT;
	int r = buf_vprintf(&raw, fmt, ap);
	if (r == 0 && util_term_safe(raw.data, raw.len, 1, &safe) == 0)
		fprintf(stderr, "posthorn%s%s: %.*s\n", cmd ? " " : "", cmd ? cmd : "",
		        (int)safe.len, safe.data ? safe.data : "");
	else
		fputs("posthorn: out of memory\n", stderr);
	buf_free(&raw);
	buf_free(&safe);
}

static void contacts_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void contacts_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	contacts_verror(NULL, fmt, ap);
	va_end(ap);
}

/* A usage error of subcommand cmd ("contacts add"). */
static void contacts_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void contacts_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	contacts_verror(cmd, fmt, ap);
	va_end(ap);
}

/* Prints a line to stdout made safe for a terminal. */
static void contacts_say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void contacts_say(const char *fmt, ...)
{
	struct buf raw = BUF_INIT, safe = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(&raw, fmt, ap);
	va_end(ap);
	if (r == 0 && util_term_safe(raw.data, raw.len, 1, &safe) == 0 &&
	    buf_putc(&safe, '\n') == 0)
		(void)util_write_stdout(&safe);
	buf_free(&raw);
	buf_free(&safe);
}

/* Parses a subcommand's arguments. Returns -1 to go on, or the exit
 * status (0 after --help printed usage, EXIT_USAGE). */
static int contacts_args(int argc, char **argv, const struct util_opt *opts,
                         size_t nopts, char **pos, size_t minpos,
                         size_t maxpos, size_t *npos, const char *usage)
{
	int r = util_parse_args(argc, argv, opts, nopts, pos, maxpos, npos);
	if (r == 1) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (r == 0 && *npos < minpos)
		fprintf(stderr, "posthorn %s: missing argument\n", argv[0]);
	if (r < 0 || *npos < minpos) {
		fprintf(stderr, "%.*s", (int)strcspn(usage, "\n") + 1, usage);
		return EXIT_USAGE;
	}
	return -1;
}

static void book_close(struct contacts_book *b)
{
	vcard_list_free(&b->cards);
	buf_free(&b->path);
}

/* Loads the book; on failure prints why, frees everything and returns
 * EXIT_CONFIG or EXIT_INPUT. */
static int book_open(struct contacts_book *b)
{
	struct buf why = BUF_INIT;
	memset(b, 0, sizeof *b);
	int status = EXIT_OK;
	if (contacts_path(&b->path, &why) < 0)
		status = EXIT_CONFIG;
	else if (contacts_load(buf_cstr(&b->path), &b->cards, &b->damaged,
	                       &why) < 0)
		status = EXIT_INPUT;
	if (status) {
		contacts_error("%s", buf_cstr(&why));
		book_close(b);
	}
	buf_free(&why);
	return status;
}

/* Damaged cards were left out when the book was read: saving would lose
 * them, so the old file is kept as PATH.bak first. 0 or -1. */
static int book_keep_damaged(struct contacts_book *b)
{
	struct buf old = BUF_INIT, bak = BUF_INIT;
	const char *path = buf_cstr(&b->path);
	int r = fs_read_file(path, CONTACTS_MAX_FILE, &old);
	if (r == 0 && buf_printf(&bak, "%s.bak", path) == 0)
		r = fs_write_atomic(buf_cstr(&bak), old.data ? old.data : "",
		                    old.len, 0600);
	else
		r = -1;
	if (r < 0)
		contacts_error("%s: cannot keep a copy of the damaged address book "
		               "(%s); not changing it", path, strerror(errno));
	else
		contacts_error("warning: %zu damaged card%s in %s left out; the old "
		               "file is kept as %s", b->damaged,
		               b->damaged == 1 ? "" : "s", path, bak.data);
	buf_free(&old);
	buf_free(&bak);
	return r;
}

/* Saves the book. EXIT_OK or EXIT_LOCAL after printing why. */
static int book_save(struct contacts_book *b)
{
	struct buf why = BUF_INIT;
	if (b->damaged && book_keep_damaged(b) < 0)
		return EXIT_LOCAL;
	b->damaged = 0;
	int r = contacts_save(buf_cstr(&b->path), &b->cards, &why);
	if (r < 0)
		contacts_error("%s; the address book is unchanged", buf_cstr(&why));
	buf_free(&why);
	return r < 0 ? EXIT_LOCAL : EXIT_OK;
}

/* A text option: UTF-8 without control characters. 0, or -1 after
 * printing what is wrong. */
static int contacts_text_ok(const char *cmd, const char *what, const char *s)
{
	int ok = msg_utf8_valid(s, strlen(s));
	for (const char *c = s; ok && *c; c++)
		ok = (unsigned char)*c >= 0x20 && *c != 0x7F;
	if (!ok)
		fprintf(stderr, "posthorn %s: %s must be UTF-8 text on one line\n",
		        cmd, what);
	return ok ? 0 : -1;
}

/* A copy of s without surrounding spaces, or NULL. */
static char *contacts_trimmed(const char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	return strndup(s, n);
}

/* ADDRESS as one "local@domain". 0, or EXIT_USAGE after printing why. */
static int contacts_address(const char *cmd, const char *name,
                            const char *s, struct buf *spec)
{
	struct msg_address_list list = {0};
	const char *err = NULL;
	int rc = msg_address_parse(s, strlen(s), &list, NULL, &err);
	if (rc == 0 && list.groups)
		err = "a group, not one address";
	else if (rc == 0 && list.count != 1)
		err = list.count ? "several addresses; add them one by one"
		                 : "no address";
	else if (rc == 0 && (!list.items[0].local[0] || !list.items[0].domain[0]))
		err = "an address needs local@domain";
	else if (rc == 0 && msg_address_spec(&list.items[0], spec) < 0)
		err = "out of memory";
	else if (rc != 0 && !err)
		err = "not understood";
	msg_address_list_free(&list);
	if (!err)
		return 0;
	contacts_usage_error(cmd, "'%s' is not an e-mail address (%s)%s", s, err,
	                     strchr(name, '@') && !strchr(s, '@') ?
	                     "; the NAME comes first, then the ADDRESS" : "");
	return EXIT_USAGE;
}

/* Sets an optional field: NULL leaves it, "" clears it. 0 or -1. */
static int contacts_set_opt(char **field, const char *value)
{
	if (!value)
		return 0;
	char *t = contacts_trimmed(value);
	if (!t)
		return -1;
	int r = vcard_set(field, *t ? t : NULL);
	free(t);
	return r;
}

/* Applies NAME and the options to card c (new or found). 0 or -1. */
static int contacts_fill(struct vcard_card *c, const char *name,
                         const char *spec, const char *nick,
                         const char *phone, const char *org)
{
	if (!c->fn || strcmp(c->fn, name) != 0) {
		/* a stale structured name would contradict the new one */
		for (int k = 0; k < VCARD_N_PARTS; k++)
			(void)vcard_set(&c->n[k], NULL);
		if (vcard_set(&c->fn, name) < 0)
			return -1;
	}
	if (!c->uid) {
		char uid[VCARD_UID_SIZE];
		vcard_uid_generate(uid);
		if (vcard_set(&c->uid, uid) < 0)
			return -1;
	}
	if (vcard_add_email(c, spec) < 0 || contacts_set_opt(&c->nickname, nick) ||
	    contacts_set_opt(&c->tel, phone) || contacts_set_opt(&c->org, org))
		return -1;
	return 0;
}

static int contacts_add(int argc, char **argv)
{
	const char *nick = NULL, *phone = NULL, *org = NULL;
	const struct util_opt opts[] = {
		{"--nick", &nick, NULL}, {"--phone", &phone, NULL},
		{"--org", &org, NULL},
	};
	char *pos[2];
	size_t npos;
	int status = contacts_args(argc, argv, opts, 3, pos, 2, 2, &npos,
	                           add_usage);
	if (status >= 0)
		return status;
	if (contacts_text_ok(argv[0], "NAME", pos[0]) ||
	    (nick && contacts_text_ok(argv[0], "--nick", nick)) ||
	    (phone && contacts_text_ok(argv[0], "--phone", phone)) ||
	    (org && contacts_text_ok(argv[0], "--org", org)))
		return EXIT_USAGE;
	char *name = contacts_trimmed(pos[0]);
	struct buf spec = BUF_INIT;
	struct contacts_book b;
	if (name && !*name) {
		fprintf(stderr, "posthorn %s: NAME is empty\n", argv[0]);
		status = EXIT_USAGE;
	} else if (!name) {
		status = EXIT_LOCAL;
	} else if ((status = contacts_address(argv[0], name, pos[1], &spec)) == 0) {
		status = book_open(&b);
		if (status == EXIT_OK) {
			long at = contacts_find_address(&b.cards, buf_cstr(&spec));
			struct vcard_card fresh = {0};
			struct vcard_card *c = at >= 0 ? &b.cards.cards[at] : &fresh;
			if (contacts_fill(c, name, spec.data, nick, phone, org) < 0 ||
			    (at < 0 && vcard_list_add(&b.cards, &fresh) < 0)) {
				contacts_error("out of memory or too many contacts");
				status = EXIT_LOCAL;
			}
			vcard_card_free(&fresh);
			if (status == EXIT_OK && (status = book_save(&b)) == EXIT_OK)
				contacts_say("%s %s <%s>", at >= 0 ? "updated" : "added",
				             name, spec.data);
			book_close(&b);
		}
	}
	free(name);
	buf_free(&spec);
	return status;
}

/* ---- list and search ---- */

static int contacts_compare(const void *a, const void *b)
{
	const char *x = (*(const struct vcard_card *const *)a)->fn;
	const char *y = (*(const struct vcard_card *const *)b)->fn;
	x = x ? x : "";
	y = y ? y : "";
	int r = strcasecmp(x, y);
	return r ? r : strcmp(x, y);
}

/* The terminal-safe cells of one row: name, nickname, addresses. */
static int contacts_cells(const struct vcard_card *c, struct buf cell[3])
{
	const char *nick = c->nickname ? c->nickname : "";
	int r = util_term_safe(c->fn ? c->fn : "", c->fn ? strlen(c->fn) : 0, 1,
	                       &cell[0]);
	r |= util_term_safe(nick, strlen(nick), 1, &cell[1]);
	for (size_t k = 0; k < c->nemails && r == 0; k++)
		r = (k ? buf_puts(&cell[2], ", ") : 0) |
		    util_term_safe(c->emails[k], strlen(c->emails[k]), 1, &cell[2]);
	return r;
}

/* Widest name and nickname columns; longer cells end in "...". */
#define CONTACTS_NAME_COLUMNS 40
#define CONTACTS_NICK_COLUMNS 20

/* Cuts cell to at most max columns, at a character boundary. */
static void contacts_clip(struct buf *cell, size_t max)
{
	const char *s = cell->data ? cell->data : "";
	if (util_display_width(s, cell->len) <= max)
		return;
	size_t keep = 0, w = 0;
	while (keep < cell->len) {
		size_t len = 1;
		while (keep + len < cell->len &&
		       ((unsigned char)s[keep + len] & 0xC0) == 0x80)
			len++;
		w += util_display_width(s + keep, len);
		if (w > max - 3)
			break;
		keep += len;
	}
	buf_truncate(cell, keep);
	(void)buf_puts(cell, "...");
}

static int contacts_pad(struct buf *out, const struct buf *cell, size_t width)
{
	size_t w = util_display_width(cell->data ? cell->data : "", cell->len);
	int r = buf_append(out, cell->data ? cell->data : "", cell->len);
	for (; r == 0 && w < width + 2; w++)
		r = buf_putc(out, ' ');
	return r;
}

/* Prints the cards (an array of n pointers, sorted here) as an aligned
 * table with a heading. 0 or -1. */
static int contacts_table(const struct vcard_card **rows, size_t n)
{
	struct buf *cells = calloc(3 * (n + 1), sizeof *cells);
	struct buf out = BUF_INIT;
	size_t width[2] = {0, 0};
	int r = cells ? 0 : -1;
	qsort(rows, n, sizeof *rows, contacts_compare);
	if (r == 0)
		r = buf_puts(&cells[0], "NAME") | buf_puts(&cells[1], "NICKNAME") |
		    buf_puts(&cells[2], "ADDRESSES");
	for (size_t i = 0; i < n && r == 0; i++) {
		r = contacts_cells(rows[i], &cells[3 * (i + 1)]);
		contacts_clip(&cells[3 * (i + 1)], CONTACTS_NAME_COLUMNS);
		contacts_clip(&cells[3 * (i + 1) + 1], CONTACTS_NICK_COLUMNS);
	}
	for (size_t i = 0; i <= n && r == 0; i++)
		for (int k = 0; k < 2; k++) {
			const struct buf *c = &cells[3 * i + k];
			size_t w = util_display_width(c->data ? c->data : "", c->len);
			width[k] = w > width[k] ? w : width[k];
		}
	for (size_t i = 0; i <= n && r == 0; i++) {
		r = contacts_pad(&out, &cells[3 * i], width[0]) |
		    contacts_pad(&out, &cells[3 * i + 1], width[1]);
		r |= buf_append(&out, cells[3 * i + 2].data ? cells[3 * i + 2].data :
		                "", cells[3 * i + 2].len);
		while (r == 0 && out.len && out.data[out.len - 1] == ' ')
			buf_truncate(&out, out.len - 1);
		r |= buf_putc(&out, '\n');
	}
	for (size_t i = 0; cells && i < 3 * (n + 1); i++)
		buf_free(&cells[i]);
	free(cells);
	if (r == 0)
		r = util_write_stdout(&out);
	else
		contacts_error("out of memory");
	buf_free(&out);
	return r;
}

/* list (text NULL) and search: the table of matching cards. */
static int contacts_show(const struct contacts_book *b, const char *text)
{
	const struct vcard_card **rows = calloc(b->cards.count + 1, sizeof *rows);
	size_t n = 0;
	if (!rows) {
		contacts_error("out of memory");
		return EXIT_PARTIAL;
	}
	for (size_t i = 0; i < b->cards.count; i++)
		if (!text || contacts_matches(&b->cards.cards[i], text))
			rows[n++] = &b->cards.cards[i];
	int status = EXIT_OK;
	if (n == 0 && !text)
		contacts_error("no contacts yet: 'posthorn contacts add NAME "
		               "ADDRESS' adds one");
	else if (n == 0)
		contacts_error("no contact matches '%s'", text);
	else if (contacts_table(rows, n) < 0)
		status = EXIT_PARTIAL;
	free(rows);
	return status;
}

static int contacts_list(int argc, char **argv)
{
	size_t npos;
	int status = contacts_args(argc, argv, NULL, 0, NULL, 0, 0, &npos,
	                           list_usage);
	struct contacts_book b;
	if (status >= 0 || (status = book_open(&b)) != EXIT_OK)
		return status;
	status = contacts_show(&b, NULL);
	book_close(&b);
	return status;
}

static int contacts_search(int argc, char **argv)
{
	char *pos[1];
	size_t npos;
	int status = contacts_args(argc, argv, NULL, 0, pos, 1, 1, &npos,
	                           search_usage);
	struct contacts_book b;
	if (status >= 0 || (status = book_open(&b)) != EXIT_OK)
		return status;
	status = contacts_show(&b, pos[0]);
	book_close(&b);
	return status;
}

/* ---- remove ---- */

/* Marks in hit[] the cards NAME|ADDRESS names exactly; returns how many. */
static size_t contacts_exact(const struct vcard_list *book, const char *key,
                             unsigned char *hit)
{
	size_t n = 0;
	long at = strchr(key, '@') ? contacts_find_address(book, key) : -1;
	for (size_t i = 0; i < book->count; i++) {
		hit[i] = (long)i == at || contacts_named(&book->cards[i], key);
		n += hit[i];
	}
	return n;
}

static void contacts_names(const struct vcard_list *book,
                           const unsigned char *hit, struct buf *out)
{
	for (size_t i = 0, shown = 0; i < book->count; i++) {
		if (!hit[i])
			continue;
		const struct vcard_card *c = &book->cards[i];
		(void)buf_printf(out, "%s%s <%s>", shown++ ? ", " : "",
		                 c->fn ? c->fn : "?", c->nemails ? c->emails[0] : "");
	}
}

static int contacts_remove(int argc, char **argv)
{
	char *pos[1];
	size_t npos;
	int status = contacts_args(argc, argv, NULL, 0, pos, 1, 1, &npos,
	                           remove_usage);
	struct contacts_book b;
	if (status >= 0 || (status = book_open(&b)) != EXIT_OK)
		return status;
	unsigned char *hit = calloc(b.cards.count + 1, 1);
	struct buf names = BUF_INIT;
	size_t n = hit ? contacts_exact(&b.cards, pos[0], hit) : 0;
	if (hit)
		contacts_names(&b.cards, hit, &names);
	if (!hit) {
		contacts_error("out of memory");
		status = EXIT_LOCAL;
	} else if (n == 0) {
		contacts_error("no contact '%s' in the address book; 'posthorn "
		               "contacts search %s' finds similar ones", pos[0],
		               pos[0]);
		status = EXIT_INPUT;
	} else if (n > 1) {
		contacts_error("'%s' names several contacts: %s; remove one by its "
		               "address", pos[0], buf_cstr(&names));
		status = EXIT_USAGE;
	} else {
		for (size_t i = 0; i < b.cards.count; i++)
			if (hit[i]) {
				vcard_list_remove(&b.cards, i);
				break;
			}
		if ((status = book_save(&b)) == EXIT_OK)
			contacts_say("removed %s", buf_cstr(&names));
	}
	free(hit);
	buf_free(&names);
	book_close(&b);
	return status;
}

/* ---- import and export ---- */

/* Reads FILE or standard input ("-") whole. 0, or EXIT_INPUT after
 * printing why. */
static int contacts_read(const char *path, struct buf *out)
{
	if (strcmp(path, "-") != 0) {
		if (fs_read_file(path, CONTACTS_MAX_FILE, out) == 0)
			return 0;
		contacts_error("%s: %s", path, errno == EFBIG ?
		               "too large for an address book" : strerror(errno));
		return EXIT_INPUT;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
		if (out->len + n > CONTACTS_MAX_FILE || buf_append(out, chunk, n)) {
			contacts_error("standard input: too large for an address book");
			return EXIT_INPUT;
		}
	if (ferror(stdin)) {
		contacts_error("standard input: %s", strerror(errno));
		return EXIT_INPUT;
	}
	return 0;
}

/* Moves what card in has into card c (an update by address). */
static int contacts_merge(struct vcard_card *c, struct vcard_card *in)
{
	int has_n = 0;
	for (int k = 0; k < VCARD_N_PARTS; k++)
		has_n |= in->n[k] != NULL;
	/* a name the card only had by fallback (its address, say) must not
	 * replace a real one */
	if (in->fn && (!in->fn_built || has_n || !c->fn)) {
		free(c->fn);
		c->fn = in->fn;
		in->fn = NULL;
		for (int k = 0; k < VCARD_N_PARTS; k++) {
			free(c->n[k]);
			c->n[k] = in->n[k];
			in->n[k] = NULL;
		}
	}
	char **fields[] = {&c->nickname, &c->org, &c->note, &c->tel, &c->uid};
	char **from[] = {&in->nickname, &in->org, &in->note, &in->tel, &in->uid};
	for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
		if (!*from[k] || (fields[k] == &c->uid && c->uid))
			continue;  /* the book's UID stays: others may refer to it */
		free(*fields[k]);
		*fields[k] = *from[k];
		*from[k] = NULL;
	}
	for (size_t i = 0; i < in->nemails; i++)
		if (vcard_add_email(c, in->emails[i]) < 0)
			return -1;
	return 0;
}

/* Merges the imported cards into the book; counts what happened. */
static int contacts_merge_all(struct vcard_list *book, struct vcard_list *in,
                              size_t *added, size_t *updated,
                              size_t *no_address)
{
	for (size_t i = 0; i < in->count; i++) {
		struct vcard_card *c = &in->cards[i];
		long at = -1;
		for (size_t k = 0; k < c->nemails && at < 0; k++)
			at = contacts_find_address(book, c->emails[k]);
		if (c->nemails == 0) {
			(*no_address)++;
		} else if (at >= 0) {
			if (contacts_merge(&book->cards[at], c) < 0)
				return -1;
			(*updated)++;
		} else {
			if (!c->uid) {
				char uid[VCARD_UID_SIZE];
				vcard_uid_generate(uid);
				if (vcard_set(&c->uid, uid) < 0)
					return -1;
			}
			c->line = 0;
			if (vcard_list_add(book, c) < 0)
				return -1;
			(*added)++;
		}
	}
	return 0;
}

static void contacts_import_summary(size_t added, size_t updated,
                                    size_t no_address, size_t damaged)
{
	struct buf s = BUF_INIT;
	size_t total = added + updated, skipped = no_address + damaged;
	(void)buf_printf(&s, "imported %zu contact%s", total, total == 1 ? "" : "s");
	if (updated || skipped)
		(void)buf_printf(&s, " (%zu updated", updated);
	if (skipped)
		(void)buf_printf(&s, ", %zu skipped:", skipped);
	if (no_address)
		(void)buf_printf(&s, " %zu without an e-mail address%s", no_address,
		                 damaged ? "," : "");
	if (damaged)
		(void)buf_printf(&s, " %zu damaged, see the warnings above", damaged);
	if (updated || skipped)
		(void)buf_putc(&s, ')');
	contacts_say("%s", buf_cstr(&s));
	buf_free(&s);
}

static int contacts_import(int argc, char **argv)
{
	char *pos[1];
	size_t npos;
	int status = contacts_args(argc, argv, NULL, 0, pos, 1, 1, &npos,
	                           import_usage);
	if (status >= 0)
		return status;
	struct buf data = BUF_INIT, warnings = BUF_INIT;
	struct vcard_list in = {0};
	struct contacts_book b;
	const char *name = strcmp(pos[0], "-") ? pos[0] : "standard input";
	if ((status = contacts_read(pos[0], &data)) != EXIT_OK) {
		buf_free(&data);
		return status;
	}
	long damaged = vcard_parse(data.data, data.len, &in, &warnings);
	buf_free(&data);
	for (char *l = warnings.data, *nl; l && l < warnings.data + warnings.len;
	     l = nl + 1) {
		nl = memchr(l, '\n', (size_t)(warnings.data + warnings.len - l));
		contacts_error("warning: %s: %.*s", name, (int)(nl - l), l);
	}
	buf_free(&warnings);
	size_t added = 0, updated = 0, no_address = 0;
	if (damaged < 0) {
		contacts_error("%s: out of memory", name);
		status = EXIT_INPUT;
	} else if (in.count == 0 && damaged == 0) {
		contacts_error("%s: no vCard in it (BEGIN:VCARD ... END:VCARD)", name);
		status = EXIT_INPUT;
	} else if ((status = book_open(&b)) == EXIT_OK) {
		if (contacts_merge_all(&b.cards, &in, &added, &updated,
		                       &no_address) < 0) {
			contacts_error("out of memory or too many contacts; the address "
			               "book is unchanged");
			status = EXIT_LOCAL;
		} else if (added + updated && (status = book_save(&b)) != EXIT_OK) {
			;
		} else {
			contacts_import_summary(added, updated, no_address,
			                        (size_t)damaged);
			status = damaged ? EXIT_PARTIAL : EXIT_OK;
		}
		book_close(&b);
	}
	vcard_list_free(&in);
	return status;
}

static int contacts_export(int argc, char **argv)
{
	const char *version = NULL;
	const struct util_opt opts[] = {{"--version", &version, NULL}};
	char *pos[1] = {"-"};
	size_t npos;
	int status = contacts_args(argc, argv, opts, 1, pos, 0, 1, &npos,
	                           export_usage);
	if (status >= 0)
		return status;
	int v = 4;
	if (version && (!strcmp(version, "3.0") || !strcmp(version, "3")))
		v = 3;
	else if (version && strcmp(version, "4.0") && strcmp(version, "4")) {
		fprintf(stderr, "posthorn %s: --version is 3.0 or 4.0\n", argv[0]);
		return EXIT_USAGE;
	}
	const char *path = npos ? pos[0] : "-";
	struct contacts_book b;
	struct buf out = BUF_INIT;
	if ((status = book_open(&b)) != EXIT_OK)
		return status;
	if (vcard_write_list(&b.cards, v, &out) < 0) {
		contacts_error("out of memory");
		status = EXIT_LOCAL;
	} else if (!strcmp(path, "-")) {
		status = util_write_stdout(&out) < 0 ? EXIT_LOCAL : EXIT_OK;
	} else if (fs_write_atomic(path, out.data ? out.data : "", out.len,
	                           0600) < 0) {
		contacts_error("%s: %s", path, strerror(errno));
		status = EXIT_LOCAL;
	} else {
		contacts_say("exported %zu contact%s to %s", b.cards.count,
		             b.cards.count == 1 ? "" : "s", path);
	}
	buf_free(&out);
	book_close(&b);
	return status;
}

/* ---- dispatch ---- */

static const struct {
	const char *name;
	const char *label;  /* argv[0] of the subcommand, for messages */
	int (*run)(int argc, char **argv);
} contacts_subs[] = {
	{"add", "contacts add", contacts_add},
	{"list", "contacts list", contacts_list},
	{"remove", "contacts remove", contacts_remove},
	{"search", "contacts search", contacts_search},
	{"import", "contacts import", contacts_import},
	{"export", "contacts export", contacts_export},
};

int cmd_contacts(int argc, char **argv)
{
	if (argc < 2) {
		fputs(contacts_usage, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(contacts_usage, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof contacts_subs / sizeof contacts_subs[0]; i++) {
		if (strcmp(argv[1], contacts_subs[i].name) != 0)
			continue;
		char **sub = calloc((size_t)argc, sizeof *sub);
		if (!sub) {
			fputs("posthorn: out of memory\n", stderr);
			return EXIT_LOCAL;
		}
		sub[0] = (char *)contacts_subs[i].label;
		for (int k = 2; k < argc; k++)
			sub[k - 1] = argv[k];
		int status = contacts_subs[i].run(argc - 1, sub);
		free(sub);
		return status;
	}
	contacts_usage_error("contacts", "unknown subcommand '%s'; try "
	                     "'posthorn contacts --help'", argv[1]);
	return EXIT_USAGE;
}
