/* msgbench: throughput of posthorn's message library measured in one run
 * next to its peers on the same bytes: MIME parsing against GMime 3, and
 * the base64/quoted-printable codecs against memcpy. Prints a table and
 * writes the figures as JSON. A benchmark, never a test: it prints, it
 * does not judge (beyond saying whether the project's aims were met). */
#include <errno.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/lib/buf.h"
#include "../src/msg/codec.h"
#include "../src/msg/message.h"
#include "gen.h"

#define MiB (1024.0 * 1024.0)
#define MB 1e6
#define MIN_BLOCK (32 * 1024) /* small messages repeat until a timed block
                               * holds at least this many bytes */
#define BLOCKS 2              /* timed blocks per message and variant */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The share of one CPU the process got over a phase: well under 1 means
 * other work on the machine took turns with ours and the figures are
 * noisy (the timings are wall-clock, as a reader's would be). */
struct cpu_share {
	double wall, cpu;
};

static void share_start(struct cpu_share *s)
{
	s->wall = now_ns();
	s->cpu = cpu_ns();
}

static void share_stop(struct cpu_share *s)
{
	s->wall = now_ns() - s->wall;
	s->cpu = cpu_ns() - s->cpu;
}

static double share_of(const struct cpu_share *s)
{
	return s->wall > 0 ? s->cpu / s->wall : 0;
}

static void print_share(const struct cpu_share *s)
{
	double f = share_of(s);
	printf("  CPU share over this phase: %.0f%%%s\n", 100 * f,
	       f < 0.9 ? " -- the machine was busy; these figures are noisy" : "");
}

/* The four ways one message is processed, timed separately. */
enum variant { PH_WALK, PH_DECODE, GM_WALK, GM_DECODE, NVARIANT };

/* Size classes of the mixed set, reported apart because small messages
 * measure per-message overhead and large ones measure body scanning. */
enum { SMALL, MEDIUM, LARGE, ALL, NCLASS };

static const char *const class_name[NCLASS] = {
	"2-32 KB", "32-256 KB", "256 KB-2 MB", "all",
};

/* What a walk saw; compared between the two parsers. */
struct counts {
	size_t parts;
	size_t leaves;
	size_t decoded; /* bytes of decoded leaf bodies */
};

struct timing {
	double ns;      /* timed nanoseconds */
	double bytes;   /* bytes parsed in that time (repeats included) */
	size_t messages;
};

struct options {
	size_t messages;
	size_t big;        /* decoded bytes of the big attachment */
	size_t codec;      /* bytes for the codec runs */
	uint64_t seed;
	const char *json;
	int quick;
	int posthorn;      /* run posthorn's variants */
	int gmime;         /* run GMime's variants */
	int mixed, big_run, codec_run;
};

struct mixed_result {
	struct timing t[NVARIANT][NCLASS];
	struct counts c[NVARIANT];
	size_t class_messages[NCLASS];
	size_t mismatches;        /* messages where the parsers' counts differ */
	size_t decode_mismatches; /* ... where decoded byte counts differ */
	double gen_seconds;
	struct gen_stats st;
	struct cpu_share share;
};

struct big_result {
	size_t len;
	double best_ns[NVARIANT];
	struct counts c[NVARIANT];
	struct cpu_share share;
};

enum { B64_ENC, B64_DEC, QP_ENC, QP_DEC, NCODEC };

static const char *const codec_name[NCODEC] = {
	"base64 encode", "base64 decode", "qp encode", "qp decode",
};

struct codec_result {
	size_t bytes[NCODEC];   /* input bytes of each operation */
	size_t out[NCODEC];     /* output bytes */
	double best_ns[NCODEC];
	double memcpy_ns[NCODEC];
	int roundtrip_ok[2];    /* base64, qp */
	struct cpu_share share;
};

static void die(const char *what)
{
	fprintf(stderr, "msgbench: %s\n", what);
	exit(1);
}

/* ---- posthorn ---- */

/* Parses data, walks every part and, when decode, decodes every leaf into
 * out (reused, so the buffer's growth is paid once per run). */
static void ph_run(const char *data, size_t len, int decode, struct buf *out,
                   struct counts *c)
{
	struct msg_message *m = msg_parse(data, len, NULL);
	if (!m)
		die("msg_parse: out of memory");
	for (const struct msg_part *p = m->root; p; p = msg_part_walk(p)) {
		c->parts++;
		if (p->child)
			continue;
		c->leaves++;
		if (decode) {
			buf_reset(out);
			if (msg_part_decode(m, p, out) < 0)
				die("msg_part_decode failed");
			c->decoded += out->len;
		}
	}
	msg_message_free(&m);
}

/* ---- GMime ---- */

struct gm_walk {
	struct counts *c;
	int decode;
	GMimeStream *null;
};

static void gm_visit(GMimeObject *parent, GMimeObject *part, gpointer data)
{
	struct gm_walk *w = data;
	(void)parent;
	w->c->parts++;
	if (GMIME_IS_MESSAGE_PART(part)) {
		GMimeMessage *inner = g_mime_message_part_get_message((GMimeMessagePart *)part);
		if (inner)
			g_mime_message_foreach(inner, gm_visit, w);
		return;
	}
	if (GMIME_IS_MULTIPART(part))
		return; /* g_mime_message_foreach descends into it */
	w->c->leaves++;
	if (w->decode && GMIME_IS_PART(part)) {
		GMimeDataWrapper *content = g_mime_part_get_content((GMimePart *)part);
		if (content) {
			GMimeStreamNull *null = (GMimeStreamNull *)w->null;
			size_t before = null->written;
			g_mime_data_wrapper_write_to_stream(content, w->null);
			w->c->decoded += null->written - before;
		}
	}
}

/* The same work as ph_run, done by GMime on the same bytes (arr is not
 * copied: the stream reads it in place). */
static void gm_run(GByteArray *arr, int decode, GMimeStream *null, struct counts *c)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	g_mime_stream_mem_set_byte_array(GMIME_STREAM_MEM(stream), arr);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (!m)
		die("g_mime_parser_construct_message failed");
	struct gm_walk w = {c, decode, null};
	g_mime_message_foreach(m, gm_visit, &w);
	g_object_unref(m);
}

