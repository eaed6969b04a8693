/* SPDX-License-Identifier: MIT */
/* Connection lifecycle: pool, state transitions, failure funnel, the
 * branch from handshake to payload path, and the access log line. */
#ifndef KTLSGW_CONN_H
#define KTLSGW_CONN_H

#include "common.h"
#include "conn-t.h"
#include "log.h"
#include "worker-t.h"

struct worker;

/* Name of a state for logs ("RELAY_USER"). */
const char *conn_state_name(enum conn_state s);

/* True when the machine may go from @from to @to. */
bool conn_is_allowed(enum conn_state from, enum conn_state to);

/* The only writer of c->state. BUG()s on a transition outside the table. */
void conn_set_state(struct conn *c, enum conn_state to);

/* Takes a conn from @w's pool, initialised (fds -1, ops bound), in
 * CONN_ST_FREE and on @w's active list. NULL when memory runs out. */
struct conn *conn_get(struct worker *w);

/* Returns @c to the pool when it is CLOSING and nothing is in flight: closes
 * fds, frees SSLs, pipes and buffers, writes the access line. */
void conn_put_if_done(struct conn *c);

/* Releases @c at once, whatever is in flight: only once its ring is gone. */
void conn_force_release(struct conn *c);

/* Ends @c with @err (-errno); logs why when @c->end is not yet set. Safe to
 * call more than once and from any state. */
void conn_fail(struct conn *c, int err);

/* Enters DRAIN: sends what both sides' tx hold (an alert, the 400
 * answer), then closes with c->end; at most DRAIN_MS. 0 or -errno. */
__must_check int conn_drain(struct conn *c);

/* Orderly end: both directions finished. */
void conn_close(struct conn *c, const char *why);

/* Client handshake done (or none in mode 0): pick the upstream and connect. */
__must_check int conn_client_ready(struct conn *c);

/* Upstream connected (and its handshake done): enter the payload path. */
__must_check int conn_start_relay(struct conn *c);

/* Advances @c after I/O on its sides, according to its state. */
__must_check int conn_step(struct conn *c);

/* Expires @c when its deadline has passed at @now (ms). */
void conn_check_deadline(struct conn *c, uint64_t now);

/* One event line: "w=.. conn=.. peer=.. lst=.. <text>". */
void conn_log(const struct conn *c, enum log_level lvl, const char *fmt, ...) __printf(3, 4);

/* The same, rate-limited per worker and @r; notes how many were dropped. */
void conn_log_rl(struct conn *c, enum rl_reason r, enum log_level lvl, const char *fmt, ...)
	__printf(4, 5);

#endif
