/* ctl_queue: "posthornctl queue list|show|flush|delete|bounce", on top of
 * the queue items of src/store/queue.h. Changes go through the same
 * durable functions posthornd uses; flush and bounce then wake the
 * daemon's queue manager with SIGUSR1. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "../lib/fs.h"
#include "../msg/header.h"
#include "../store/bounce.h"
#include "../store/queue.h"
#include "../store/spool.h"

/* What "queue show" prints of a message's header at most. */
#define QUEUE_SHOW_HEADER_MAX (256u * 1024)
/* Columns the sender and the recipient get in "queue list" at most. */
#define QUEUE_LIST_ADDRESS_MAX 40
/* Why an administrator's bounce failed the recipients. */
#define QUEUE_BOUNCE_REASON "returned to the sender by the administrator"

static const char queue_usage[] =
	"usage: posthornctl [-c CONFIG] queue list\n"
	"       posthornctl [-c CONFIG] queue show ID\n"
	"       posthornctl [-c CONFIG] queue flush [ID]\n"
	"       posthornctl [-c CONFIG] queue delete ID\n"
	"       posthornctl [-c CONFIG] queue bounce ID\n"
	"\n"
	"list    one line per queued message: id, age, size, sender, recipients\n"
	"        still pending / all, the first pending recipient (+ how many\n"
	"        others), next attempt, last error\n"
	"show    the envelope (every recipient with its state and last reply)\n"
	"        and the message's header\n"
	"flush   make one message (or all) due now and wake posthornd (SIGUSR1)\n"
	"delete  remove a message from the queue without any report\n"
	"bounce  return a message's pending recipients to the sender with a\n"
	"        delivery status notification, then wake posthornd to send it\n";

struct queue_command {
	const char *name;
	int min_args, max_args;  /* IDs after the command */
	int (*run)(const struct posthorn_config *cfg, const char *id);
};

static int fail_err(struct buf *err)
{
	ctl_fail("%s", buf_cstr(err) ? err->data : "out of memory");
	buf_free(err);
	return CTL_FAIL;
}

/* Loads an item; prints why not (naming an unknown id clearly). */
static int load_item(const struct posthorn_config *cfg, const char *id,
                     struct queue_envelope *env)
{
	struct buf err = BUF_INIT;
	if (queue_load(cfg->data_dir, id, env, &err) == 0) {
		buf_free(&err);
		return 0;
	}
	if (errno == ENOENT)
		ctl_fail("no message %s in the queue (see 'posthornctl queue list')", id);
	else
		ctl_fail("queue item %s: %s", id, buf_cstr(&err) ? err.data : "unreadable");
	buf_free(&err);
	return -1;
}

/* Size of ID.msg, -1 when it cannot be found. */
static long long message_size(const struct posthorn_config *cfg, const char *id)
{
	struct buf path = BUF_INIT;
	struct stat st;
	long long size = -1;
	if (queue_msg_path(cfg->data_dir, id, &path) == 0 && buf_cstr(&path) &&
	    stat(path.data, &st) == 0)
		size = (long long)st.st_size;
	buf_free(&path);
	return size;
}

/* "45s", "12m", "3h", "2d" */
static void format_span(int64_t s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, n, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, n, "%lldm", (long long)(s / 60));
	else if (s < 86400 * 2)
		snprintf(out, n, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, n, "%lldd", (long long)(s / 86400));
}

static void format_size(long long size, char *out, size_t n)
{
	if (size < 0)
		snprintf(out, n, "?");
	else if (size < 10000)
		snprintf(out, n, "%lld", size);
	else if (size < 10000LL * 1024)
		snprintf(out, n, "%lldK", (size + 512) / 1024);
	else
		snprintf(out, n, "%lldM", (size + 512 * 1024) / (1024 * 1024));
}

static size_t count_pending(const struct queue_envelope *env)
{
	size_t n = 0;
	for (size_t i = 0; i < env->nrcpts; i++)
		n += env->rcpts[i].state == QUEUE_PENDING;
	return n;
}