/* ---- shared ---- */

struct runner {
	struct buf out;      /* posthorn's decode buffer */
	GMimeStream *null;   /* GMime's decode sink */
	GByteArray *arr;     /* the message, as both parsers see it */
};

static void run_variant(struct runner *r, enum variant v, struct counts *c)
{
	const char *data = (const char *)r->arr->data;
	size_t len = r->arr->len;
	switch (v) {
	case PH_WALK: ph_run(data, len, 0, &r->out, c); break;
	case PH_DECODE: ph_run(data, len, 1, &r->out, c); break;
	case GM_WALK: gm_run(r->arr, 0, r->null, c); break;
	case GM_DECODE: gm_run(r->arr, 1, r->null, c); break;
	default: break;
	}
}

static int variant_enabled(const struct options *o, int v)
{
	return v < GM_WALK ? o->posthorn : o->gmime;
}

static void load_message(struct runner *r, const struct gen_buf *msg)
{
	g_byte_array_set_size(r->arr, 0);
	g_byte_array_append(r->arr, (const guint8 *)msg->data, (guint)msg->len);
}

static int size_class(size_t len)
{
	return len < 32 * 1024 ? SMALL : len < 256 * 1024 ? MEDIUM : LARGE;
}

/* Counts from one message differing between the parsers. */
static void compare_counts(const struct counts *ph, const struct counts *gm,
                           int decode, struct mixed_result *res)
{
	if (decode) {
		if (ph->decoded != gm->decoded)
			res->decode_mismatches++;
	} else if (ph->parts != gm->parts || ph->leaves != gm->leaves) {
		res->mismatches++;
	}
}

/* ---- the mixed set ---- */

