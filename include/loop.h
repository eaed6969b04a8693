/* SPDX-License-Identifier: MIT */
/* The only module that talks to liburing: ring setup, SQE helpers and the
 * CQE dispatch table. Every helper marks its op armed and, for a conn op,
 * counts it in conn->inflight; the dispatcher undoes both on the last CQE. */
#ifndef KTLSGW_LOOP_H
#define KTLSGW_LOOP_H

#include <stddef.h>
#include <sys/socket.h>

#include "common.h"
#include "loop-t.h"

/* A CQE handler: one step, arms the next op, returns 0 or -errno (a conn
 * op's failure is passed to conn_fail()). -EAGAIN means "armed, wait". */
typedef int op_fn(struct op *op, int res, unsigned int cqe_flags);

/* The owner of an embedded op. */
#define loop_owner(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Sets up a ring of @entries SQEs. 0 or -errno. */
__must_check int loop_init(struct loop *l, unsigned int entries);
/* Makes the calling thread the ring's only submitter; call it in the thread
 * that runs the loop, before any other loop_* call. 0 or -errno. */
__must_check int loop_start(struct loop *l);
void loop_exit(struct loop *l);

/* Submits what is queued, waits for at least one CQE (or @max_wait_ms),
 * dispatches every CQE ready. 0 or -errno from io_uring_submit_and_wait. */
__must_check int loop_run_once(struct loop *l, unsigned int max_wait_ms);

/* Reads CLOCK_MONOTONIC in milliseconds. */
uint64_t loop_clock_ms(void);

/* SQE helpers: 0 when queued, -EBUSY when the ring cannot take an SQE. The
 * memory they point to must stay valid until the op's CQE (it lives in the
 * op's owner). */
__must_check int loop_accept(struct loop *l, struct op *op, int fd);
__must_check int loop_read(struct loop *l, struct op *op, int fd, void *buf, size_t len);
__must_check int loop_recv(struct loop *l, struct op *op, int fd, void *buf, size_t len);
__must_check int loop_send(struct loop *l, struct op *op, int fd, const void *buf, size_t len);
__must_check int loop_connect(struct loop *l, struct op *op, int fd, const struct sockaddr *sa,
			      socklen_t len);
__must_check int loop_timeout(struct loop *l, struct op *op, struct loop_ts *ts);
/* A one-shot POLL_ADD of @events on @fd. */
__must_check int loop_poll(struct loop *l, struct op *op, int fd, unsigned int events);
/* Provided-buffer ring of @entries (power of two) as group @bgid on @l's
 * ring. 0 or -errno (-EINVAL: a kernel without buffer rings). */
__must_check int loop_bufring_init(struct loop *l, struct loop_bufring *r, unsigned int entries,
				   unsigned int bgid);
/* Unmaps the ring; after loop_exit() (the kernel no longer reads it). */
void loop_bufring_free(struct loop_bufring *r);
/* Hands buffer @bid (@len bytes at @buf) to the kernel for later recvs. */
void loop_bufring_add(struct loop_bufring *r, void *buf, unsigned int len, unsigned int bid);
/* A recv of up to @len bytes into a buffer the kernel picks from @r when
 * data arrives; the CQE names it (loop_cqe_buf_id), or res is -ENOBUFS. */
__must_check int loop_recv_select(struct loop *l, struct op *op, int fd, size_t len,
				  const struct loop_bufring *r);
/* The ring buffer a CQE carries, or -1. */
int loop_cqe_buf_id(unsigned int cqe_flags);
/* Asks the kernel to cancel @op when armed; its CQE then ends it. 0, or
 * -EBUSY when no SQE was free (the caller makes the op end another way). */
int loop_cancel(struct loop *l, struct op *op);

#endif
