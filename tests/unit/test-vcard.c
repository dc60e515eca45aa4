/* Unit tests for src/msg/vcard.c: reading real-world vCard 2.1, 3.0 and
 * 4.0 exports, damaged input and limits, and writing 4.0/3.0 that reads
 * back the same. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/msg/vcard.h"

/* Parses s, expecting skipped damaged cards; warnings (if not NULL) get
 * the parser's warnings. */
static void parse(const char *s, size_t n, struct vcard_list *list,
                  long skipped, struct buf *warnings)
{
	long r = vcard_parse(s, n, list, warnings);
	if (r != skipped)
		fail_msg("vcard_parse returned %ld, want %ld (warnings: %s)", r,
		         skipped, warnings ? buf_cstr(warnings) : "-");
}

#define PARSE(s, list, skipped, w) parse((s), strlen(s), (list), (skipped), (w))

static void assert_str(const char *got, const char *want)
{
	if (!want && !got)
		return;
	if (!want || !got || strcmp(got, want) != 0)
		fail_msg("got \"%s\", want \"%s\"", got ? got : "(null)",
		         want ? want : "(null)");
}

static const char v21_gb2312[] =
	"BEGIN:VCARD\r\n"
	"VERSION:2.1\r\n"
	"N;CHARSET=GB2312;ENCODING=QUOTED-PRINTABLE:=C0=EE;=C0=D7;;;\r\n"
	"FN;CHARSET=GB2312;ENCODING=QUOTED-PRINTABLE:=C0=EE=C0=D7\r\n"
	"TEL;CELL;PREF:+86-138-0000-0000\r\n"
	"TEL;HOME:+86-10-0000-0000\r\n"
	"EMAIL;INTERNET;HOME:lilei@example.cn\r\n"
	"EMAIL;INTERNET;WORK;PREF:lei.li@work.example.cn\r\n"
	"NOTE;CHARSET=GB2312;ENCODING=QUOTED-PRINTABLE:=C0=EE=C0=D7=0D=0A=\r\n"
	"=BA=AB=C3=B7=C3=B7\r\n"
	"PHOTO;ENCODING=BASE64;TYPE=JPEG:\r\n"
	" /9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U\r\n"
	"\r\n"
	"END:VCARD\r\n";

static void test_v21_quoted_printable_gb2312(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	PARSE(v21_gb2312, &list, 0, NULL);
	assert_int_equal(list.count, 1);
	const struct vcard_card *c = &list.cards[0];
	assert_str(c->fn, "李雷");
	assert_str(c->n[VCARD_N_FAMILY], "李");
	assert_str(c->n[VCARD_N_GIVEN], "雷");
	assert_null(c->n[VCARD_N_ADDITIONAL]);
	assert_str(c->tel, "+86-138-0000-0000");
	assert_int_equal(c->nemails, 2);
	/* the PREF one first */
	assert_str(c->emails[0], "lei.li@work.example.cn");
	assert_str(c->emails[1], "lilei@example.cn");
	assert_str(c->note, "李雷\n韩梅梅");
	assert_int_equal(c->line, 1);
	vcard_list_free(&list);
	assert_null(list.cards);
}

static void test_v21_latin1_and_unlabelled(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	/* Outlook style: ISO-8859-1 QP; and raw 8-bit GB18030 with no label */
	PARSE("BEGIN:VCARD\nVERSION:2.1\n"
	      "FN;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:M=FCller, J=FCrgen\n"
	      "EMAIL;PREF;INTERNET:jm@example.de\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:2.1\nFN:\xC0\xEE\xC0\xD7\xBA\xAB\xC3\xB7\n"
	      "END:VCARD\n", &list, 0, NULL);
	assert_int_equal(list.count, 2);
	assert_str(list.cards[0].fn, "Müller, Jürgen");
	assert_str(list.cards[0].emails[0], "jm@example.de");
	assert_str(list.cards[1].fn, "李雷韩梅");
	vcard_list_free(&list);
}