static void bench_mixed(const struct options *o, struct runner *r,
                        struct mixed_result *res)
{
	struct gen g;
	gen_init(&g, o->seed);
	for (size_t i = 0; i < o->messages; i++) {
		double t0 = now_ns();
		gen_message(&g, gen_mixed_size(&g));
		load_message(r, &g.out);
		res->gen_seconds += (now_ns() - t0) / 1e9;
		size_t len = r->arr->len;
		size_t reps = len >= MIN_BLOCK ? 1 : (MIN_BLOCK + len - 1) / len;
		int cls = size_class(len);
		res->class_messages[cls]++;
		res->class_messages[ALL]++;
		struct counts seen[NVARIANT] = {{0}};
		/* Rotate which variant goes first so none always finds the
		 * message fresh in cache from the generator. */
		for (int k = 0; k < NVARIANT; k++) {
			int v = (int)((i + (size_t)k) % NVARIANT);
			if (!variant_enabled(o, v))
				continue;
			/* Two timed blocks, the faster counts: on a small shared
			 * machine one preemption would otherwise swamp a block of
			 * a few hundred microseconds. */
			double ns = 0;
			for (int b = 0; b < BLOCKS; b++) {
				struct counts c = {0};
				double start = now_ns();
				for (size_t j = 0; j < reps; j++)
					run_variant(r, (enum variant)v, j || b ? &c : &seen[v]);
				double t = now_ns() - start;
				if (b == 0 || t < ns)
					ns = t;
			}
			for (int cl = 0; cl < NCLASS; cl++) {
				if (cl != cls && cl != ALL)
					continue;
				res->t[v][cl].ns += ns;
				res->t[v][cl].bytes += (double)len * (double)reps;
				res->t[v][cl].messages += reps;
			}
			res->c[v].parts += seen[v].parts;
			res->c[v].leaves += seen[v].leaves;
			res->c[v].decoded += seen[v].decoded;
		}
		if (o->posthorn && o->gmime) {
			compare_counts(&seen[PH_WALK], &seen[GM_WALK], 0, res);
			compare_counts(&seen[PH_DECODE], &seen[GM_DECODE], 1, res);
		}
		if (!o->quick && (i + 1) % 1000 == 0)
			fprintf(stderr, "msgbench: %zu/%zu messages\r", i + 1, o->messages);
	}
	if (!o->quick)
		fputc('\n', stderr);
	res->st = g.st;
	gen_free(&g);
}

/* ---- one big message ---- */

static void bench_big(const struct options *o, struct runner *r, struct big_result *res)
{
	struct gen g;
	gen_init(&g, o->seed ^ 0xb16);
	gen_big_message(&g, o->big);
	load_message(r, &g.out);
	gen_free(&g);
	res->len = r->arr->len;
	for (int v = 0; v < NVARIANT; v++) {
		res->best_ns[v] = 0;
		if (!variant_enabled(o, v))
			continue;
		for (int k = 0; k < 3; k++) {
			struct counts c = {0};
			double start = now_ns();
			run_variant(r, (enum variant)v, &c);
			double ns = now_ns() - start;
			if (k == 0 || ns < res->best_ns[v])
				res->best_ns[v] = ns;
			res->c[v] = c;
		}
	}
}

/* ---- codecs ---- */

/* Allocates n bytes and touches every page, so page faults stay out of
 * the timed loops. */
static void *alloc_faulted(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	memset(p, 0x5a, n);
	return p;
}

static void buf_prefault(struct buf *b, size_t n)
{
	if (buf_reserve(b, n) < 0)
		die("out of memory");
	memset(b->data, 0x5a, b->cap);
}

/* One timed memcpy(dst, src, n). */
static double time_memcpy(void *dst, const void *src, size_t n)
{
	double start = now_ns();
	memcpy(dst, src, n);
	__asm__ volatile("" : : "r"(dst) : "memory");
	return now_ns() - start;
}

#define CODEC_REPS 5

