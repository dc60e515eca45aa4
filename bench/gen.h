/* gen: deterministic synthetic mail for bench/msgbench. Messages look like
 * what a mailbox holds (Received chains, DKIM, folded headers with RFC 2047
 * words, nested mixed/alternative/related multiparts, forwarded messages,
 * base64 and quoted-printable bodies, UTF-8 and GB2312 text) and come from
 * one seeded PRNG, so the same seed gives the same bytes on every run. */
#ifndef POSTHORN_BENCH_GEN_H
#define POSTHORN_BENCH_GEN_H

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer of the generator's own, so the test data does not
 * depend on the code under test. Out of memory exits the program. */
struct gen_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for n more bytes. */
void gen_buf_reserve(struct gen_buf *b, size_t n);
void gen_buf_free(struct gen_buf *b);

/* What the generator has produced so far, for the benchmark's report. */
struct gen_stats {
	size_t messages;
	size_t bytes;
	size_t parts;          /* every entity, multiparts and message/rfc822 too */
	size_t multiparts;
	size_t rfc822;         /* embedded message/rfc822 parts */
	size_t base64_parts;
	size_t qp_parts;
	size_t utf8_parts;     /* text leaves by charset */
	size_t gb2312_parts;
	size_t encoded_words;  /* RFC 2047 words written in headers */
	size_t lf_messages;    /* messages written with bare LF line ends */
	int max_depth;         /* deepest part (the root is 0) */
};

struct gen {
	uint64_t s[4];         /* xoshiro256** state */
	const char *eol;       /* "\r\n", or "\n" for some messages */
	size_t eol_len;
	unsigned long serial;  /* makes boundaries and ids unique */
	struct gen_buf out;    /* the message written by the last call */
	struct gen_buf raw;    /* scratch: a leaf's content before encoding */
	struct gen_buf word;   /* scratch: a header phrase before encoding */
	struct gen_stats st;
};

/* Seeds g; nothing is allocated until the first message. */
void gen_init(struct gen *g, uint64_t seed);

/* Frees g's buffers. */
void gen_free(struct gen *g);

/* The next 64 random bits. */
uint64_t gen_rand(struct gen *g);

/* Fills p[0..n) with random bytes. */
void gen_random_bytes(struct gen *g, void *p, size_t n);

/* The size of the next message of the mixed set: 2 KB to 2 MB, log-skewed
 * toward small (median about 5.5 KB, mean about 120 KB). */
size_t gen_mixed_size(struct gen *g);

/* Replaces g->out with a message of about target bytes (at least ~2 KB). */
void gen_message(struct gen *g, size_t target);

/* Replaces g->out with a short text message carrying one base64 attachment
 * of attachment decoded bytes. CRLF line ends. */
void gen_big_message(struct gen *g, size_t attachment);

/* Appends about n bytes of mostly-ASCII text with CRLF line ends, about 3%
 * of it 8-bit (UTF-8 words), to out: input for quoted-printable. */
void gen_text_8bit(struct gen *g, size_t n, struct gen_buf *out);

#endif
