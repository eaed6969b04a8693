/* SPDX-License-Identifier: MIT */
/* A small blocking HTTP/1.1 GET with an overall deadline: how `ktlsgw
 * stats` reads the metrics endpoint. No TLS, no redirects. */
#ifndef KTLSGW_HTTPGET_H
#define KTLSGW_HTTPGET_H

#include "common.h"
#include "config-t.h"
#include "httpget-t.h"

/* http://HOST[:PORT][/PATH] (HOST may be [v6]; PORT defaults to 80, PATH to
 * /metrics). Returns 0 or -EINVAL. */
__must_check int httpget_parse_url(const char *url, struct http_target *t);

/* The target of a bound endpoint; an unspecified address (0.0.0.0, [::]) is
 * reached on loopback. PATH is /metrics. */
void httpget_target_of(const struct endpoint *ep, struct http_target *t);

/* GETs @t within @timeout_ms. Returns 0 with *r filled (any status; the
 * caller frees with httpget_reply_free), or -errno with r->failed_at set
 * (-EBADMSG: not an HTTP answer, -EFBIG: over 64 MiB). */
__must_check int httpget(const struct http_target *t, int timeout_ms, struct http_reply *r);

void httpget_reply_free(struct http_reply *r);

#endif