/* "now", "in 4m", or "-" when nothing is pending. */
static void format_next(const struct queue_envelope *env, int64_t now,
                        char *out, size_t n)
{
	char span[32];
	if (count_pending(env) == 0) {
		snprintf(out, n, "-");
	} else if (env->next_attempt <= now) {
		snprintf(out, n, "now");
	} else {
		format_span(env->next_attempt - now, span, sizeof span);
		snprintf(out, n, "in %s", span);
	}
}

/* The recipient "queue list" names: the first pending one, else the
 * first. */
static const char *first_rcpt(const struct queue_envelope *env)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == QUEUE_PENDING)
			return env->rcpts[i].address;
	return env->nrcpts ? env->rcpts[0].address : "";
}

/* The reply that explains the delay: the first pending recipient's, else
 * any recipient's; "" when none has one. */
static const char *last_error(const struct queue_envelope *env)
{
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < env->nrcpts; i++)
			if (env->rcpts[i].last_reply && *env->rcpts[i].last_reply &&
			    (pass || env->rcpts[i].state == QUEUE_PENDING))
				return env->rcpts[i].last_reply;
	return "";
}

/* Prints s[0..n) with control characters shown as '?' (the text comes
 * from remote servers and messages; the terminal must not obey it). */
static void print_clean(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		putchar(c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7f) ? c : '?');
	}
}

/* Width of the terminal (or $COLUMNS); 0 means do not cut lines. */
static size_t output_width(void)
{
	struct winsize ws;
	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
	    ws.ws_col > 0)
		return ws.ws_col;
	const char *cols = getenv("COLUMNS");
	long v = cols ? strtol(cols, NULL, 10) : 0;
	return v > 0 && v < 100000 ? (size_t)v : 0;
}

/* One item's line; returns 1 when listed, 0 when unreadable (a warning
 * is printed instead). */
static int list_one(const struct posthorn_config *cfg, const char *id, int64_t now,
                    int id_width, size_t width)
{
	struct queue_envelope env;
	struct buf err = BUF_INIT, line = BUF_INIT;
	char age[32], size[32], next[48], rcpts[48], more[24] = "";
	char who[QUEUE_LIST_ADDRESS_MAX + sizeof more];
	if (queue_load(cfg->data_dir, id, &env, &err) < 0) {
		int gone = errno == ENOENT;  /* delivered since queue_list */
		if (!gone)
			printf("%-*s  (unreadable: %s)\n", id_width, id,
			       buf_cstr(&err) ? err.data : "?");
		buf_free(&err);
		return !gone;
	}
	format_span(now - env.created, age, sizeof age);
	format_size(message_size(cfg, id), size, sizeof size);
	format_next(&env, now, next, sizeof next);
	if (env.nrcpts > 1)
		snprintf(more, sizeof more, " +%zu", env.nrcpts - 1);
	snprintf(rcpts, sizeof rcpts, "%zu/%zu", count_pending(&env), env.nrcpts);
	const char *sender = *env.sender ? env.sender : "<>";
	snprintf(who, sizeof who, "%.*s%s", QUEUE_LIST_ADDRESS_MAX, first_rcpt(&env), more);
	buf_printf(&line, "%-*s %4s %5s  %-20.*s  %5s  %-23s  %-6s  %s", id_width, id,
	           age, size, QUEUE_LIST_ADDRESS_MAX, sender, rcpts, who, next,
	           last_error(&env));
	if (buf_cstr(&line)) {
		size_t n = width && line.len > width ? width : line.len;
		for (size_t i = 0; i < n; i++)  /* a reply's lines are joined */
			if (line.data[i] == '\n')
				line.data[i] = ' ';
		print_clean(line.data, n);
		putchar('\n');
	}
	buf_free(&line);
	buf_free(&err);
	queue_envelope_free(&env);
	return 1;
}

