/* pop3d_txn: the TRANSACTION state (STAT, LIST, UIDL, RETR, TOP, DELE,
 * RSET, NOOP) and UPDATE (QUIT). Numbers and sizes come from the snapshot
 * taken at login; deletions are only marks until QUIT commits them in a
 * job. RETR and TOP stream the file through msg_dotstuff in pieces and
 * wait whenever the client has not read what was sent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/log.h"
#include "pop3d_int.h"

#define TXN_CHUNK 65536

/* Parses a decimal number of 1..max digits with nothing around it. */
static int txn_number(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;
	if (!*s || strlen(s) > 19)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}

/* The message a number names, as an index: -1 after an -ERR reply. */
static long long txn_message(struct pop3d_session *s, const char *arg)
{
	unsigned long long n;
	if (txn_number(arg, &n) < 0) {
		pop3d_reply(s, 0, NULL, "Not a message number: %.40s", arg);
		return -1;
	}
	if (n == 0 || n > s->mb->count) {
		pop3d_reply(s, 0, NULL, "No such message");
		return -1;
	}
	if (s->deleted[n - 1]) {
		pop3d_reply(s, 0, NULL, "Message %llu is deleted", n);
		return -1;
	}
	return (long long)(n - 1);
}

/* Splits args into at most max words; -1 when there are more. */
static int txn_words(char *args, char **words, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *w = strtok_r(args, " ", &save); w;
	     w = strtok_r(NULL, " ", &save)) {
		if (n == max)
			return -1;
		words[n++] = w;
	}
	return n;
}

/* Runs a command of zero or one message-number argument: the index, -2
 * for none, or -1 after an -ERR reply. */
static long long txn_optional_message(struct pop3d_session *s, char *args,
                                      const char *syntax)
{
	char *w[1];
	int n = txn_words(args, w, 1);
	if (n < 0) {
		pop3d_reply(s, 0, NULL, "Syntax: %s", syntax);
		return -1;
	}
	return n == 0 ? -2 : txn_message(s, w[0]);
}

static size_t txn_live_count(const struct pop3d_session *s)
{
	return s->mb->count - s->ndeleted;
}

static unsigned long long txn_live_octets(const struct pop3d_session *s)
{
	return s->mb->total - s->deleted_octets;
}

void pop3d_cmd_stat(struct pop3d_session *s, char *args)
{
	char *w[1];
	if (txn_words(args, w, 0) != 0) {
		pop3d_reply(s, 0, NULL, "Syntax: STAT");
		return;
	}
	pop3d_reply(s, 1, NULL, "%zu %llu", txn_live_count(s), txn_live_octets(s));
}

void pop3d_cmd_list(struct pop3d_session *s, char *args)
{
	long long i = txn_optional_message(s, args, "LIST [message]");
	if (i == -1)
		return;
	if (i >= 0) {
		pop3d_reply(s, 1, NULL, "%lld %llu", i + 1, s->mb->msgs[i].size);
		return;
	}
	pop3d_reply(s, 1, NULL, "%zu messages (%llu octets)", txn_live_count(s),
	            txn_live_octets(s));
	for (size_t k = 0; k < s->mb->count; k++)
		if (!s->deleted[k])
			pop3d_line(s, "%zu %llu", k + 1, s->mb->msgs[k].size);
	pop3d_line(s, ".");
}

void pop3d_cmd_uidl(struct pop3d_session *s, char *args)
{
	long long i = txn_optional_message(s, args, "UIDL [message]");
	if (i == -1)
		return;
	if (i >= 0) {
		pop3d_reply(s, 1, NULL, "%lld %s", i + 1, s->mb->msgs[i].uid);
		return;
	}
	pop3d_reply(s, 1, NULL, "Unique-id listing follows");
	for (size_t k = 0; k < s->mb->count; k++)
		if (!s->deleted[k])
			pop3d_line(s, "%zu %s", k + 1, s->mb->msgs[k].uid);
	pop3d_line(s, ".");
}

/* ---- RETR and TOP ---- */