static void bench_codec(const struct options *o, struct codec_result *res)
{
	struct gen g;
	gen_init(&g, o->seed ^ 0xc0dec);
	size_t n = o->codec;
	unsigned char *raw = alloc_faulted(n);
	gen_random_bytes(&g, raw, n);
	struct gen_buf text = {0};
	gen_text_8bit(&g, n, &text);
	gen_free(&g);

	struct buf enc = BUF_INIT, qenc = BUF_INIT, qdec = BUF_INIT;
	buf_prefault(&enc, n / 57 * 78 + 160);
	buf_prefault(&qenc, text.len * 2);
	buf_prefault(&qdec, text.len + 64);
	unsigned char *dec = alloc_faulted(MSG_BASE64_DECODED_MAX(enc.cap));
	unsigned char *copy = alloc_faulted(enc.cap > qenc.cap ? enc.cap : qenc.cap);
	size_t dec_len = 0;

	res->bytes[B64_ENC] = n;
	res->bytes[QP_ENC] = text.len;
	/* Each codec run follows a memcpy of its input byte count, so both
	 * see the machine in the same state; the best of CODEC_REPS counts. */
	for (int k = 0; k < CODEC_REPS; k++) {
		double t[NCODEC], m[NCODEC];
		m[B64_ENC] = time_memcpy(copy, raw, n);
		double start = now_ns();
		buf_reset(&enc);
		if (msg_base64_encode(raw, n, 76, &enc) < 0)
			die("msg_base64_encode failed");
		t[B64_ENC] = now_ns() - start;

		res->bytes[B64_DEC] = enc.len;
		m[B64_DEC] = time_memcpy(copy, enc.data, enc.len);
		start = now_ns();
		dec_len = msg_base64_decode_raw(enc.data, enc.len, dec, NULL);
		t[B64_DEC] = now_ns() - start;

		m[QP_ENC] = time_memcpy(copy, text.data, text.len);
		start = now_ns();
		buf_reset(&qenc);
		if (msg_qp_encode(text.data, text.len, 0, &qenc) < 0)
			die("msg_qp_encode failed");
		t[QP_ENC] = now_ns() - start;

		res->bytes[QP_DEC] = qenc.len;
		m[QP_DEC] = time_memcpy(copy, qenc.data, qenc.len);
		start = now_ns();
		buf_reset(&qdec);
		if (msg_qp_decode(qenc.data, qenc.len, &qdec) < 0)
			die("msg_qp_decode failed");
		t[QP_DEC] = now_ns() - start;

		for (int c = 0; c < NCODEC; c++) {
			if (k == 0 || t[c] < res->best_ns[c])
				res->best_ns[c] = t[c];
			if (k == 0 || m[c] < res->memcpy_ns[c])
				res->memcpy_ns[c] = m[c];
		}
	}
	res->out[B64_ENC] = enc.len;
	res->out[B64_DEC] = dec_len;
	res->out[QP_ENC] = qenc.len;
	res->out[QP_DEC] = qdec.len;
	res->roundtrip_ok[0] = dec_len == n && memcmp(dec, raw, n) == 0;
	res->roundtrip_ok[1] = qdec.len == text.len && memcmp(qdec.data, text.data, text.len) == 0;

	free(raw);
	free(dec);
	free(copy);
	gen_buf_free(&text);
	buf_free(&enc);
	buf_free(&qenc);
	buf_free(&qdec);
}

/* ---- report ---- */

static double rate(const struct timing *t)
{
	return t->ns > 0 ? t->bytes / MB / (t->ns / 1e9) : 0;
}

static double ratio(double a, double b)
{
	return a > 0 && b > 0 ? a / b : 0;
}

static double gbps(size_t bytes, double ns)
{
	return ns > 0 ? (double)bytes / ns : 0; /* bytes per ns = GB/s */
}

static void print_ratio(double r)
{
	if (r > 0)
		printf("  %8.2fx", r);
	else
		printf("  %9s", "-");
}