static int queue_cmd_list(const struct posthorn_config *cfg, const char *unused)
{
	(void)unused;
	char **ids = NULL;
	size_t n = 0, listed = 0;
	struct buf err = BUF_INIT;
	if (queue_list(cfg->data_dir, &ids, &n, &err) < 0)
		return fail_err(&err);
	buf_free(&err);
	if (n == 0) {
		printf("the queue is empty\n");
		queue_list_free(&ids, n);
		return CTL_OK;
	}
	int id_width = 2;
	for (size_t i = 0; i < n; i++)
		if (strlen(ids[i]) > (size_t)id_width)
			id_width = (int)strlen(ids[i]);
	int64_t now = (int64_t)time(NULL);
	printf("%-*s %4s %5s  %-20s  %5s  %-23s  %-6s  %s\n", id_width, "ID", "AGE", "SIZE",
	       "SENDER", "RCPTS", "RECIPIENT", "NEXT", "LAST ERROR");
	for (size_t i = 0; i < n; i++)
		listed += (size_t)list_one(cfg, ids[i], now, id_width, output_width());
	printf("%zu message%s in the queue\n", listed, listed == 1 ? "" : "s");
	queue_list_free(&ids, n);
	return CTL_OK;
}

/* "2025-01-02 03:04:05 +0000 (3h ago)" into out. */
static void format_when(int64_t t, int64_t now, char *out, size_t n)
{
	char date[40], span[32];
	time_t tt = (time_t)t;
	struct tm tm;
	if (!localtime_r(&tt, &tm) || !strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %z", &tm))
		snprintf(date, sizeof date, "@%lld", (long long)t);
	format_span(t > now ? t - now : now - t, span, sizeof span);
	snprintf(out, n, "%s (%s%s%s)", date, t > now ? "in " : "", span,
	         t > now ? "" : " ago");
}

static const char *state_name(enum queue_rcpt_state s)
{
	return s == QUEUE_PENDING ? "pending" : s == QUEUE_DELIVERED ? "delivered"
	                                                               : "failed";
}

static void show_envelope(const struct posthorn_config *cfg,
                          const struct queue_envelope *env, int64_t now)
{
	char when[96];
	printf("id:          %s\n", env->id);
	format_when(env->created, now, when, sizeof when);
	printf("created:     %s\n", when);
	printf("sender:      <%s>\n", env->sender);
	printf("size:        %lld bytes\n", message_size(cfg, env->id));
	printf("body:        %s%s\n", env->body ? env->body : "7bit",
	       env->smtputf8 ? ", SMTPUTF8" : "");
	if (env->envid)
		printf("envid:       %s\n", env->envid);
	if (env->ret)
		printf("ret:         %s\n", env->ret);
	printf("attempts:    %d\n", env->attempts);
	if (count_pending(env) == 0)
		printf("next:        - (nothing pending)\n");
	else if (env->next_attempt <= now)
		printf("next:        now\n");
	else {
		format_when(env->next_attempt, now, when, sizeof when);
		printf("next:        %s\n", when);
	}
	printf("recipients:  %zu (%zu pending)\n", env->nrcpts, count_pending(env));
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];
		printf("  <%s> %s", r->address, state_name(r->state));
		if (r->notify)
			printf(" NOTIFY=%s", r->notify);
		if (r->orcpt)
			printf(" ORCPT=%s", r->orcpt);
		putchar('\n');
		if (r->last_reply) {
			fputs("      last reply: ", stdout);
			print_clean(r->last_reply, strlen(r->last_reply));
			putchar('\n');
		}
	}
}

/* Prints the header block of ID.msg (at most QUEUE_SHOW_HEADER_MAX).
 * CTL_OK, or CTL_FAIL after saying why. */
