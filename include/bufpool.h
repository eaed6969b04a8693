/* SPDX-License-Identifier: MIT */
/* Buffers on demand: a conn side holds a buffer only while it holds bytes.
 * Tx buffers and fallback rx buffers come from the worker's free list; a
 * recv on an empty side lets the kernel pick a buffer of the worker's
 * provided-buffer ring when data arrives. Buffers go back once empty; the
 * free list gives back to the kernel what stayed idle for a whole trim
 * period, so RSS follows what is in use. */
#ifndef KTLSGW_BUFPOOL_H
#define KTLSGW_BUFPOOL_H

#include "common.h"
#include "bufpool-t.h"
#include "conn-t.h"

struct loop;

/* One buffer: four full TLS records and their framing, so a send carries
 * up to 64 KiB of payload and a recv takes as much. */
#define BUF_SIZE (68u * 1024)
/* Every recv that completes in one batch takes a ring buffer before the
 * worker returns any, so the ring must cover the sides active at once
 * (16 entries: a tenth of rr64's recvs hit -ENOBUFS; 64: none). The kernel
 * takes them in turn, so all end up touched: up to 4.3 MiB of RSS that
 * stays per worker under bulk load (a page each under small requests). */
#define BUF_RING_ENTRIES 64u	/* power of two */
#define BUF_RING_GROUP 0u
#define BUF_KEEP 4u		/* idle buffers a trim leaves in the free list */

/* Sets up @p's provided-buffer ring on @l. 0, or -errno: @p then works
 * without a ring (recvs take a free-list buffer while they wait). */
__must_check int bufpool_init(struct bufpool *p, struct loop *l);

/* Frees every idle buffer and the ring's memory; after the ring is gone. */
void bufpool_exit(struct bufpool *p);

/* Gives @b a buffer when it has none. 0 or -ENOMEM. */
__must_check int bufpool_want(struct bufpool *p, struct buf *b);

/* Takes ring buffer @bid (from a recv's CQE) as @b's buffer; @b has none. */
void bufpool_adopt(struct bufpool *p, struct buf *b, unsigned int bid);

/* Gives @b's buffer back (to the ring or the free list) when it holds no
 * bytes. Only while no armed op points into it. */
void bufpool_drop_if_empty(struct bufpool *p, struct buf *b);

/* Gives @b's buffer back whatever it holds (the conn is gone). */
void bufpool_drop(struct bufpool *p, struct buf *b);

/* True when recvs on empty sides can use the ring. */
bool bufpool_has_ring(const struct bufpool *p);

/* Unmaps the idle buffers that stayed idle since the last call (but
 * BUF_KEEP); called on the worker's tick. */
void bufpool_trim(struct bufpool *p);

#endif
