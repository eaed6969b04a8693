/* SPDX-License-Identifier: MIT */
/* A worker's I/O buffers: a free list of idle buffers that the worker
 * trims as load falls, and the io_uring provided-buffer ring that recvs on
 * empty sides draw from, so an idle side pins no memory. */
#ifndef KTLSGW_BUFPOOL_T_H
#define KTLSGW_BUFPOOL_T_H

#include <stdbool.h>
#include <stdint.h>

#include "loop-t.h"

struct bufpool {
	void *free;		/* owned: idle buffers, linked through their first word */
	unsigned int n_free, n_total;
	unsigned int n_free_low;	/* fewest idle since the last trim */
	unsigned char *ring_mem;	/* owned (mmap): the ring's buffers; NULL: no ring */
	struct loop_bufring ring;
};

#endif
