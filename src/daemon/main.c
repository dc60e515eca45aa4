/* posthornd: the mail server. Loads the config, users and aliases, binds
 * the listeners, daemonises (unless -f), writes the pid file, drops root,
 * then runs the event loop until SIGTERM; SIGHUP reloads. --stdio runs one
 * session on standard input and output instead. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "../lib/buf.h"
#include "../lib/fs.h"
#include "../lib/log.h"
#include "jobs.h"
#include "outq.h"
#include "server.h"
#include "stdio.h"
#include "world.h"

#ifndef POSTHORN_VERSION
#define POSTHORN_VERSION "0.1.0"
#endif

struct options {
	const char *config;
	int foreground;
	int verbose;
	int check;
	int workers;
	const char *stdio_proto;
	const char *session_id;
};

struct daemon_state {
	struct server *srv;
	struct event_base *base;
	struct jobs *jobs;
	struct outq *outq;      /* the queue manager; NULL until started */
	struct event *signals[5];
	int notify_fd;          /* to the waiting parent; -1 when none */
	char *pid_file;         /* owned; NULL when none was written */
};

static void main_usage(FILE *out)
{
	fprintf(out,
	        "usage: posthornd -c CONFIG [-f] [-v] [--workers N]\n"
	        "       posthornd -c CONFIG --check\n"
	        "       posthornd -c CONFIG --stdio smtp|pop3 [-v] [--session-id ID]\n"
	        "       posthornd --help | --version\n"
	        "\n"
	        "  -c, --config FILE   posthorn.conf to run with\n"
	        "  -f, --foreground    stay in the foreground and log to stderr\n"
	        "  -v, --verbose       more log lines (twice: debug)\n"
	        "      --check         load config, users, aliases and TLS files,\n"
	        "                      report problems, and exit\n"
	        "      --stdio PROTO   one session on stdin/stdout: smtp or pop3\n"
	        "      --session-id ID the --stdio session's id (default random)\n"
	        "      --workers N     threads for password checks and delivery\n"
	        "                      (default 4)\n"
	        "\n"
	        "exit status: 0 ok, 64 usage, 67 run user missing, 71 system\n"
	        "error (bind, fork), 78 configuration error. See posthornd(8).\n");
}

/* Parses argv; returns -1 to exit 0 (help, version), EX_USAGE on errors. */
static int main_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"foreground", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"check", no_argument, NULL, 'C'},
		{"stdio", required_argument, NULL, 'S'},
		{"session-id", required_argument, NULL, 'I'},
		{"workers", required_argument, NULL, 'W'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:fvhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'f': o->foreground = 1; break;
		case 'v': o->verbose++; break;
		case 'C': o->check = 1; break;
		case 'S': o->stdio_proto = optarg; break;
		case 'I': o->session_id = optarg; break;
		case 'W': o->workers = atoi(optarg); break;
		case 'h': main_usage(stdout); return -1;
		case 'V': printf("posthornd %s\n", POSTHORN_VERSION); return -1;
		default: main_usage(stderr); return EX_USAGE;
		}
	}
	const char *why = NULL;
	if (optind < argc)
		why = "unexpected argument";
	else if (!o->config)
		why = "-c CONFIG is required";
	else if (o->stdio_proto && !proto_by_name(o->stdio_proto))
		why = "--stdio takes smtp or pop3";
	else if (o->workers < 0 || o->workers > 64)
		why = "--workers must be 1..64";
	if (why) {
		fprintf(stderr, "posthornd: %s\n", why);
		main_usage(stderr);
		return EX_USAGE;
	}
	return 0;
}

/* Prints each line of err as "posthornd: LINE" to stderr. */
static void main_print_errors(struct buf *err)
{
	char *text = buf_cstr(err);
	if (!text || !*text) {
		fprintf(stderr, "posthornd: unknown error\n");
		return;
	}
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		fprintf(stderr, "posthornd: %s\n", line);
}

/* Problems config_load let pass (a world-readable password file). */
static void main_log_warnings(const struct posthorn_config *cfg)
{
	if (!cfg->warnings)
		return;
	struct buf copy = BUF_INIT;
	buf_puts(&copy, cfg->warnings);
	char *text = buf_cstr(&copy);
	for (char *line = text ? strtok(text, "\n") : NULL; line;
	     line = strtok(NULL, "\n"))
		log_warn(NULL, "%s", line);
	buf_free(&copy);
}