static const char v30_apple[] =
	"BEGIN:VCARD\r\n"
	"VERSION:3.0\r\n"
	"PRODID:-//Apple Inc.//macOS 14.0//EN\r\n"
	"N:Appleseed;Johnny;;Mr.;\r\n"
	"FN:Johnny Appleseed\r\n"
	"ORG:Example Inc.;Research\r\n"
	"item1.EMAIL;type=INTERNET;type=WORK:johnny@work.example.com\r\n"
	"item1.X-ABLabel:_$!<Work>!$_\r\n"
	"item2.EMAIL;type=INTERNET;type=HOME;type=pref:Johnny@Home.example.com\r\n"
	"EMAIL;type=INTERNET;type=HOME:johnny@home.example.com\r\n"
	"TEL;type=CELL;type=VOICE;type=pref:(408) 555-0100\r\n"
	"item3.ADR;type=HOME;type=pref:;;1 Infinite Loop;Cupertino;CA;95014;USA\r\n"
	"NOTE:Met at WWDC\\, 2019\\nsecond line; with semicolon\r\n"
	"X-SOCIALPROFILE;type=twitter:http://twitter.com/johnny\r\n"
	"UID:8D0E6E2B-1A2B-4C3D-9E8F-0123456789AB\r\n"
	"END:VCARD\r\n";

static const char v30_google[] =
	"BEGIN:VCARD\n"
	"VERSION:3.0\n"
	"FN:韩梅梅\n"
	"N:韩;梅梅;;;\n"
	"NICKNAME:Meimei\n"
	"EMAIL;TYPE=INTERNET;TYPE=HOME:hanmeimei@example.org\n"
	"EMAIL;TYPE=INTERNET:hmm@example.com\n"
	"TEL;TYPE=CELL:+86 139 0000 0000\n"
	"item1.ORG:北京大学\n"
	"item1.X-ABLabel:\n"
	"CATEGORIES:myContacts,Friends\n"
	"END:VCARD\n";

static void test_v30_apple_google(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	PARSE(v30_apple, &list, 0, NULL);
	PARSE(v30_google, &list, 0, NULL);
	assert_int_equal(list.count, 2);
	const struct vcard_card *c = &list.cards[0];
	assert_str(c->fn, "Johnny Appleseed");
	assert_str(c->n[VCARD_N_PREFIX], "Mr.");
	assert_str(c->org, "Example Inc., Research");
	assert_int_equal(c->nemails, 2);  /* the duplicate differs in case only */
	assert_str(c->emails[0], "Johnny@Home.example.com");
	assert_str(c->emails[1], "johnny@work.example.com");
	assert_str(c->tel, "(408) 555-0100");
	assert_str(c->note, "Met at WWDC, 2019\nsecond line; with semicolon");
	assert_str(c->uid, "8D0E6E2B-1A2B-4C3D-9E8F-0123456789AB");
	c = &list.cards[1];
	assert_str(c->fn, "韩梅梅");
	assert_str(c->nickname, "Meimei");
	assert_str(c->org, "北京大学");
	assert_int_equal(c->nemails, 2);
	assert_str(c->emails[0], "hanmeimei@example.org");
	assert_int_equal(c->line, 1);
	vcard_list_free(&list);
}

/* RFC 6350 section 8. */
static const char v40_rfc[] =
	"BEGIN:VCARD\r\n"
	"VERSION:4.0\r\n"
	"FN:Simon Perreault\r\n"
	"N:Perreault;Simon;;;ing. jr,M.Sc.\r\n"
	"BDAY:--0203\r\n"
	"ANNIVERSARY:20090808T1430-0500\r\n"
	"GENDER:M\r\n"
	"LANG;PREF=1:fr\r\n"
	"LANG;PREF=2:en\r\n"
	"ORG;TYPE=work:Viagenie\r\n"
	"ADR;TYPE=work:;Suite D2-630;2875 Laurier;\r\n"
	" Quebec;QC;G1V 2M2;Canada\r\n"
	"TEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+1-418-656-9254;ext=102\r\n"
	"TEL;VALUE=uri;TYPE=\"work,cell,voice,video,text\":tel:+1-418-262-6501\r\n"
	"EMAIL;TYPE=work:simon.perreault@viagenie.ca\r\n"
	"GEO;TYPE=work:geo:46.772673,-71.282945\r\n"
	"KEY;TYPE=work;VALUE=uri:\r\n"
	" http://www.viagenie.ca/simon.perreault/simon.asc\r\n"
	"TZ:-0500\r\n"
	"URL;TYPE=home:http://nomis80.org\r\n"
	"END:VCARD\r\n";

