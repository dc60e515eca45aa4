/* log: one line per event, to stderr (foreground) or syslog (daemon).
 * Each line carries the session id it belongs to, so a reader can follow one
 * connection through a busy log. Client-supplied text is sanitised here:
 * control bytes and invalid UTF-8 never reach the log verbatim. */
#ifndef POSTHORN_LOG_H
#define POSTHORN_LOG_H

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* Sets where lines go: to_stderr nonzero writes "time ident[pid]: level:
 * [session] text" lines to stderr, else syslog(3) with LOG_MAIL. Lines
 * below min are dropped. May be called again (after fork, on SIGHUP). */
void log_open(const char *ident, int to_stderr, enum log_level min);

/* Logs one line. session is the session id ("a1b2c3d4") or NULL for the
 * daemon itself. The formatted text is sanitised (see above) and cut at
 * 2000 bytes. */
void log_msg(enum log_level level, const char *session, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Convenience wrappers. */
#define log_error(sid, ...) log_msg(LOG_LVL_ERROR, (sid), __VA_ARGS__)
#define log_warn(sid, ...)  log_msg(LOG_LVL_WARN, (sid), __VA_ARGS__)
#define log_info(sid, ...)  log_msg(LOG_LVL_INFO, (sid), __VA_ARGS__)
#define log_debug(sid, ...) log_msg(LOG_LVL_DEBUG, (sid), __VA_ARGS__)

#endif
