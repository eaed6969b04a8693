/* SPDX-License-Identifier: MIT */
/* Listening sockets: one SO_REUSEPORT socket per listener per worker, so the
 * kernel spreads new connections over the workers; multishot accept. */
#ifndef KTLSGW_LISTENER_H
#define KTLSGW_LISTENER_H

#include "common.h"
#include "config-t.h"
#include "worker-t.h"

/* Binds and listens on @lc->bind with SO_REUSEPORT, non-blocking. Returns
 * the fd, or -errno after logging why. */
__must_check int listener_open(const struct listener_cfg *lc);

/* Checks that @lc->bind is free (no other process listens there, even with
 * SO_REUSEPORT). 0 or -errno after logging why. */
__must_check int listener_probe(const struct listener_cfg *lc);

/* Arms the multishot accept of @ls. 0 or -errno. */
__must_check int listener_arm(struct lsock *ls);

/* Closes @ls's socket (the armed accept then ends). */
void listener_close(struct lsock *ls);

/* OP_ACCEPT handler: takes a conn for the new socket or closes it at once
 * when over a limit. */
int listener_on_accept(struct op *op, int res, unsigned int cqe_flags);

/* Releases the limit slots a conn holds. */
void listener_uncount(struct conn *c);

#endif