static void test_v40_rfc6350(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	PARSE(v40_rfc, &list, 0, NULL);
	assert_int_equal(list.count, 1);
	const struct vcard_card *c = &list.cards[0];
	assert_str(c->fn, "Simon Perreault");
	assert_int_equal(c->fn_built, 0);
	assert_str(c->n[VCARD_N_FAMILY], "Perreault");
	assert_str(c->n[VCARD_N_SUFFIX], "ing. jr,M.Sc.");
	assert_str(c->org, "Viagenie");
	assert_str(c->tel, "tel:+1-418-656-9254;ext=102");
	assert_int_equal(c->nemails, 1);
	assert_str(c->emails[0], "simon.perreault@viagenie.ca");
	vcard_list_free(&list);
}

static void test_pref_order(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	PARSE("BEGIN:VCARD\nVERSION:4.0\nFN:P\n"
	      "EMAIL:none1@x\nEMAIL;PREF=50:fifty@x\nEMAIL:none2@x\n"
	      "EMAIL;PREF=1:one@x\nEMAIL;PREF=50:fifty2@x\nEMAIL;PREF=0:zero@x\n"
	      "EMAIL:mailto:uri@x\nEMAIL: \nEND:VCARD\n", &list, 0, NULL);
	const struct vcard_card *c = &list.cards[0];
	const char *want[] = {"one@x", "fifty@x", "fifty2@x", "none1@x",
	                      "none2@x", "zero@x", "uri@x"};
	assert_int_equal(c->nemails, 7);
	for (size_t i = 0; i < 7; i++)
		assert_str(c->emails[i], want[i]);
	vcard_list_free(&list);
}

static void test_name_fallback(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	PARSE("BEGIN:VCARD\nVERSION:3.0\nN:Doe;John;Q.;Dr.;III\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nN:李;雷;;;\nFN:\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nN:王;;;;\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nN:Kim;Lee;;;\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nN:;;;;\nNICKNAME:Bobby\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nN:;;;;\nORG:ACME;Sales\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nEMAIL:only@example.org\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nN:;;;;\nTEL:123\nEND:VCARD\n",
	      &list, 1, NULL);
	const char *want[] = {"Dr. John Q. Doe III", "李雷", "王", "Lee Kim",
	                      "Bobby", "ACME, Sales", "only@example.org"};
	assert_int_equal(list.count, 7);
	for (size_t i = 0; i < 7; i++) {
		assert_str(list.cards[i].fn, want[i]);
		assert_int_equal(list.cards[i].fn_built, 1);
	}
	vcard_list_free(&list);
}

static void test_damaged_card_in_middle(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	struct buf w = BUF_INIT;
	PARSE("BEGIN:VCARD\nVERSION:3.0\nFN:One\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nFN:Broken\nthis line is junk\n"
	      "EMAIL:b@x\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:3.0\nFN:No end\n"
	      "BEGIN:VCARD\nVERSION:3.0\nFN:Two\nEMAIL;TYPE=\"work:x\n"
	      "END:VCARD\n"
	      "BEGIN:VCARD\nFN:Three\nEND:VCARD\n"
	      "stray text\nmore stray\n"
	      "BEGIN:VCARD\nFN:Four\nEND:VCARD\n"
	      "BEGIN:VCARD\nFN:Unfinished\n", &list, 4, &w);
	assert_int_equal(list.count, 3);
	assert_str(list.cards[0].fn, "One");
	assert_str(list.cards[1].fn, "Three");
	assert_str(list.cards[2].fn, "Four");
	assert_int_equal(list.cards[2].line, 24);
	assert_str(buf_cstr(&w),
	           "line 8: not a property (no ':' after the name); card skipped\n"
	           "line 11: no END:VCARD before the next BEGIN (line 14); "
	           "card skipped\n"
	           "line 17: a quoted parameter value has no closing '\"'; "
	           "card skipped\n"
	           "line 22: text outside a vCard ignored\n"
	           "line 27: no END:VCARD before the end; card skipped\n");
	vcard_list_free(&list);
	buf_free(&w);
}