static int show_header(const struct posthorn_config *cfg, const char *id)
{
	struct buf path = BUF_INIT, head = BUF_INIT;
	int fd = -1, rc = CTL_FAIL;
	if (queue_msg_path(cfg->data_dir, id, &path) < 0 || !buf_cstr(&path) ||
	    (fd = open(path.data, O_RDONLY | O_CLOEXEC)) < 0 ||
	    buf_reserve(&head, QUEUE_SHOW_HEADER_MAX) < 0) {
		ctl_fail("cannot read the message %s: %s", path.len ? path.data : id,
		         strerror(errno));
		goto out;
	}
	ssize_t r;
	while (head.len < QUEUE_SHOW_HEADER_MAX &&
	       (r = read(fd, head.data + head.len, QUEUE_SHOW_HEADER_MAX - head.len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		head.len += (size_t)r;
	}
	struct msg_header h;
	if (msg_header_parse(head.data, head.len, 0, &h) < 0) {
		ctl_fail("out of memory");
		goto out;
	}
	int cut = (h.flags & MSG_HDR_NO_BLANK) && head.len == QUEUE_SHOW_HEADER_MAX;
	printf("\nheader:\n");
	/* the fields, without the blank line that ends them */
	const struct msg_field *last = h.count ? &h.fields[h.count - 1] : NULL;
	print_clean(head.data, last ? last->offset + last->raw_len : 0);
	if (cut)
		printf("\n(cut: the header is longer than %u KiB)\n", QUEUE_SHOW_HEADER_MAX / 1024);
	msg_header_free(&h);
	rc = CTL_OK;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&path);
	buf_free(&head);
	return rc;
}

static int queue_cmd_show(const struct posthorn_config *cfg, const char *id)
{
	struct queue_envelope env;
	if (load_item(cfg, id, &env) < 0)
		return CTL_FAIL;
	show_envelope(cfg, &env, (int64_t)time(NULL));
	queue_envelope_free(&env);
	fflush(stdout);
	return show_header(cfg, id);
}

/* The pid in the config's pid file when that process is a running
 * posthornd; 0 when none runs. A stale file's pid may belong to another
 * program by now, which SIGUSR1 would kill: /proc names the program. */
static pid_t daemon_pid(const struct posthorn_config *cfg)
{
	struct buf text = BUF_INIT;
	char comm_path[64], comm[32] = "";
	pid_t pid = 0;
	if (cfg->pid_file && fs_read_file(cfg->pid_file, 64, &text) == 0 && buf_cstr(&text)) {
		char *end;
		long v = strtol(text.data, &end, 10);
		if (v > 1 && v < (1L << 30) && (*end == '\n' || *end == '\0'))
			pid = (pid_t)v;
	}
	buf_free(&text);
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return 0;
	snprintf(comm_path, sizeof comm_path, "/proc/%ld/comm", (long)pid);
	FILE *f = fopen(comm_path, "re");
	if (f) {
		if (!fgets(comm, sizeof comm, f))
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, "posthornd", 9) != 0)
			return 0;
	}
	return pid;
}

/* Wakes the queue manager; says what happened. why ends the sentence
 * "posthornd (pid N) was told ..." */
static void wake_daemon(const struct posthorn_config *cfg, const char *why)
{
	pid_t pid = daemon_pid(cfg);
	if (pid == 0)
		printf("posthornd is not running: the queue will be tried when it starts\n");
	else if (kill(pid, SIGUSR1) < 0)
		fprintf(stderr, "posthornctl: warning: cannot signal posthornd (pid %ld):"
		        " %s; it will get to the queue on its next scan\n", (long)pid,
		        strerror(errno));
	else
		printf("posthornd (pid %ld) was told %s\n", (long)pid, why);
}

/* Files ctl wrote as root must stay usable by posthornd after it dropped
 * its privileges: hands the queue (envelopes, new DSN items) to run_user. */
static void give_queue_to_daemon(const struct posthorn_config *cfg)
{
	struct buf path = BUF_INIT;
	if (fs_join(cfg->data_dir, "queue", &path) == 0 && buf_cstr(&path))
		ctl_give_to_daemon(cfg, path.data, 1);
	buf_free(&path);
}

/* Makes one item due now. 1 changed, 0 nothing pending (or, with
 * quiet_gone, the item went away meanwhile), -1 failed. */
static int flush_one(const struct posthorn_config *cfg, const char *id, int quiet_gone)
{
	struct queue_envelope env;
	struct buf err = BUF_INIT;
	if (quiet_gone && queue_load(cfg->data_dir, id, &env, &err) < 0) {
		int gone = errno == ENOENT;
		if (!gone)
			ctl_fail("queue item %s: %s", id, buf_cstr(&err) ? err.data : "unreadable");
		buf_free(&err);
		return gone ? 0 : -1;
	}
	if (!quiet_gone && load_item(cfg, id, &env) < 0)
		return -1;
	int rc = 0;
	if (count_pending(&env) > 0) {
		env.next_attempt = 0;
		rc = 1;
		if (queue_envelope_save(cfg->data_dir, &env, &err) < 0) {
			ctl_fail("queue item %s: %s", id, buf_cstr(&err) ? err.data : "cannot save");
			rc = -1;
		}
	}
	buf_free(&err);
	queue_envelope_free(&env);
	return rc;
}

