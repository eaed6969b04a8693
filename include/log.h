/* SPDX-License-Identifier: MIT */
/* Logging: one line per event on stderr, with time, level and a context
 * prefix; OpenSSL error queues are drained into a single line. */
#ifndef KTLSGW_LOG_H
#define KTLSGW_LOG_H

#include "common.h"

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG__COUNT
};

/* Lines above this level are dropped. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Parses "error|warn|info|debug"; returns the level or -EINVAL. */
int log_level_parse(const char *s);

void log_msg(enum log_level lvl, const char *fmt, ...) __printf(2, 3);

/* Logs @what followed by every entry of the calling thread's OpenSSL error
 * queue, then empties it. */
void log_ssl_errors(enum log_level lvl, const char *what);

/* Fills @buf with the OpenSSL error queue ("; "-joined) and empties it. */
void log_ssl_drain(char *buf, size_t len);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                   \
	do {                                             \
		if (log_get_level() >= LOG_DEBUG)        \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