static void test_line_ends_bom_and_case(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	PARSE("\xEF\xBB\xBF" "begin:vcard\rversion:3.0\rfn:CR only\r"
	      "email:cr@x\rend:vcard\r", &list, 0, NULL);
	assert_int_equal(list.count, 1);
	assert_str(list.cards[0].fn, "CR only");
	vcard_list_free(&list);

	/* UTF-16LE with a BOM, as some Windows tools write */
	const char *text = "BEGIN:VCARD\r\nFN:Wide \xE6\x9D\x8E\r\nEND:VCARD\r\n";
	char u16[256];
	size_t n = 0;
	u16[n++] = (char)0xFF;
	u16[n++] = (char)0xFE;
	for (const char *t = text; *t; t++) {
		if ((unsigned char)*t == 0xE6) {  /* U+674E */
			u16[n++] = 0x4E;
			u16[n++] = 0x67;
			t += 2;
			continue;
		}
		u16[n++] = *t;
		u16[n++] = 0;
	}
	parse(u16, n, &list, 0, NULL);
	assert_int_equal(list.count, 1);
	assert_str(list.cards[0].fn, "Wide 李");
	vcard_list_free(&list);
}

static void test_unfolding(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	/* folds with space and tab, one in the middle of a UTF-8 character
	 * (allowed: folding is on octets) and one inside an escape */
	PARSE("BEGIN:VCARD\r\nFN:Li\r\n  Lei \xE6\x9D\r\n\t\x8E\xE9\x9B\xB7\r\n"
	      "NOTE:a\\\r\n ,b\r\nEMAIL;TY\r\n PE=work:x@\r\n y\r\nEND:VCARD\r\n",
	      &list, 0, NULL);
	assert_str(list.cards[0].fn, "Li Lei 李雷");
	assert_str(list.cards[0].note, "a,b");
	assert_str(list.cards[0].emails[0], "x@y");
	vcard_list_free(&list);
}

static void test_qp_soft_breaks(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	/* soft breaks without the folding space; a broken "=" on the last
	 * line does not eat END:VCARD */
	PARSE("BEGIN:VCARD\r\nVERSION:2.1\r\n"
	      "FN;ENCODING=QUOTED-PRINTABLE:Jo=\r\nhn=20=\r\nSmith\r\n"
	      "NOTE;QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9=\r\n"
	      "END:VCARD\r\n"
	      "BEGIN:VCARD\r\nFN:Next\r\nEND:VCARD\r\n", &list, 0, NULL);
	assert_int_equal(list.count, 2);
	assert_str(list.cards[0].fn, "John Smith");
	assert_str(list.cards[0].note, "café");
	vcard_list_free(&list);
}

/* Every prefix of real files parses without harm, and never yields more
 * cards than the whole. */
static void test_every_prefix(void **state)
{
	(void)state;
	const char *samples[] = {v21_gb2312, v30_apple, v30_google, v40_rfc};
	for (size_t k = 0; k < 4; k++) {
		size_t n = strlen(samples[k]);
		const char *end = strstr(samples[k], "END:VCARD\r\n");
		end = end ? end : strstr(samples[k], "END:VCARD\n");
		size_t complete = (size_t)(end - samples[k]) + 9;
		for (size_t i = 0; i <= n; i++) {
			struct vcard_list list = {0};
			struct buf w = BUF_INIT;
			long r = vcard_parse(samples[k], i, &list, &w);
			/* one card once END:VCARD is whole, else one skipped */
			assert_int_equal(list.count, i >= complete);
			assert_int_equal(r, i < complete && i >= 11);
			vcard_list_free(&list);
			buf_free(&w);
		}
	}
}

static void test_agent_and_unknown(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	struct buf w = BUF_INIT;
	PARSE("BEGIN:VCARD\nVERSION:2.1\nFN:Boss\nAGENT:\nBEGIN:VCARD\n"
	      "VERSION:2.1\nFN:Secretary\nEMAIL:sec@x\nEND:VCARD\n"
	      "EMAIL:boss@x\nX-UNKNOWN;FOO=\"a;b:c\":whatever\nEND:VCARD\n"
	      "BEGIN:VCARD\nVERSION:9.9\nFN:Future\nEND:VCARD\n", &list, 0, &w);
	assert_int_equal(list.count, 2);
	assert_str(list.cards[0].fn, "Boss");
	assert_int_equal(list.cards[0].nemails, 1);
	assert_str(list.cards[0].emails[0], "boss@x");
	assert_str(buf_cstr(&w), "line 14: unknown VERSION; read like 4.0\n");
	vcard_list_free(&list);
	buf_free(&w);
}

