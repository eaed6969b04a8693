/* SPDX-License-Identifier: MIT */
/* Log lines on stderr: "2026-11-28T16:20:16.123Z INFO message". One write()
 * per line so lines from worker threads never interleave. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

static enum log_level cur_level = LOG_INFO;
static const char *const level_names[LOG__COUNT] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

void log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_level_parse(const char *s)
{
	static const char *const lower[LOG__COUNT] = { "error", "warn", "info", "debug" };
	unsigned int i;

	for (i = 0; i < LOG__COUNT; i++)
		if (!strcmp(s, lower[i]))
			return (int)i;
	return -EINVAL;
}

static size_t format_time(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, len - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
	return n;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	size_t n;
	int ret;

	if (lvl > cur_level)
		return;
	n = format_time(line, sizeof(line));
	n += snprintf(line + n, sizeof(line) - n, " %s ", level_names[lvl]);
	va_start(ap, fmt);
	ret = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = ret < 0 ? n : n + (size_t)ret;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;	/* truncated: still one line */
	line[n++] = '\n';
	ret = write(STDERR_FILENO, line, n);
	(void)ret;
}

void log_ssl_drain(char *buf, size_t len)
{
	unsigned long e;
	size_t n = 0;

	buf[0] = 0;
	while ((e = ERR_get_error()) != 0) {
		if (n + 2 < len) {
			if (n)
				n += snprintf(buf + n, len - n, "; ");
			ERR_error_string_n(e, buf + n, len - n);
			n = strlen(buf);
		}
	}
}

void log_ssl_errors(enum log_level lvl, const char *what)
{
	char errs[1024];

	log_ssl_drain(errs, sizeof(errs));
	log_msg(lvl, "%s: %s", what, errs[0] ? errs : "no OpenSSL error recorded");
}
