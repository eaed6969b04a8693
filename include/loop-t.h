/* SPDX-License-Identifier: MIT */
/* io_uring operations as the rest of the gateway sees them: a struct op is
 * embedded in its owner (a conn, a listener socket, a worker) and its
 * address is the SQE's user_data, so a CQE finds its owner without lookup. */
#ifndef KTLSGW_LOOP_T_H
#define KTLSGW_LOOP_T_H

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct io_uring;

enum op_kind {
	OP_NONE = 0,		/* never dispatched */
	OP_ACCEPT,		/* multishot accept on a listening socket */
	OP_WAKE,		/* read of the worker's eventfd: stop */
	OP_TICK,		/* the worker's periodic timer: deadlines */
	OP_RECV,		/* recv into a side's rx buffer */
	OP_SEND,		/* send from a side's tx buffer */
	OP_CONNECT,		/* upstream connect */
	OP_POLL,		/* readiness of a splice leg's socket */
	OP__COUNT
};

struct op {
	uint8_t kind;		/* enum op_kind */
	uint8_t idx;		/* which side or leg of the owner this op serves */
	bool armed;		/* an SQE is in flight (multishot: until the last CQE) */
	struct conn *conn;	/* borrowed: the owner conn, NULL for worker ops */
};

/* A 64-bit timespec laid out as the kernel's __kernel_timespec. */
struct loop_ts {
	int64_t tv_sec;
	long long tv_nsec;
};

/* A provided-buffer ring (IORING_REGISTER_PBUF_RING): the kernel picks one
 * of its buffers when a recv finds data, so a waiting recv pins none. */
struct loop_bufring {
	void *br;		/* owned (mmap): struct io_uring_buf_ring; NULL when none */
	unsigned int entries;	/* power of two */
	unsigned int bgid;	/* buffer group id */
};

struct loop {
	struct io_uring *ring;	/* owned */
	uint64_t now_ms;	/* CLOCK_MONOTONIC, refreshed on each wake-up */
	uint64_t n_cqes;	/* completions dispatched, for tests and stats */
	bool disabled;		/* made R_DISABLED: loop_start() in the worker thread */
};

#endif