static void test_control_characters(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	static const char s[] = "BEGIN:VCARD\nFN:A\\nB\tC\x01\x7f" "D\\x\\\n"
	                        "NOTE:  x\\ny  \nEND:VCARD\n";
	parse(s, sizeof s - 1, &list, 0, NULL);
	assert_str(list.cards[0].fn, "A B CD\\x\\");
	assert_str(list.cards[0].note, "x\ny");
	vcard_list_free(&list);
	/* a NUL byte inside a value is dropped, not a truncation */
	static const char z[] = "BEGIN:VCARD\nFN:Nul\0l\nEND:VCARD\n";
	parse(z, sizeof z - 1, &list, 0, NULL);
	assert_str(list.cards[0].fn, "Null");
	vcard_list_free(&list);
}

/* ---- writing ---- */

static void test_write_40_and_30(void **state)
{
	(void)state;
	struct vcard_card c = {0};
	c.fn = "Li Lei";
	c.n[VCARD_N_FAMILY] = "Li";
	c.n[VCARD_N_GIVEN] = "Lei";
	c.nickname = "Lei,Leilei";
	char *emails[] = {"lilei@example.org", "lei@work.example"};
	c.emails = emails;
	c.nemails = 2;
	c.tel = "+86 10 1234";
	c.org = "Acme; Inc, Ltd";
	c.note = "line one\nline two\\";
	c.uid = "urn:uuid:00000000-0000-4000-8000-000000000000";
	struct buf out = BUF_INIT;
	assert_int_equal(vcard_write(&c, 4, &out), 0);
	assert_str(buf_cstr(&out),
	           "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Li Lei\r\nN:Li;Lei;;;\r\n"
	           "NICKNAME:Lei,Leilei\r\nEMAIL;PREF=1:lilei@example.org\r\n"
	           "EMAIL:lei@work.example\r\nTEL:+86 10 1234\r\n"
	           "ORG:Acme\\; Inc\\, Ltd\r\nNOTE:line one\\nline two\\\\\r\n"
	           "UID:urn:uuid:00000000-0000-4000-8000-000000000000\r\n"
	           "END:VCARD\r\n");
	buf_reset(&out);
	struct vcard_card bare = {0};
	char *one[] = {"x@y"};
	bare.emails = one;
	bare.nemails = 1;
	assert_int_equal(vcard_write(&bare, 3, &out), 0);
	assert_str(buf_cstr(&out),
	           "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:\r\nN:;;;;\r\n"
	           "EMAIL;TYPE=INTERNET,PREF:x@y\r\nEND:VCARD\r\n");
	assert_int_equal(vcard_write(&bare, 2, &out), -1);
	/* a limited buffer fails instead of overflowing */
	struct buf small;
	buf_init(&small, 20);
	assert_int_equal(vcard_write(&c, 4, &small), -1);
	buf_free(&small);
	buf_free(&out);
}

/* Writes c, checks every line is at most 75 octets and splits no UTF-8
 * character, parses it back and compares. */
static void round_trip(const struct vcard_card *c, int version)
{
	struct buf out = BUF_INIT;
	assert_int_equal(vcard_write(c, version, &out), 0);
	const char *s = buf_cstr(&out);
	for (const char *l = s; *l;) {
		const char *e = strstr(l, "\r\n");
		assert_non_null(e);
		assert_true(e - l <= 75);
		if (l != s && *l == ' ')
			assert_true(((unsigned char)l[1] & 0xC0) != 0x80);
		l = e + 2;
	}
	struct vcard_list list = {0};
	parse(out.data, out.len, &list, 0, NULL);
	assert_int_equal(list.count, 1);
	const struct vcard_card *r = &list.cards[0];
	assert_str(r->fn, c->fn);
	assert_str(r->note, c->note);
	assert_str(r->org, c->org);
	assert_str(r->nickname, c->nickname);
	assert_str(r->tel, c->tel);
	assert_str(r->uid, c->uid);
	for (int k = 0; k < VCARD_N_PARTS; k++)
		assert_str(r->n[k], c->n[k]);
	assert_int_equal(r->nemails, c->nemails);
	for (size_t i = 0; i < c->nemails; i++)
		assert_str(r->emails[i], c->emails[i]);
	vcard_list_free(&list);
	buf_free(&out);
}

