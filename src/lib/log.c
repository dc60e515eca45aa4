/* log: the process's one log (see log.h). Each line is built in a stack
 * buffer and leaves in one write(2) or one syslog(3) call, so threads never
 * interleave within a line and logging never allocates. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

/* Sanitised text longer than this is cut and ends in "...". */
#define LOG_TEXT_MAX 2000

static struct {
	char ident[64];       /* openlog keeps the pointer: it must stay put */
	int to_stderr;
	int syslog_open;
	enum log_level min;
} log_state = {"posthorn", 1, 0, LOG_LVL_INFO};

static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int level_priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
                                       LOG_DEBUG};

void log_open(const char *ident, int to_stderr, enum log_level min)
{
	if (log_state.syslog_open) {
		closelog();
		log_state.syslog_open = 0;
	}
	snprintf(log_state.ident, sizeof log_state.ident, "%s",
	         ident && *ident ? ident : "posthorn");
	log_state.to_stderr = to_stderr;
	log_state.min = min;
	if (!to_stderr) {
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_state.syslog_open = 1;
	}
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. The
 * checks follow RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Writes a sanitised copy of in[0..n) to out (room for max bytes plus
 * "..." and a NUL) and returns its length. Printable ASCII and valid UTF-8
 * pass; control bytes, DEL, the C1 controls U+0080-U+009F (terminals obey
 * them too) and invalid bytes become \xHH. Never splits an escape or a
 * character; appends "..." when anything was left out. */
static size_t log_sanitise(const char *in, size_t n, char *out, size_t max)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0;
	while (i < n) {
		size_t len = 1, width;
		int escape;
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			escape = 0;
		} else if (s[i] >= 0x80 && (len = utf8_length(s + i, n - i)) > 0) {
			/* A C1 control: escaping its lead byte leaves the
			 * continuation byte invalid, so it is escaped next. */
			escape = s[i] == 0xc2 && s[i + 1] < 0xa0;
			len = escape ? 1 : len;
		} else {
			len = 1;
			escape = 1;
		}
		width = escape ? 4 * len : len;
		if (o + width > max)
			break;
		for (size_t k = 0; k < len; k++, i++) {
			if (escape)
				o += (size_t)sprintf(out + o, "\\x%02X", s[i]);
			else
				out[o++] = (char)s[i];
		}
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

static void log_write_stderr(enum log_level level, const char *session,
                             const char *text)
{
	char line[LOG_TEXT_MAX + 512];
	char stamp[32] = "";
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (gmtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	int n = snprintf(line, sizeof line, "%s %s[%ld]: %s: %s%s%s%s\n", stamp,
	                 log_state.ident, (long)getpid(), level_names[level],
	                 session ? "[" : "", session ? session : "",
	                 session ? "] " : "", text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line) {
		n = (int)sizeof line - 1;
		line[n - 1] = '\n';
	}
	/* Nothing sensible is left to do when stderr itself fails. */
	(void)fs_write_all(STDERR_FILENO, line, (size_t)n);
}

void log_msg(enum log_level level, const char *session, const char *fmt, ...)
{
	if ((unsigned)level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	if (level > log_state.min)
		return;
	int saved = errno; /* callers log, then return -1 with errno */
	char raw[2 * LOG_TEXT_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	/* raw holds more than LOG_TEXT_MAX bytes whenever the text was cut
	 * here, so the sanitiser still sees that it must add "...". */
	size_t len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
	char text[LOG_TEXT_MAX + 4];
	log_sanitise(raw, len, text, LOG_TEXT_MAX);
	char sid[68];
	if (session)
		log_sanitise(session, strlen(session), sid, 64);
	if (log_state.to_stderr)
		log_write_stderr(level, session ? sid : NULL, text);
	else if (session)
		syslog(level_priorities[level], "%s: [%s] %s", level_names[level],
		       sid, text);
	else
		syslog(level_priorities[level], "%s: %s", level_names[level], text);
	errno = saved;
}
