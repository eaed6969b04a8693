/* SPDX-License-Identifier: MIT */
/* Graceful stop (SIGTERM/SIGINT): every worker closes its listeners at once,
 * lets open conns finish up to gateway.drainTimeout, then ends the rest with
 * close_notify and exits its loop. */
#ifndef KTLSGW_DRAIN_H
#define KTLSGW_DRAIN_H

#include "common.h"
#include "worker-t.h"

/* Main thread: asks every worker of @gw to drain. Returns at once. */
void gateway_drain(struct gateway *gw);

/* Main thread: true once every started worker has left its loop. */
bool gateway_is_drained(struct gateway *gw);

/* Worker, on its wake-up: true when the wake-up asks for a drain not yet begun. */
bool drain_is_wanted(const struct worker *w);

/* Worker: closes its listeners, starts the drainTimeout clock. */
void drain_begin(struct worker *w);

/* Worker, on each tick: ends the drain when no conn is left, or closes the
 * rest once drainTimeout has passed. Sets w->stopping then. */
void drain_check(struct worker *w);

#endif