static void print_mixed(const struct options *o, const struct mixed_result *res)
{
	printf("\nMIME parse, mixed set: %zu messages, %.1f MB (seed %llu), %.1f s to generate\n",
	       res->st.messages, (double)res->st.bytes / MB, (unsigned long long)o->seed,
	       res->gen_seconds);
	printf("  %zu parts (%zu multipart, %zu message/rfc822), deepest part %d;"
	       " %zu base64, %zu QP, %zu UTF-8 and %zu GB2312 text leaves;\n"
	       "  %zu RFC 2047 words; %zu messages with bare LF line ends."
	       "\n  Messages under %d KB repeat to fill %d KB per timed block;"
	       " best of %d blocks per message.\n",
	       res->st.parts, res->st.multiparts, res->st.rfc822, res->st.max_depth,
	       res->st.base64_parts, res->st.qp_parts, res->st.utf8_parts,
	       res->st.gb2312_parts, res->st.encoded_words, res->st.lf_messages,
	       MIN_BLOCK / 1024, MIN_BLOCK / 1024, BLOCKS);
	printf("\n  %-14s %-12s %6s %12s %12s %12s\n", "", "size", "msgs",
	       "posthorn", "GMime", "ph/GMime");
	for (int d = 0; d < 2; d++) {
		int ph = d ? PH_DECODE : PH_WALK, gm = d ? GM_DECODE : GM_WALK;
		for (int cl = 0; cl < NCLASS; cl++) {
			double a = rate(&res->t[ph][cl]), b = rate(&res->t[gm][cl]);
			printf("  %-14s %-12s %6zu %7.1f MB/s %7.1f MB/s",
			       cl == 0 ? (d ? "parse+decode" : "parse+walk") : "",
			       class_name[cl], res->class_messages[cl], a, b);
			print_ratio(ratio(a, b));
			putchar('\n');
		}
	}
	const struct timing *s = res->t[PH_WALK];
	const struct timing *gs = res->t[GM_WALK];
	if (s[SMALL].ns > 0 && gs[SMALL].ns > 0)
		printf("  small messages per second: posthorn %.0f, GMime %.0f\n",
		       (double)s[SMALL].messages / (s[SMALL].ns / 1e9),
		       (double)gs[SMALL].messages / (gs[SMALL].ns / 1e9));
	if (o->posthorn && o->gmime) {
		printf("  cross-check: parts %zu/%zu, leaves %zu/%zu, decoded %.1f/%.1f MB"
		       " (posthorn/GMime);\n  %zu messages with differing part counts,"
		       " %zu with differing decoded sizes\n",
		       res->c[PH_WALK].parts, res->c[GM_WALK].parts,
		       res->c[PH_WALK].leaves, res->c[GM_WALK].leaves,
		       (double)res->c[PH_DECODE].decoded / MB,
		       (double)res->c[GM_DECODE].decoded / MB,
		       res->mismatches, res->decode_mismatches);
	}
}

static void print_big(const struct options *o, const struct big_result *res)
{
	printf("\nMIME parse, one message with a %.0f MiB base64 attachment"
	       " (%.1f MB message), best of 3\n", (double)o->big / MiB,
	       (double)res->len / MB);
	for (int d = 0; d < 2; d++) {
		int ph = d ? PH_DECODE : PH_WALK, gm = d ? GM_DECODE : GM_WALK;
		double a = res->best_ns[ph] > 0 ? (double)res->len / MB / (res->best_ns[ph] / 1e9) : 0;
		double b = res->best_ns[gm] > 0 ? (double)res->len / MB / (res->best_ns[gm] / 1e9) : 0;
		printf("  %-14s %-12s %6s %7.1f MB/s %7.1f MB/s", d ? "parse+decode" : "parse+walk",
		       "", "1", a, b);
		print_ratio(ratio(a, b));
		putchar('\n');
	}
}

static void print_codec(const struct options *o, const struct codec_result *res)
{
	printf("\nCodecs, %.0f MiB input, best of %d (GB/s of input bytes;"
	       " memcpy of the same bytes)\n", (double)o->codec / MiB, CODEC_REPS);
	printf("  %-16s %10s %10s %12s %12s\n", "", "MB in", "GB/s", "memcpy GB/s",
	       "memcpy/codec");
	for (int c = 0; c < NCODEC; c++) {
		double a = gbps(res->bytes[c], res->best_ns[c]);
		double m = gbps(res->bytes[c], res->memcpy_ns[c]);
		printf("  %-16s %10.1f %10.3f %12.2f %11.1fx\n", codec_name[c],
		       (double)res->bytes[c] / MB, a, m, ratio(m, a));
	}
	if (!res->roundtrip_ok[0] || !res->roundtrip_ok[1])
		printf("  WARNING: round trip failed:%s%s\n",
		       res->roundtrip_ok[0] ? "" : " base64", res->roundtrip_ok[1] ? "" : " qp");
}

static void json_timing(FILE *f, const char *name, const struct timing *t, int last)
{
	fprintf(f, "\"%s\": {\"mbps\": %.2f, \"runs\": %zu, \"bytes\": %.0f, \"seconds\": %.4f}%s",
	        name, rate(t), t->messages, t->bytes, t->ns / 1e9, last ? "" : ", ");
}

