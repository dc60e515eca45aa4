/* pop3load: one POP3 client session as fast as the server allows, for
 * bench/pop3bench.py.
 *
 * Connects (plain TCP, no TLS), reads the greeting, logs in with USER/PASS,
 * asks STAT and LIST, then RETRieves messages 1..N with up to W RETR
 * commands outstanding (RFC 2449 PIPELINING), parses every multi-line
 * response to its terminating CRLF.CRLF, undoes the dot-stuffing while
 * counting, checks each message's octets against LIST and the count against
 * STAT, and QUITs (no DELE: the mailbox is left as it was). Prints one JSON
 * line on stdout:
 *
 *   {"ok":true,"messages":N,"bytes":B,"wire_bytes":W,"stat_octets":S,
 *    "window":W,"login_s":..,"list_s":..,"retr_s":..,"quit_s":..,
 *    "elapsed_s":..,"client_cpu_s":..,"content_checked":false}
 *
 * bytes are message octets as LIST counts them (after removing the
 * stuffed dots, CRLF line ends); wire_bytes everything the server sent.
 * elapsed_s runs from connect() to the +OK of QUIT; login_s from connect()
 * to the +OK of PASS; list_s from LIST sent to its final dot; retr_s from
 * the first RETR sent to the last response's end; quit_s from there to the
 * +OK of QUIT (the server's UPDATE). On any failure: {"ok":false,"error":"...",...} and exit 1.
 *
 * With -C SUM it also checks the content: the CRC-32 (zlib's) of every
 * message's octets, summed over the messages as a 64-bit number (so the
 * order the server numbers them in does not matter), must be SUM. This
 * costs the client a few cycles per byte; pop3bench.py uses it for the
 * untimed warm-up sessions only.
 *
 * Usage: pop3load -p PORT [-H ADDR] [-u USER] [-P PASS] [-w WINDOW]
 *                 [-n EXPECT_MESSAGES] [-b EXPECT_BYTES] [-C CRC_SUM]
 *                 [-t TIMEOUT_S]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  /* MSG_NOSIGNAL, SOCK_CLOEXEC */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE (1u << 20)  /* receive buffer */
#define LINE_MAX_LEN 4096     /* longest status or LIST line accepted */
#define WINDOW_MAX 1024

static int fd = -1;
static char rbuf[RBUF_SIZE];
static size_t rstart, rend;   /* unparsed bytes are rbuf[rstart..rend) */
static uint64_t wire_bytes;
static double t_connect;

/* What was done so far, for the error report. */
static unsigned long n_done, n_expected;
static uint64_t bytes_done;

/* ---- CRC-32 (the zlib/PNG one: reflected 0xEDB88320) */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* Running form: start with 0xFFFFFFFF, xor the result with it at the end. */
static uint32_t crc_update(uint32_t c, const unsigned char *p, size_t n)
{
	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Prints the failure as JSON (the message's quotes and backslashes and
 * control characters replaced) and exits 1. */
__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '?';
	printf("{\"ok\":false,\"error\":\"%s\",\"messages\":%lu,"
	       "\"expected_messages\":%lu,\"bytes\":%llu,\"wire_bytes\":%llu,"
	       "\"elapsed_s\":%.6f}\n",
	       msg, n_done, n_expected, (unsigned long long)bytes_done,
	       (unsigned long long)wire_bytes,
	       t_connect > 0 ? now() - t_connect : 0.0);
	fflush(stdout);
	exit(1);
}

