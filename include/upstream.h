/* SPDX-License-Identifier: MIT */
/* The upstream leg: which endpoint (per-ALPN route or the listener's) and a
 * non-blocking connect through the ring, bounded by connectTimeout. */
#ifndef KTLSGW_UPSTREAM_H
#define KTLSGW_UPSTREAM_H

#include "common.h"
#include "config-t.h"
#include "conn-t.h"

/* The route for the negotiated @alpn ("" = none): the listener's upstream
 * unless an alpn_route for it names one. Borrowed from @lc. */
const struct endpoint *upstream_pick(const struct listener_cfg *lc, const char *alpn);

/* Opens a socket to c->up and arms the connect. 0 or -errno. */
__must_check int upstream_connect(struct conn *c);

/* OP_CONNECT handler. */
int upstream_on_connect(struct op *op, int res, unsigned int cqe_flags);

#endif
