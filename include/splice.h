/* SPDX-License-Identifier: MIT */
/* Kernel payload path: each direction moves socket -> pipe -> socket with
 * IORING_OP_SPLICE, a poll linked in front so a splice never blocks an
 * io-wq thread. Used for tlsMode 0 (and for kTLS-offloaded conns). A leg
 * gets its pipe on its first data: an idle conn holds just its sockets. */
#ifndef KTLSGW_SPLICE_H
#define KTLSGW_SPLICE_H

#include "common.h"
#include "conn-t.h"

#define SPLICE_PIPE_SIZE (256u * 1024)	/* asked with F_SETPIPE_SZ, best effort */

/* Waits for each leg's first data; its pipe is made then. 0 or -errno. */
__must_check int splice_start(struct conn *c);

/* Closes the pipes of @c (no-op when none). */
void splice_release(struct conn *c);

int splice_on_in(struct op *op, int res, unsigned int cqe_flags);
int splice_on_out(struct op *op, int res, unsigned int cqe_flags);
int splice_on_wait(struct op *op, int res, unsigned int cqe_flags);

#endif