static int queue_cmd_flush(const struct posthorn_config *cfg, const char *id)
{
	char **ids = NULL;
	size_t n = 0, due = 0;
	int failed = 0;
	struct buf err = BUF_INIT;
	if (id) {
		int r = flush_one(cfg, id, 0);
		if (r < 0)
			return CTL_FAIL;
		printf(r ? "%s is due now\n" : "%s has no pending recipients\n", id);
		due = (size_t)r;
	} else {
		if (queue_list(cfg->data_dir, &ids, &n, &err) < 0)
			return fail_err(&err);
		for (size_t i = 0; i < n; i++) {
			int r = flush_one(cfg, ids[i], 1);
			failed |= r < 0;
			due += r > 0;
		}
		queue_list_free(&ids, n);
		printf("%zu message%s due now\n", due, due == 1 ? "" : "s");
	}
	buf_free(&err);
	if (due)
		give_queue_to_daemon(cfg);
	wake_daemon(cfg, "to try the queue now");
	return failed ? CTL_FAIL : CTL_OK;
}

/* An item whose envelope cannot be read can still be deleted: that is
 * what an administrator does with it. */
static int queue_cmd_delete(const struct posthorn_config *cfg, const char *id)
{
	struct queue_envelope env;
	struct buf err = BUF_INIT, why = BUF_INIT;
	int loaded = queue_load(cfg->data_dir, id, &env, &why) == 0;
	if (!loaded && errno == ENOENT) {
		buf_free(&why);
		return ctl_fail("no message %s in the queue (see 'posthornctl queue list')", id);
	}
	long long size = message_size(cfg, id);
	if (queue_remove(cfg->data_dir, id, &err) < 0) {
		queue_envelope_free(&env);
		buf_free(&why);
		return fail_err(&err);
	}
	if (loaded)
		printf("deleted %s: %lld bytes from <%s> to %zu recipient%s (%zu still"
		       " pending); no report was sent\n", id, size, env.sender, env.nrcpts,
		       env.nrcpts == 1 ? "" : "s", count_pending(&env));
	else
		printf("deleted %s (its envelope was unreadable: %s); no report was sent\n",
		       id, buf_cstr(&why) ? why.data : "?");
	queue_envelope_free(&env);
	buf_free(&err);
	buf_free(&why);
	return CTL_OK;
}

/* Sets a pending recipient's last reply to the administrator's reason,
 * keeping what the last attempt said. -1 when out of memory. */
static int set_bounce_reason(struct queue_rcpt *r)
{
	struct buf text = BUF_INIT;
	if (buf_puts(&text, QUEUE_BOUNCE_REASON) < 0 ||
	    (r->last_reply && *r->last_reply &&
	     buf_printf(&text, "; the last attempt got: %s", r->last_reply) < 0)) {
		buf_free(&text);
		return -1;
	}
	char *s = buf_steal(&text, NULL);
	if (!s)
		return -1;
	free(r->last_reply);
	r->last_reply = s;
	return 0;
}

/* Returns the pending recipients of env; *n how many. CTL_OK or fails. */
static int bounce_pending(const struct posthorn_config *cfg,
                          struct queue_envelope *env, size_t *n)
{
	struct buf why = BUF_INIT, postmaster = BUF_INIT;
	size_t *idx = calloc(env->nrcpts ? env->nrcpts : 1, sizeof *idx);
	*n = 0;
	for (size_t i = 0; idx && i < env->nrcpts; i++) {
		if (env->rcpts[i].state != QUEUE_PENDING)
			continue;
		if (set_bounce_reason(&env->rcpts[i]) < 0)
			break;
		idx[(*n)++] = i;
	}
	int rc = CTL_OK;
	if (!idx || buf_printf(&postmaster, "postmaster@%s", cfg->domains[0]) < 0 ||
	    !buf_cstr(&postmaster))
		rc = ctl_fail("out of memory");
	else if (*n && bounce_recipients(cfg->data_dir, cfg->hostname, postmaster.data, env,
	                                 idx, *n, DSN_FAILED, (int64_t)time(NULL), &why) < 0)
		rc = ctl_fail("bouncing %s: %s", env->id, buf_cstr(&why) ? why.data : "failed");
	free(idx);
	buf_free(&why);
	buf_free(&postmaster);
	return rc;
}