static void main_log_errors(const char *what, struct buf *err)
{
	char *text = buf_cstr(err);
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		log_error(NULL, "%s: %s", what, line);
}

/* ---- start-up steps ---- */

/* Forks into the background. The parent waits on a pipe for the child's
 * verdict (one byte: 0 ready, else the exit status) and exits with it, so
 * `posthornd -c CONF` still fails visibly when a late step fails. Returns
 * the write end in the child, or -1 on failure (errno kept). */
static int main_daemonise(void)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(fds[1]);
		unsigned char status = EX_OSERR;
		ssize_t n;
		while ((n = read(fds[0], &status, 1)) < 0 && errno == EINTR)
			;
		_exit(n == 1 ? status : EX_OSERR);
	}
	close(fds[0]);
	setsid();
	if (chdir("/") < 0)
		return -1;
	umask(027);
	/* stderr stays until "ready" so start-up errors reach the terminal. */
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return fds[1];
}

static void main_notify(struct daemon_state *d, int status)
{
	if (d->notify_fd < 0)
		return;
	unsigned char b = (unsigned char)status;
	if (write(d->notify_fd, &b, 1) < 0)
		log_debug(NULL, "telling the parent: %s", strerror(errno));
	close(d->notify_fd);
	d->notify_fd = -1;
}

static int main_write_pid_file(struct daemon_state *d, const char *path)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fchmod(fd, 0644) < 0 || fs_write_all(fd, text, (size_t)n) < 0) {
		log_error(NULL, "pid file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	d->pid_file = strdup(path);
	return 0;
}

/* Started as root: become run_user for good. 0, or an exit status. */
static int main_drop_privileges(const char *user)
{
	if (geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_error(NULL, "run user %s does not exist", user);
		return EX_NOUSER;
	}
	if (pw->pw_uid == 0) {
		log_warn(NULL, "user = %s is root: privileges are not dropped", user);
		return 0;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		log_error(NULL, "cannot become %s: %s", user, strerror(errno));
		return EX_OSERR;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || geteuid() == 0) {
		log_error(NULL, "could regain root after dropping to %s", user);
		return EX_OSERR;
	}
	log_info(NULL, "running as %s (uid %ld, gid %ld)", user,
	         (long)pw->pw_uid, (long)pw->pw_gid);
	return 0;
}

/* ---- signals ---- */

static void main_on_term(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	(void)what;
	log_info(NULL, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (d->outq)
		outq_shutdown(d->outq);
	server_shutdown(d->srv);
}

static void main_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	(void)sig;
	(void)what;
	struct world *old = server_world(d->srv);
	struct buf err = BUF_INIT;
	log_info(NULL, "SIGHUP: reloading %s", old->cfg.path);
	struct world *w = world_load(old->cfg.path, 1, old, &err);
	if (!w) {
		main_log_errors("reload failed, keeping the running configuration",
		                &err);
		buf_free(&err);
		return;
	}
	main_log_warnings(&w->cfg);
	server_reload(d->srv, w);
	if (d->outq)
		outq_reload(d->outq, w);
	log_info(NULL, "reloaded: %zu users, %zu aliases, %zu domains",
	         w->users.count, w->aliases.count, w->cfg.ndomains);
	world_unref(&w);
	buf_free(&err);
}

/* SIGUSR1 (posthornctl queue flush): every queued item is due now. */
static void main_on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	(void)sig;
	(void)what;
	log_info(NULL, "SIGUSR1: flushing the queue");
	if (d->outq)
		outq_flush(d->outq);
}

static int main_add_signals(struct daemon_state *d)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		d->signals[i] = evsignal_new(d->base, sigs[i],
		                             sigs[i] == SIGHUP ? main_on_hup
		                             : sigs[i] == SIGUSR1 ? main_on_usr1
		                             : main_on_term, d);
		if (!d->signals[i] || evsignal_add(d->signals[i], NULL) < 0)
			return -1;
	}
	return 0;
}

/* Switches a daemon's logging to syslog and lets go of the terminal. */
static void main_detach_log(enum log_level level)
{
	log_open("posthornd", 0, level);
	int null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, STDERR_FILENO);
		close(null);
	}
}

