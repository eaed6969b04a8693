/* SPDX-License-Identifier: MIT */
/* The Prometheus endpoint (gateway.metrics): GET /metrics served by its own
 * thread and epoll loop, so scrapes never block or slow the workers. */
#ifndef KTLSGW_HTTPD_H
#define KTLSGW_HTTPD_H

#include "common.h"
#include "httpd-t.h"

/* Binds and listens on @ep on the calling thread (every failure is logged,
 * a bind one with the address and the errno text, and returned as -errno:
 * the caller only stops the start), then starts the
 * endpoint thread with every signal blocked. @m and @e (NULL or an ebpf
 * state) are borrowed and must outlive httpd_stop(); the listeners are
 * copied. On success the caller owns *out and must call httpd_stop(). */
__must_check int httpd_start(const struct endpoint *ep, struct metrics *m, struct ebpf *e,
			     const struct listener_cfg *listeners, unsigned int n_listeners,
			     struct httpd **out);

/* After a reload: label values (names, configured modes) from the new config.
 * Copies; safe while the endpoint thread runs. Returns 0 or -ENOMEM. */
__must_check int httpd_set_listeners(struct httpd *h, const struct listener_cfg *listeners,
				     unsigned int n_listeners);

/* Bound address, "127.0.0.1:9100": tells which port ":0" got. */
const char *httpd_addr(const struct httpd *h);

/* Stops and joins the thread, closes every socket, frees @h. NULL is a no-op. */
void httpd_stop(struct httpd *h);

#endif
