/* SPDX-License-Identifier: MIT */
/* The metrics endpoint's request parser: an HTTP/1.x request head in, the
 * answer's status out. Pure and bounded, so it is fuzzed and table-tested. */
#ifndef KTLSGW_HTTPREQ_H
#define KTLSGW_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

/* Looks at the bytes received so far, buf[0..len), of a buffer of @max.
 * Returns 0 while the head is incomplete and may still fit; 200 for
 * GET or HEAD /metrics[?query] (*head_only true for HEAD); otherwise the
 * error status to answer: 400 malformed, 404 other path, 405 other method
 * on /metrics, 431 head not complete within @max bytes, 505 not HTTP/1.x. */
int httpreq_parse(const char *buf, size_t len, size_t max, bool *head_only);

#endif
