/* SPDX-License-Identifier: MIT */
/* Userspace payload path and the socket I/O of TLS sides: io_uring recv and
 * send on each side's fixed buffers, OpenSSL in between, bounded buffers
 * for backpressure, half-close propagated each way. */
#ifndef KTLSGW_RELAY_H
#define KTLSGW_RELAY_H

#include "common.h"
#include "conn-t.h"

/* Points the four buffers of @c at @mem (WORKER_BUF_BLOCK bytes, borrowed). */
void relay_bind_buffers(struct conn *c, unsigned char *mem);

/* Arms a recv on side @s unless one is armed, the side hit EOF, or rx is
 * full. 0 or -errno. */
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

#endif