static void test_fold_round_trip(void **state)
{
	(void)state;
	/* Chinese text across fold points at every alignment */
	char fn[400], note[900];
	for (size_t shift = 0; shift < 4; shift++) {
		struct vcard_card c = {0};
		size_t n = 0;
		for (size_t i = 0; i < shift; i++)
			fn[n++] = 'a';
		for (size_t i = 0; i < 60; i++)
			n += (size_t)sprintf(fn + n, "%s", i % 3 ? "李" : "雷");
		fn[n] = '\0';
		snprintf(note, sizeof note, "%s\n%s;,\\ 𝄞 end", fn, fn);
		c.fn = fn;
		c.note = note;
		c.org = "北京大学, 计算机系";
		char *emails[] = {"long.address.that.goes.on.and.on.for.quite"
		                  ".a.while@subdomain.example.org"};
		c.emails = emails;
		c.nemails = 1;
		round_trip(&c, 4);
		round_trip(&c, 3);
	}
}

static void test_escape_round_trip(void **state)
{
	(void)state;
	struct vcard_card c = {0};
	c.fn = "Doe, John; \"Jr.\" \\ back";
	c.n[VCARD_N_FAMILY] = "Doe;Smith";  /* ';' escaped inside a part */
	c.n[VCARD_N_GIVEN] = "John";
	c.nickname = "Jo;hnny";
	c.note = "a\nb,c;d\\e\\nf";
	c.tel = "+1;ext=2";
	c.uid = "uid,with;specials";
	char *emails[] = {"a,b@x", "c;d@y"};
	c.emails = emails;
	c.nemails = 2;
	round_trip(&c, 4);
	round_trip(&c, 3);
}

static void test_uid_generate(void **state)
{
	(void)state;
	char a[VCARD_UID_SIZE], b[VCARD_UID_SIZE];
	vcard_uid_generate(a);
	vcard_uid_generate(b);
	assert_int_equal(strlen(a), VCARD_UID_SIZE - 1);
	assert_memory_equal(a, "urn:uuid:", 9);
	assert_int_equal(a[9 + 8], '-');
	assert_int_equal(a[9 + 14], '4');
	assert_non_null(strchr("89ab", a[9 + 19]));
	assert_string_not_equal(a, b);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	(void)state;
	struct buf in = BUF_INIT, w = BUF_INIT;
	struct vcard_list list = {0};
	/* 101 addresses: 100 kept and one warning */
	assert_int_equal(buf_puts(&in, "BEGIN:VCARD\nFN:Many\n"), 0);
	for (int i = 0; i < 101; i++)
		assert_int_equal(buf_printf(&in, "EMAIL:a%d@x\n", i), 0);
	assert_int_equal(buf_puts(&in, "END:VCARD\n"), 0);
	parse(in.data, in.len, &list, 0, &w);
	assert_int_equal(list.cards[0].nemails, VCARD_MAX_EMAILS);
	assert_str(list.cards[0].emails[99], "a99@x");
	assert_str(buf_cstr(&w), "line 103: more than 100 e-mail addresses in "
	           "a card; the rest left out\n");
	vcard_list_free(&list);

	/* a card over 1 MiB is skipped, the next one kept */
	buf_reset(&in);
	buf_reset(&w);
	assert_int_equal(buf_puts(&in, "BEGIN:VCARD\nFN:Big\n"), 0);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(buf_puts(&in, "NOTE:0123456789012345678901234567"
		                          "8901234567890123456789\n"), 0);
	assert_int_equal(buf_puts(&in, "END:VCARD\nBEGIN:VCARD\nFN:Small\n"
	                          "END:VCARD\n"), 0);
	parse(in.data, in.len, &list, 1, &w);
	assert_int_equal(list.count, 1);
	assert_str(list.cards[0].fn, "Small");
	assert_non_null(strstr(buf_cstr(&w), "card larger than 1 MiB; card skipped"));
	vcard_list_free(&list);

	/* one folded line over 1 MiB, and the same outside a card */
	buf_reset(&in);
	assert_int_equal(buf_puts(&in, "BEGIN:VCARD\nFN:Long\nNOTE:"), 0);
	for (int i = 0; i < 30000; i++)
		assert_int_equal(buf_puts(&in, "01234567890123456789012345678901234"
		                          "\r\n "), 0);
	assert_int_equal(buf_puts(&in, "x\nEND:VCARD\n"), 0);
	struct buf copy = BUF_INIT;  /* the same line again, outside a card */
	assert_int_equal(buf_append(&copy, in.data + 20, in.len - 20), 0);
	assert_int_equal(buf_append(&in, copy.data, copy.len), 0);
	buf_free(&copy);
	assert_int_equal(buf_puts(&in, "BEGIN:VCARD\nFN:Ok\nEND:VCARD\n"), 0);
	parse(in.data, in.len, &list, 1, NULL);
	assert_int_equal(list.count, 1);
	assert_str(list.cards[0].fn, "Ok");
	vcard_list_free(&list);

	/* VCARD_MAX_CARDS cards, then the rest skipped */
	buf_reset(&in);
	buf_reset(&w);
	for (int i = 0; i < VCARD_MAX_CARDS + 2; i++)
		assert_int_equal(buf_printf(&in, "BEGIN:VCARD\nFN:%d\nEND:VCARD\n",
		                            i), 0);
	parse(in.data, in.len, &list, 2, &w);
	assert_int_equal(list.count, VCARD_MAX_CARDS);
	assert_str(list.cards[VCARD_MAX_CARDS - 1].fn, "99999");
	assert_str(buf_cstr(&w), "line 300001: more than 100000 cards; the "
	           "rest skipped\n");
	struct vcard_card extra = {0};
	assert_int_equal(vcard_list_add(&list, &extra), -1);
	vcard_list_free(&list);

	/* warnings stop at VCARD_MAX_WARNINGS lines plus a count */
	buf_reset(&in);
	buf_reset(&w);
	for (int i = 0; i < 150; i++)
		assert_int_equal(buf_puts(&in, "BEGIN:VCARD\nEND:VCARD\n"), 0);
	parse(in.data, in.len, &list, 150, &w);
	size_t lines = 0;
	for (size_t i = 0; i < w.len; i++)
		lines += w.data[i] == '\n';
	assert_int_equal(lines, VCARD_MAX_WARNINGS + 1);
	assert_non_null(strstr(buf_cstr(&w), "\n50 more warnings\n"));
	/* a full warnings buffer loses warnings, not cards */
	struct buf tiny;
	buf_init(&tiny, 10);
	PARSE("junk\nBEGIN:VCARD\nFN:A\nEND:VCARD\n", &list, 0, &tiny);
	assert_int_equal(tiny.len, 0);
	buf_free(&tiny);
	vcard_list_free(&list);
	buf_free(&in);
	buf_free(&w);
}

