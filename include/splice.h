/* SPDX-License-Identifier: MIT */
/* Kernel payload path: each direction moves socket -> pipe -> socket with
 * non-blocking splice(2) from the worker, the ring waiting for readiness.
 * Used for tlsMode 0 (and for kTLS-offloaded conns). */
#ifndef KTLSGW_SPLICE_H
#define KTLSGW_SPLICE_H

#include "common.h"
#include "conn-t.h"

#define SPLICE_PIPE_SIZE (256u * 1024)	/* asked with F_SETPIPE_SZ, best effort */

/* Moves what is ready on both legs and arms a poll for the rest. 0 or -errno. */
__must_check int splice_start(struct conn *c);

/* Gives back the pipes of @c (no-op when none). */
void splice_release(struct conn *c);

/* Closes the worker's pooled empty pipes. */
void splice_pool_free(struct worker *w);

/* Closes the pooled pipes no leg took since the last call (worker tick). */
void splice_pool_trim(struct worker *w);

/* A leg's source is readable or its destination writable. */
int splice_on_poll(struct op *op, int res, unsigned int cqe_flags);

#endif