static int queue_cmd_bounce(const struct posthorn_config *cfg, const char *id)
{
	struct queue_envelope env;
	struct buf err = BUF_INIT;
	size_t n = 0;
	if (load_item(cfg, id, &env) < 0)
		return CTL_FAIL;
	if (count_pending(&env) == 0) {
		queue_envelope_free(&env);
		return ctl_fail("%s has no pending recipients: nothing to bounce", id);
	}
	int rc = bounce_pending(cfg, &env, &n);
	give_queue_to_daemon(cfg);  /* also after a failure: a DSN may be queued */
	if (rc == CTL_OK) {
		if (*env.sender)
			printf("returned %zu recipient%s of %s to <%s>\n", n, n == 1 ? "" : "s",
			       id, env.sender);
		else
			printf("returned %zu recipient%s of %s: the sender is <>, so the report"
			       " goes to the postmaster\n", n, n == 1 ? "" : "s", id);
		if (count_pending(&env) == 0 && queue_remove(cfg->data_dir, id, &err) < 0)
			rc = fail_err(&err);
		else if (count_pending(&env) == 0)
			printf("removed %s from the queue\n", id);
		wake_daemon(cfg, "to send the report");
	}
	buf_free(&err);
	queue_envelope_free(&env);
	return rc;
}

static const struct queue_command queue_commands[] = {
	{"list", 0, 0, queue_cmd_list},
	{"show", 1, 1, queue_cmd_show},
	{"flush", 0, 1, queue_cmd_flush},
	{"delete", 1, 1, queue_cmd_delete},
	{"bounce", 1, 1, queue_cmd_bounce},
};

/* Arguments of one queue command: --help, then at most one ID. CTL_OK or
 * a status; *id is NULL when none was given. */
static int parse_queue_args(const struct queue_command *qc, int argc, char **argv,
                            const char **id, int *help)
{
	int nargs = 0;
	*id = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			*help = 1;
			return CTL_OK;
		}
		if (argv[i][0] == '-' && strcmp(argv[i], "--") != 0)
			return ctl_usage_error("queue ", "queue %s: unexpected option %s",
			                       qc->name, argv[i]);
		if (strcmp(argv[i], "--") == 0)
			continue;
		if (nargs++ == 0)
			*id = argv[i];
	}
	if (nargs < qc->min_args || nargs > qc->max_args)
		return ctl_usage_error("queue ", qc->max_args == 0
		                       ? "queue %s takes no arguments"
		                       : qc->min_args ? "queue %s needs one ID"
		                                      : "queue %s takes at most one ID",
		                       qc->name);
	if (*id && !spool_id_valid(*id))
		return ctl_fail("invalid queue id \"%.80s\": ids are letters, digits,"
		                " '.', '_' and '-' (see 'posthornctl queue list')", *id);
	return CTL_OK;
}

int ctl_queue(struct ctl *ctl, int argc, char **argv)
{
	if (argc < 2)
		return ctl_usage_error("queue ", "queue: which command? list, show,"
		                       " flush, delete or bounce");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(queue_usage, stdout);
		return CTL_OK;
	}
	for (size_t i = 0; i < sizeof queue_commands / sizeof *queue_commands; i++) {
		const struct queue_command *qc = &queue_commands[i];
		if (strcmp(argv[1], qc->name) != 0)
			continue;
		const char *id;
		struct posthorn_config cfg;
		int help = 0, rc = parse_queue_args(qc, argc - 1, argv + 1, &id, &help);
		if (help)
			fputs(queue_usage, stdout);
		if (rc != CTL_OK || help)
			return rc;
		if (ctl_load_config(ctl, &cfg) < 0)
			return CTL_FAIL;
		rc = qc->run(&cfg, id);
		config_free(&cfg);
		return rc;
	}
	return ctl_usage_error("queue ", "queue: unknown command \"%s\"", argv[1]);
}
