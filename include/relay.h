/* SPDX-License-Identifier: MIT */
/* Userspace payload path and the socket I/O of TLS sides: io_uring recv and
 * send on each side's on-demand buffers, OpenSSL in between, bounded buffers
 * for backpressure, half-close propagated each way. */
#ifndef KTLSGW_RELAY_H
#define KTLSGW_RELAY_H

#include "common.h"
#include "conn-t.h"

/* Gives every buffer of @c back to its pool (the conn is released). */
void relay_release_buffers(struct conn *c);

/* Gives back the buffers of @c that hold no bytes and no armed op points
 * into (the payload moves to the kernel path). */
void relay_drop_idle(struct conn *c);

/* Arms a recv on side @s unless one is armed, the side hit EOF, or rx is
 * full; an empty rx gives its buffer back first. 0 or -errno. */
__must_check int relay_arm_recv(struct conn *c, int s);

/* Arms a send of side @s's pending tx bytes unless one is armed. */
__must_check int relay_flush(struct conn *c, int s);

/* One RELAY_USER step: moves what it can both ways, arms what is needed,
 * ends the conn once both directions are closed. 0 or -errno. */
__must_check int relay_pump(struct conn *c);

/* True when side @s has nothing left to send. */
bool relay_is_tx_empty(const struct conn *c, int s);

int relay_on_recv(struct op *op, int res, unsigned int cqe_flags);
int relay_on_send(struct op *op, int res, unsigned int cqe_flags);
/* A recv's CQE for a closing conn: keeps the ring buffer it may carry. */
void relay_on_recv_closed(struct op *op, unsigned int cqe_flags);

#endif