static int main_run_loop(struct daemon_state *d, const struct options *o,
                         enum log_level level)
{
	struct buf err = BUF_INIT;
	if (evthread_use_pthreads() < 0 || !(d->base = event_base_new()) ||
	    !(d->jobs = jobs_new(d->base, o->workers)) || main_add_signals(d) < 0) {
		log_error(NULL, "cannot set up the event loop or worker threads");
		return EX_OSERR;
	}
	if (d->notify_fd >= 0)
		main_detach_log(level);
	if (server_start(d->srv, d->base, d->jobs, &err) < 0) {
		main_log_errors("start", &err);
		buf_free(&err);
		return EX_OSERR;
	}
	if (!(d->outq = outq_new(d->base, server_world(d->srv), &err))) {
		main_log_errors("queue manager", &err);
		buf_free(&err);
		return EX_OSERR;
	}
	log_info(NULL, "ready (posthornd %s, pid %ld)", POSTHORN_VERSION,
	         (long)getpid());
	main_notify(d, 0);
	event_base_dispatch(d->base);
	/* The sessions are gone; deliveries get what is left of
	 * shutdown_timeout (their recipients stay queued otherwise). */
	if (outq_drain(d->outq))
		event_base_dispatch(d->base);
	log_info(NULL, "exiting");
	return 0;
}

static void main_cleanup(struct daemon_state *d)
{
	if (d->pid_file && unlink(d->pid_file) < 0)
		log_debug(NULL, "removing %s: %s", d->pid_file, strerror(errno));
	free(d->pid_file);
	int stuck = (d->srv && server_connections(d->srv) > 0) ||
	            (d->outq && outq_busy(d->outq) > 0);
	outq_free(&d->outq);
	server_free(&d->srv);
	for (size_t i = 0; i < sizeof d->signals / sizeof d->signals[0]; i++)
		if (d->signals[i])
			event_free(d->signals[i]);
	if (stuck)
		return; /* a job never returned: leave threads and loop be */
	jobs_free(&d->jobs);
	if (d->base)
		event_base_free(d->base);
	libevent_global_shutdown();
}

static int main_serve(struct world *w, const struct options *o,
                      enum log_level level)
{
	struct daemon_state d = {.notify_fd = -1};
	struct buf err = BUF_INIT;
	int status = 0;
	d.srv = server_new(w);
	if (!d.srv) {
		fprintf(stderr, "posthornd: out of memory\n");
		return EX_OSERR;
	}
	if (server_bind(d.srv, &err) < 0) {
		main_print_errors(&err);
		status = EX_OSERR;
	} else if (!o->foreground && (d.notify_fd = main_daemonise()) < 0) {
		fprintf(stderr, "posthornd: cannot daemonise: %s\n", strerror(errno));
		status = EX_OSERR;
	} else if (w->cfg.pid_file && main_write_pid_file(&d, w->cfg.pid_file) < 0) {
		status = EX_CANTCREAT;
	} else {
		status = main_drop_privileges(w->cfg.run_user);
	}
	if (status == 0)
		status = main_run_loop(&d, o, level);
	main_notify(&d, status);
	buf_free(&err);
	main_cleanup(&d);
	return status;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	int rc = main_parse(argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN);
	enum log_level level = o.stdio_proto
		? (o.verbose >= 2 ? LOG_LVL_DEBUG : o.verbose ? LOG_LVL_INFO : LOG_LVL_ERROR)
		: (o.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	log_open("posthornd", 1, level);
	struct buf err = BUF_INIT;
	struct world *w = world_load(o.config, !o.stdio_proto, NULL, &err);
	if (!w) {
		main_print_errors(&err);
		buf_free(&err);
		return EX_CONFIG;
	}
	buf_free(&err);
	main_log_warnings(&w->cfg);
	if (o.check) {
		printf("posthornd: %s: ok (%zu users, %zu aliases)\n", w->cfg.path,
		       w->users.count, w->aliases.count);
		rc = 0;
	} else if (o.stdio_proto) {
		rc = main_drop_privileges(w->cfg.run_user);
		if (rc == 0)
			rc = stdio_run(w, proto_by_name(o.stdio_proto), o.session_id);
	} else {
		rc = main_serve(w, &o, level);
	}
	world_unref(&w);
	return rc;
}