/* Opens message i and starts streaming it; lines < 0 for RETR. */
static void txn_send_start(struct pop3d_session *s, size_t i, long long lines)
{
	int fd = mailbox_open_msg(s->mb, i);
	if (fd < 0) {
		log_error(s->id, "message %zu (%s): %s", i + 1, s->mb->msgs[i].name,
		          strerror(errno));
		pop3d_reply(s, 0, errno == ENOENT ? NULL : "SYS/TEMP",
		            errno == ENOENT ? "Message %zu was removed by another "
		            "program" : "Cannot read message %zu", i + 1);
		return;
	}
	s->send.fd = fd;
	s->send.msg = i;
	s->send.retr = lines < 0;
	msg_dotstuff_init(&s->send.st, lines);
	if (lines < 0)
		pop3d_reply(s, 1, NULL, "%llu octets", s->mb->msgs[i].size);
	else
		pop3d_reply(s, 1, NULL, "Top of message %zu follows", i + 1);
	s->state = POP3D_SENDING;
	pop3d_send_more(s);
}

void pop3d_send_abort(struct pop3d_session *s)
{
	if (s->send.fd < 0)
		return;
	close(s->send.fd);
	s->send.fd = -1;
	if (s->state == POP3D_SENDING)
		s->state = POP3D_TRANSACTION;
}

/* The file ended (or TOP has its lines): the terminator, back to
 * TRANSACTION. A short read mid-message cannot be taken back once "+OK"
 * went out: the connection is closed so the client sees no false end. */
static void txn_send_end(struct pop3d_session *s, int failed)
{
	size_t i = s->send.msg;
	close(s->send.fd);
	s->send.fd = -1;
	s->state = POP3D_TRANSACTION;
	if (failed) {
		log_error(s->id, "reading message %zu (%s) failed: %s; closing",
		          i + 1, s->mb->msgs[i].name, strerror(errno));
		pop3d_close(s);
		return;
	}
	if (msg_dotstuff_end(&s->send.st, &s->out) < 0 ||
	    buf_append(&s->out, ".\r\n", 3) < 0) {
		pop3d_close(s);
		return;
	}
	if (s->send.retr)
		s->seen[i] = 1;
}

/* The owner's output is full: wait for pop3d_drained. */
static int txn_output_full(const struct pop3d_session *s)
{
	return s->io.pending && s->io.pending(s->io.ctx) >= SESSION_OUTPUT_HIGH;
}

void pop3d_send_more(struct pop3d_session *s)
{
	char chunk[TXN_CHUNK];
	while (s->state == POP3D_SENDING && !txn_output_full(s)) {
		ssize_t n = read(s->send.fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			txn_send_end(s, n < 0);
			break;
		}
		int r = msg_dotstuff_feed(&s->send.st, chunk, (size_t)n, &s->out);
		if (r < 0) {
			errno = ENOMEM;
			txn_send_end(s, 1);
			break;
		}
		if (r == 1) {
			txn_send_end(s, 0);
			break;
		}
		pop3d_flush(s);
	}
	pop3d_flush(s);
}

void pop3d_cmd_retr(struct pop3d_session *s, char *args)
{
	char *w[1];
	if (txn_words(args, w, 1) != 1) {
		pop3d_reply(s, 0, NULL, "Syntax: RETR message");
		return;
	}
	long long i = txn_message(s, w[0]);
	if (i >= 0)
		txn_send_start(s, (size_t)i, -1);
}

void pop3d_cmd_top(struct pop3d_session *s, char *args)
{
	char *w[2];
	unsigned long long lines;
	if (txn_words(args, w, 2) != 2) {
		pop3d_reply(s, 0, NULL, "Syntax: TOP message lines");
		return;
	}
	long long i = txn_message(s, w[0]);
	if (i < 0)
		return;
	if (txn_number(w[1], &lines) < 0 || lines > (1ULL << 62)) {
		pop3d_reply(s, 0, NULL, "Not a line count: %.40s", w[1]);
		return;
	}
	txn_send_start(s, (size_t)i, (long long)lines);
}

