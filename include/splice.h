/* SPDX-License-Identifier: MIT */
/* Kernel payload path: each direction moves socket -> pipe -> socket with
 * IORING_OP_SPLICE, a poll linked in front so a splice never blocks an
 * io-wq thread. Used for tlsMode 0 (and for kTLS-offloaded conns). A leg
 * holds a pipe only while bytes move: an idle conn holds just its sockets. */
#ifndef KTLSGW_SPLICE_H
#define KTLSGW_SPLICE_H

#include "common.h"
#include "conn-t.h"
#include "worker-t.h"

#define SPLICE_PIPE_SIZE (256u * 1024)	/* asked with F_SETPIPE_SZ, best effort */

/* Waits for each leg's data; a pipe is taken then. 0 or -errno. */
__must_check int splice_start(struct conn *c);

/* Gives the pipes of @c back to the worker (closes those not empty). */
void splice_release(struct conn *c);

/* Closes the worker's idle pipes that stayed idle since the last call
 * (but a few); called on the worker's tick. */
void splice_pipes_trim(struct worker *w);

/* Closes every idle pipe of @w. */
void splice_pipes_free(struct worker *w);

int splice_on_in(struct op *op, int res, unsigned int cqe_flags);
int splice_on_out(struct op *op, int res, unsigned int cqe_flags);
int splice_on_wait(struct op *op, int res, unsigned int cqe_flags);

#endif
