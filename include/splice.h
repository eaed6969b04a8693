/* SPDX-License-Identifier: MIT */
/* Kernel payload path: each direction moves socket -> pipe -> socket with
 * IORING_OP_SPLICE, a poll linked in front so a splice never blocks an
 * io-wq thread. Used for tlsMode 0 (and for kTLS-offloaded conns). */
#ifndef KTLSGW_SPLICE_H
#define KTLSGW_SPLICE_H

#include "common.h"
#include "conn-t.h"

#define SPLICE_PIPE_SIZE (256u * 1024)	/* asked with F_SETPIPE_SZ, best effort */

/* Creates both pipes and arms the first splice of each leg. 0 or -errno. */
__must_check int splice_start(struct conn *c);

/* Closes the pipes of @c (no-op when none). */
void splice_release(struct conn *c);

int splice_on_in(struct op *op, int res, unsigned int cqe_flags);
int splice_on_out(struct op *op, int res, unsigned int cqe_flags);

#endif