/* ---- DELE, RSET, NOOP ---- */

void pop3d_cmd_dele(struct pop3d_session *s, char *args)
{
	char *w[1];
	if (txn_words(args, w, 1) != 1) {
		pop3d_reply(s, 0, NULL, "Syntax: DELE message");
		return;
	}
	long long i = txn_message(s, w[0]);
	if (i < 0)
		return;
	s->deleted[i] = 1;
	s->ndeleted++;
	s->deleted_octets += s->mb->msgs[i].size;
	pop3d_reply(s, 1, NULL, "Message %lld marked for deletion", i + 1);
}

void pop3d_cmd_rset(struct pop3d_session *s, char *args)
{
	char *w[1];
	if (txn_words(args, w, 0) != 0) {
		pop3d_reply(s, 0, NULL, "Syntax: RSET");
		return;
	}
	memset(s->deleted, 0, s->mb->count);
	s->ndeleted = 0;
	s->deleted_octets = 0;
	pop3d_reply(s, 1, NULL, "%zu messages (%llu octets)", s->mb->count,
	            s->mb->total);
}

void pop3d_cmd_noop(struct pop3d_session *s, char *args)
{
	char *w[1];
	if (txn_words(args, w, 0) != 0) {
		pop3d_reply(s, 0, NULL, "Syntax: NOOP");
		return;
	}
	pop3d_reply(s, 1, NULL, "Still here");
}

/* ---- QUIT and UPDATE ---- */

struct txn_update {
	struct pop3d_session *s;
	struct mailbox *mb;
	const unsigned char *deleted, *seen;
	size_t ndeleted;
	size_t nseen;
	int failed;
	struct buf err;
};

/* Off the event loop: unlinks and renames, then fsyncs the directories;
 * the lock is released only after that. */
static void txn_update_run(void *arg)
{
	struct txn_update *u = arg;
	for (size_t i = 0; i < u->mb->count; i++)
		u->nseen += u->seen[i] && !u->deleted[i];
	u->failed = mailbox_commit(u->mb, u->deleted, u->seen, &u->err) < 0;
	mailbox_close(&u->mb);
}

static void txn_update_done(void *arg)
{
	struct txn_update *u = arg;
	struct pop3d_session *s = u->s;
	if (u->failed)
		log_error(s->id, "UPDATE for %s: %s", s->auth_user,
		          buf_cstr(&u->err) ? u->err.data : "failed");
	log_info(s->id, "logout user=%s: %zu deleted, %zu marked seen",
	         s->auth_user, u->ndeleted, u->nseen);
	s->mb = NULL; /* the job closed it */
	pop3d_drop_mailbox(s);
	if (!s->eof && s->state != POP3D_CLOSED) {
		if (u->failed)
			pop3d_reply(s, 0, "SYS/TEMP", "Some messages could not be "
			            "deleted or marked; they are still there");
		else
			pop3d_reply(s, 1, NULL, "Logging out (%zu message%s "
			            "deleted)", u->ndeleted, u->ndeleted == 1 ? "" : "s");
		s->state = POP3D_AUTHORIZATION;
		pop3d_close(s);
	}
	buf_free(&u->err);
	free(u);
	pop3d_job_finished(s);
}

void pop3d_cmd_quit(struct pop3d_session *s, char *args)
{
	(void)args;
	if (s->state == POP3D_AUTHORIZATION) {
		pop3d_reply(s, 1, NULL, "Bye");
		pop3d_close(s);
		return;
	}
	struct txn_update *u = calloc(1, sizeof *u);
	if (!u) {
		pop3d_reply(s, 0, "SYS/TEMP", "Out of memory; nothing was deleted");
		pop3d_close(s);
		return;
	}
	u->s = s;
	u->mb = s->mb;
	u->deleted = s->deleted;
	u->seen = s->seen;
	u->ndeleted = s->ndeleted;
	s->resume = POP3D_CLOSED;
	pop3d_job_start(s, txn_update_run, txn_update_done, u);
}