static void send_all(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fail("send: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Reads more into rbuf; fails on EOF, error or timeout. */
static void fill(const char *what)
{
	if (rstart == rend) {
		rstart = rend = 0;
	} else if (rend == sizeof rbuf) {
		if (rstart == 0)
			fail("%s: line longer than %u bytes", what, RBUF_SIZE);
		memmove(rbuf, rbuf + rstart, rend - rstart);
		rend -= rstart;
		rstart = 0;
	}
	for (;;) {
		ssize_t n = recv(fd, rbuf + rend, sizeof rbuf - rend, 0);
		if (n > 0) {
			rend += (size_t)n;
			wire_bytes += (uint64_t)n;
			return;
		}
		if (n == 0)
			fail("%s: the server closed the connection", what);
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fail("%s: timeout waiting for the server", what);
		fail("%s: recv: %s", what, strerror(errno));
	}
}

/* One CRLF (or LF) terminated line into line (NUL-terminated, line end
 * removed). */
static void read_line(char *line, size_t size, const char *what)
{
	for (;;) {
		char *nl = memchr(rbuf + rstart, '\n', rend - rstart);
		if (nl) {
			size_t len = (size_t)(nl - (rbuf + rstart));
			if (len > 0 && rbuf[rstart + len - 1] == '\r')
				len--;
			if (len >= size)
				fail("%s: reply line of %zu bytes", what, len);
			memcpy(line, rbuf + rstart, len);
			line[len] = '\0';
			rstart = (size_t)(nl - rbuf) + 1;
			return;
		}
		if (rend - rstart > LINE_MAX_LEN)
			fail("%s: reply line longer than %d bytes", what, LINE_MAX_LEN);
		fill(what);
	}
}

static void expect_ok(const char *what)
{
	char line[LINE_MAX_LEN + 1];
	read_line(line, sizeof line, what);
	if (strncmp(line, "+OK", 3) != 0)
		fail("%s: %.200s", what, line);
}

static void command(const char *cmd, const char *what)
{
	char out[600];
	int n = snprintf(out, sizeof out, "%s\r\n", cmd);
	if (n < 0 || (size_t)n >= sizeof out)
		fail("%s: command too long", what);
	send_all(out, (size_t)n);
	expect_ok(what);
}

/* ---- RETR responses, parsed as they stream in */

enum rstate { R_STATUS, R_BOL, R_MID };

struct retr {
	enum rstate st;
	uint64_t msg_bytes;   /* octets of the current message so far */
	int check;            /* compute crc */
	uint32_t crc;         /* running CRC-32 of the current message */
};

/* Consumes what it can of rbuf. Returns 1 when a whole response has been
 * read (its octets in r->msg_bytes, *is_err set for -ERR), 0 when more
 * input is needed. */
static int retr_parse(struct retr *r, int *is_err, char *errline, size_t errsize)
{
	for (;;) {
		char *p = rbuf + rstart;
		size_t avail = rend - rstart;
		if (avail == 0)
			return 0;
		switch (r->st) {
		case R_STATUS: {
			char *nl = memchr(p, '\n', avail);
			if (!nl) {
				if (avail > LINE_MAX_LEN)
					fail("RETR: status line longer than %d bytes",
					     LINE_MAX_LEN);
				return 0;
			}
			size_t len = (size_t)(nl - p) + 1;
			if (len >= 3 && memcmp(p, "+OK", 3) == 0) {
				r->st = R_BOL;
				r->msg_bytes = 0;
				r->crc = 0xFFFFFFFFu;
				rstart += len;
				break;
			}
			size_t n = len < errsize ? len : errsize - 1;
			memcpy(errline, p, n);
			errline[n] = '\0';
			rstart += len;
			*is_err = 1;
			return 1;
		}
		case R_BOL:
			if (p[0] == '.') {
				if (avail < 3 && memcmp(p, ".\r\n", avail) == 0)
					return 0;   /* maybe the end: wait */
				if (avail >= 3 && memcmp(p, ".\r\n", 3) == 0) {
					rstart += 3;
					r->st = R_STATUS;
					*is_err = 0;
					return 1;
				}
				rstart++;           /* a stuffed dot */
			}
			r->st = R_MID;
			break;
		case R_MID: {
			char *nl = memchr(p, '\n', avail);
			size_t len = nl ? (size_t)(nl - p) + 1 : avail;
			r->msg_bytes += len;
			if (r->check)
				r->crc = crc_update(r->crc, (const unsigned char *)p, len);
			rstart += len;
			if (nl)
				r->st = R_BOL;
			break;
		}
		}
	}
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: pop3load -p PORT [-H ADDR] [-u USER] [-P PASS] [-w WINDOW]\n"
	        "                [-n EXPECT_MESSAGES] [-b EXPECT_BYTES] [-C CRC_SUM]\n"
	        "                [-t TIMEOUT_S]\n"
	        "  One POP3 session: USER/PASS, STAT, LIST, RETR 1..N pipelined with\n"
	        "  WINDOW (16) commands outstanding, QUIT without DELE. Prints one\n"
	        "  JSON line; exit status 1 when anything failed or did not match.\n");
	exit(64);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *user = "bench", *pass = "bench-password";
	long port = 0, window = 16, timeout = 120;
	long long expect_msgs = -1, expect_bytes = -1;
	unsigned long long expect_crc = 0;
	int check = 0;
	int opt;

	while ((opt = getopt(argc, argv, "H:p:u:P:w:n:b:C:t:h")) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'p': port = strtol(optarg, NULL, 10); break;
		case 'u': user = optarg; break;
		case 'P': pass = optarg; break;
		case 'w': window = strtol(optarg, NULL, 10); break;
		case 'n': expect_msgs = strtoll(optarg, NULL, 10); break;
		case 'b': expect_bytes = strtoll(optarg, NULL, 10); break;
		case 'C': expect_crc = strtoull(optarg, NULL, 10); check = 1; break;
		case 't': timeout = strtol(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (optind != argc || port <= 0 || port > 65535 || window < 1 ||
	    window > WINDOW_MAX || timeout < 1 || strlen(user) > 200 ||
	    strlen(pass) > 200)
		usage();

	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		fail("bad address %s", host);

	double cpu0 = cpu_seconds();
	t_connect = now();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = { .tv_sec = timeout, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("connect %s:%ld: %s", host, port, strerror(errno));

	char line[LINE_MAX_LEN + 1], cmd[300];
	expect_ok("greeting");
	snprintf(cmd, sizeof cmd, "USER %s", user);
	command(cmd, "USER");
	snprintf(cmd, sizeof cmd, "PASS %s", pass);
	command(cmd, "PASS");
	double t_login = now();

	send_all("STAT\r\n", 6);
	read_line(line, sizeof line, "STAT");
	unsigned long count;
	unsigned long long octets;
	if (sscanf(line, "+OK %lu %llu", &count, &octets) != 2)
		fail("STAT: %.200s", line);
	n_expected = count;
	if (expect_msgs >= 0 && count != (unsigned long long)expect_msgs)
		fail("STAT says %lu messages, expected %lld", count, expect_msgs);

	/* LIST: every message's size, to check each RETR against. */
	uint64_t *sizes = calloc(count + 1, sizeof *sizes);
	if (!sizes)
		fail("out of memory");
	double t_list0 = now();
	send_all("LIST\r\n", 6);
	expect_ok("LIST");
	unsigned long listed = 0;
	uint64_t list_total = 0;
	for (;;) {
		read_line(line, sizeof line, "LIST");
		if (strcmp(line, ".") == 0)
			break;
		unsigned long i;
		unsigned long long sz;
		if (sscanf(line, "%lu %llu", &i, &sz) != 2 || i < 1 || i > count)
			fail("LIST: bad line %.200s", line);
		sizes[i] = sz;
		list_total += sz;
		listed++;
	}
	if (listed != count)
		fail("LIST lists %lu messages, STAT said %lu", listed, count);
	if (list_total != octets)
		fail("LIST sizes add up to %llu, STAT said %llu",
		     (unsigned long long)list_total, octets);

	double t_list1 = now();

	/* RETR 1..count, at most window outstanding. */
	double t_retr0 = now();
	unsigned long next = 1, outstanding = 0;
	struct retr r = { .st = R_STATUS, .msg_bytes = 0, .check = check };
	uint64_t crc_sum = 0;
	if (check)
		crc_init();
	char out[WINDOW_MAX * 24];
	while (n_done < count) {
		size_t olen = 0;
		while (outstanding < (unsigned long)window && next <= count) {
			olen += (size_t)snprintf(out + olen, sizeof out - olen,
			                         "RETR %lu\r\n", next++);
			outstanding++;
		}
		if (olen)
			send_all(out, olen);
		int is_err = 0;
		while (!retr_parse(&r, &is_err, line, sizeof line))
			fill("RETR");
		unsigned long msgno = n_done + 1;
		if (is_err)
			fail("RETR %lu: %.200s", msgno, line);
		if (r.msg_bytes != sizes[msgno])
			fail("RETR %lu: %llu octets, LIST said %llu", msgno,
			     (unsigned long long)r.msg_bytes,
			     (unsigned long long)sizes[msgno]);
		bytes_done += r.msg_bytes;
		crc_sum += r.crc ^ 0xFFFFFFFFu;
		n_done++;
		outstanding--;
	}
	double t_retr1 = now();

	send_all("QUIT\r\n", 6);
	expect_ok("QUIT");
	double t_end = now();
	close(fd);
	double cpu = cpu_seconds() - cpu0;

	if (expect_bytes >= 0 && bytes_done != (uint64_t)expect_bytes)
		fail("received %llu message octets, expected %lld",
		     (unsigned long long)bytes_done, expect_bytes);
	if (rend != rstart)
		fail("%zu unexpected bytes after QUIT", rend - rstart);
	if (check && crc_sum != expect_crc)
		fail("content differs: the messages' CRC-32s add up to %llu, "
		     "expected %llu", (unsigned long long)crc_sum, expect_crc);

	printf("{\"ok\":true,\"messages\":%lu,\"bytes\":%llu,\"wire_bytes\":%llu,"
	       "\"stat_octets\":%llu,\"window\":%ld,\"login_s\":%.6f,"
	       "\"list_s\":%.6f,\"retr_s\":%.6f,\"quit_s\":%.6f,"
	       "\"elapsed_s\":%.6f,\"client_cpu_s\":%.4f,"
	       "\"content_checked\":%s}\n",
	       n_done, (unsigned long long)bytes_done,
	       (unsigned long long)wire_bytes, octets, window,
	       t_login - t_connect, t_list1 - t_list0, t_retr1 - t_retr0,
	       t_end - t_retr1, t_end - t_connect, cpu, check ? "true" : "false");
	free(sizes);
	return 0;
}