static void test_card_helpers(void **state)
{
	(void)state;
	struct vcard_list list = {0};
	struct vcard_card c = {0};
	assert_int_equal(vcard_set(&c.fn, "A"), 0);
	assert_int_equal(vcard_set(&c.fn, "B"), 0);
	assert_str(c.fn, "B");
	assert_int_equal(vcard_set(&c.org, NULL), 0);
	assert_int_equal(vcard_add_email(&c, "a@x"), 0);
	assert_int_equal(vcard_add_email(&c, "A@X"), 1);
	for (int i = 1; i < VCARD_MAX_EMAILS; i++) {
		char a[32];
		snprintf(a, sizeof a, "%d@x", i);
		assert_int_equal(vcard_add_email(&c, a), 0);
	}
	assert_int_equal(vcard_add_email(&c, "over@x"), -1);
	assert_int_equal(vcard_list_add(&list, &c), 0);
	assert_null(c.fn);
	assert_int_equal(vcard_set(&c.fn, "Second"), 0);
	assert_int_equal(vcard_list_add(&list, &c), 0);
	assert_int_equal(vcard_set(&c.fn, "Third"), 0);
	assert_int_equal(vcard_list_add(&list, &c), 0);
	vcard_list_remove(&list, 1);
	vcard_list_remove(&list, 7);
	assert_int_equal(list.count, 2);
	assert_str(list.cards[0].fn, "B");
	assert_str(list.cards[1].fn, "Third");
	vcard_list_free(&list);
	assert_int_equal(list.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v21_quoted_printable_gb2312),
		cmocka_unit_test(test_v21_latin1_and_unlabelled),
		cmocka_unit_test(test_v30_apple_google),
		cmocka_unit_test(test_v40_rfc6350),
		cmocka_unit_test(test_pref_order),
		cmocka_unit_test(test_name_fallback),
		cmocka_unit_test(test_damaged_card_in_middle),
		cmocka_unit_test(test_line_ends_bom_and_case),
		cmocka_unit_test(test_unfolding),
		cmocka_unit_test(test_qp_soft_breaks),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_agent_and_unknown),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_write_40_and_30),
		cmocka_unit_test(test_fold_round_trip),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_uid_generate),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_card_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