static void write_json(const struct options *o, const struct mixed_result *mx,
                       const struct big_result *big, const struct codec_result *cd)
{
	FILE *f = fopen(o->json, "w");
	if (!f) {
		fprintf(stderr, "msgbench: %s: %s\n", o->json, strerror(errno));
		return;
	}
	static const char *const key[NVARIANT] = {
		"posthorn_walk", "posthorn_decode", "gmime_walk", "gmime_decode",
	};
	static const char *const class_key[NCLASS] = {"small", "medium", "large", "all"};
	fprintf(f, "{\n  \"benchmark\": \"msg\", \"quick\": %s, \"seed\": %llu,\n",
	        o->quick ? "true" : "false", (unsigned long long)o->seed);
	fprintf(f, "  \"gmime_version\": \"%u.%u.%u\",\n", gmime_major_version,
	        gmime_minor_version, gmime_micro_version);
	if (o->mixed) {
		fprintf(f, "  \"mixed\": {\n    \"messages\": %zu, \"bytes\": %zu, \"parts\": %zu,"
		        " \"min_block\": %d,\n", mx->st.messages, mx->st.bytes, mx->st.parts,
		        MIN_BLOCK);
		for (int v = 0; v < NVARIANT; v++) {
			fprintf(f, "    \"%s\": {", key[v]);
			for (int cl = 0; cl < NCLASS; cl++)
				json_timing(f, class_key[cl], &mx->t[v][cl], cl == NCLASS - 1);
			fprintf(f, ", \"parts\": %zu, \"leaves\": %zu, \"decoded\": %zu},\n",
			        mx->c[v].parts, mx->c[v].leaves, mx->c[v].decoded);
		}
		fprintf(f, "    \"ratio_walk\": %.3f, \"ratio_decode\": %.3f,\n",
		        ratio(rate(&mx->t[PH_WALK][ALL]), rate(&mx->t[GM_WALK][ALL])),
		        ratio(rate(&mx->t[PH_DECODE][ALL]), rate(&mx->t[GM_DECODE][ALL])));
		fprintf(f, "    \"count_mismatches\": %zu, \"decode_mismatches\": %zu,"
		        " \"cpu_share\": %.3f\n  },\n",
		        mx->mismatches, mx->decode_mismatches, share_of(&mx->share));
	}
	if (o->big_run) {
		fprintf(f, "  \"big\": {\"attachment\": %zu, \"bytes\": %zu", o->big, big->len);
		double mb[NVARIANT];
		for (int v = 0; v < NVARIANT; v++) {
			mb[v] = big->best_ns[v] > 0 ? (double)big->len / MB / (big->best_ns[v] / 1e9) : 0;
			fprintf(f, ", \"%s_mbps\": %.2f", key[v], mb[v]);
		}
		fprintf(f, ", \"ratio_walk\": %.3f, \"ratio_decode\": %.3f, \"cpu_share\": %.3f},\n",
		        ratio(mb[PH_WALK], mb[GM_WALK]), ratio(mb[PH_DECODE], mb[GM_DECODE]),
		        share_of(&big->share));
	}
	if (o->codec_run) {
		static const char *const ckey[NCODEC] = {
			"base64_encode", "base64_decode", "qp_encode", "qp_decode",
		};
		fprintf(f, "  \"codec\": {");
		for (int c = 0; c < NCODEC; c++) {
			double a = gbps(cd->bytes[c], cd->best_ns[c]);
			double m = gbps(cd->bytes[c], cd->memcpy_ns[c]);
			fprintf(f, "%s\n    \"%s\": {\"bytes\": %zu, \"gbps\": %.3f,"
			        " \"out_bytes\": %zu, \"memcpy_gbps\": %.3f, \"memcpy_ratio\": %.2f}",
			        c ? "," : "", ckey[c], cd->bytes[c], a, cd->out[c], m, ratio(m, a));
		}
		fprintf(f, ",\n    \"roundtrip_ok\": %s, \"cpu_share\": %.3f\n  },\n",
		        cd->roundtrip_ok[0] && cd->roundtrip_ok[1] ? "true" : "false",
		        share_of(&cd->share));
	}
	double pr = ratio(rate(&mx->t[PH_WALK][ALL]), rate(&mx->t[GM_WALK][ALL]));
	double dr = ratio(gbps(cd->bytes[B64_DEC], cd->memcpy_ns[B64_DEC]),
	                  gbps(cd->bytes[B64_DEC], cd->best_ns[B64_DEC]));
	fprintf(f, "  \"aims\": {\"parse_vs_gmime\": %.3f, \"parse_aim\": 2.0,"
	        " \"base64_decode_vs_memcpy\": %.2f, \"base64_decode_aim\": 3.0}\n}\n",
	        pr, dr);
	if (fclose(f) != 0)
		fprintf(stderr, "msgbench: %s: %s\n", o->json, strerror(errno));
}

