/* SPDX-License-Identifier: MIT */
/* A URL split for a plain-HTTP GET, and the answer read back. */
#ifndef KTLSGW_HTTPGET_T_H
#define KTLSGW_HTTPGET_T_H

#include <stddef.h>

struct http_target {
	char host[256];			/* numeric or a name; no brackets */
	char port[8];
	char path[512];
	char text[300];			/* "host:port" ("[v6]:port") for messages */
};

struct http_reply {
	char *buf;			/* owned: the whole answer, NUL-terminated */
	size_t len;
	int status;			/* HTTP status code */
	const char *body;		/* borrowed: inside buf */
	size_t body_len;
	const char *failed_at;		/* on error: "connect", "exchange" or "answer" */
};

#endif