static void print_aims(const struct options *o, const struct mixed_result *mx,
                       const struct codec_result *cd)
{
	printf("\nAims\n");
	if (o->mixed && o->posthorn && o->gmime) {
		double r = ratio(rate(&mx->t[PH_WALK][ALL]), rate(&mx->t[GM_WALK][ALL]));
		printf("  parse at least 2x GMime (mixed set, parse+walk): %.2fx  %s\n", r,
		       r >= 2.0 ? "met" : "NOT met");
	}
	if (o->codec_run) {
		double r = ratio(gbps(cd->bytes[B64_DEC], cd->memcpy_ns[B64_DEC]),
		                 gbps(cd->bytes[B64_DEC], cd->best_ns[B64_DEC]));
		printf("  base64 decode within 3x of memcpy: %.1fx  %s\n", r,
		       r <= 3.0 ? "met" : "NOT met");
	}
}

static void usage(void)
{
	fputs("usage: msgbench [--quick] [--json FILE] [--messages N] [--seed N]\n"
	      "                [--only posthorn|gmime] [--no-mixed] [--no-big] [--no-codec]\n",
	      stderr);
	exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	*o = (struct options){
		.messages = 10000, .big = 50 * 1024 * 1024, .codec = 64 * 1024 * 1024,
		.seed = 20240501, .posthorn = 1, .gmime = 1,
		.mixed = 1, .big_run = 1, .codec_run = 1,
	};
	size_t messages = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick")) {
			o->quick = 1;
		} else if (!strcmp(a, "--json") && next) {
			o->json = next;
			i++;
		} else if (!strcmp(a, "--messages") && next) {
			messages = strtoul(next, NULL, 10);
			i++;
		} else if (!strcmp(a, "--seed") && next) {
			o->seed = strtoull(next, NULL, 10);
			i++;
		} else if (!strcmp(a, "--only") && next) {
			o->posthorn = !strcmp(next, "posthorn");
			o->gmime = !strcmp(next, "gmime");
			if (!o->posthorn && !o->gmime)
				usage();
			i++;
		} else if (!strcmp(a, "--no-mixed")) {
			o->mixed = 0;
		} else if (!strcmp(a, "--no-big")) {
			o->big_run = 0;
		} else if (!strcmp(a, "--no-codec")) {
			o->codec_run = 0;
		} else {
			usage();
		}
	}
	if (o->quick) {
		o->messages = 200;
		o->big = 8 * 1024 * 1024;
		o->codec = 8 * 1024 * 1024;
	}
	if (messages)
		o->messages = messages;
}

int main(int argc, char **argv)
{
	struct options o;
	parse_options(argc, argv, &o);
	g_mime_init();

	struct runner r = {BUF_INIT, g_mime_stream_null_new(), g_byte_array_new()};
	g_mime_stream_null_set_count_newlines(GMIME_STREAM_NULL(r.null), FALSE);
	static struct mixed_result mx;
	static struct big_result big;
	static struct codec_result cd;

	printf("posthorn msg library vs GMime %u.%u.%u%s\n", gmime_major_version,
	       gmime_minor_version, gmime_micro_version, o.quick ? " (--quick)" : "");
	fflush(stdout);
	if (o.mixed) {
		share_start(&mx.share);
		bench_mixed(&o, &r, &mx);
		share_stop(&mx.share);
		print_mixed(&o, &mx);
		print_share(&mx.share);
		fflush(stdout);
	}
	if (o.big_run) {
		share_start(&big.share);
		bench_big(&o, &r, &big);
		share_stop(&big.share);
		print_big(&o, &big);
		print_share(&big.share);
		fflush(stdout);
	}
	if (o.codec_run && o.posthorn) {
		share_start(&cd.share);
		bench_codec(&o, &cd);
		share_stop(&cd.share);
		print_codec(&o, &cd);
		print_share(&cd.share);
	} else {
		o.codec_run = 0;
	}
	print_aims(&o, &mx, &cd);
	if (o.json) {
		write_json(&o, &mx, &big, &cd);
		printf("\nJSON: %s\n", o.json);
	}

	buf_free(&r.out);
	g_object_unref(r.null);
	g_byte_array_free(r.arr, TRUE);
	g_mime_shutdown();
	return 0;
}
