/* SPDX-License-Identifier: MIT */
/* The ring of one worker: SQE helpers, the submit-and-wait call (the only
 * one in the program) and the CQE dispatch table. An op is armed from its
 * SQE to its last CQE; a conn op is also counted in conn->inflight. */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <sys/mman.h>
#include <time.h>

#include <liburing.h>

#include "conn.h"
#include "listener.h"
#include "relay.h"
#include "splice.h"
#include "upstream.h"
#include "worker.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOP_ASAN 1
#endif
#endif
#ifdef LOOP_ASAN
#include <sanitizer/asan_interface.h>
/* A buffer handed to the kernel must be live memory for the whole op. */
#define CHECK_BUF(p, n) BUG_ON(__asan_region_is_poisoned((void *)(p), (n)) != NULL)
#else
#define CHECK_BUF(p, n) ((void)(p), (void)(n))
#endif

static op_fn *const handlers[OP__COUNT] = {
	[OP_ACCEPT] = listener_on_accept,
	[OP_WAKE] = worker_on_wake,
	[OP_TICK] = worker_on_tick,
	[OP_RECV] = relay_on_recv,
	[OP_SEND] = relay_on_send,
	[OP_CONNECT] = upstream_on_connect,
	[OP_POLL] = splice_on_poll,
};

uint64_t loop_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Setups from the cheapest to the most portable. DEFER_TASKRUN (6.1+) runs
 * completion work only when the worker waits, never as an interrupt of its
 * user code; it needs SINGLE_ISSUER, and R_DISABLED lets the worker thread,
 * not the thread that built the ring, become that single issuer. */
static const unsigned int setup_flags[] = {
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
	IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN,
	IORING_SETUP_CQSIZE,
};

int loop_init(struct loop *l, unsigned int entries)
{
	struct io_uring_params p;
	unsigned int i;
	int ret = -EINVAL;

	l->ring = calloc(1, sizeof(*l->ring));
	if (!l->ring)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(setup_flags) && ret == -EINVAL; i++) {
		p = (struct io_uring_params){ .flags = setup_flags[i], .cq_entries = entries * 4 };
		ret = io_uring_queue_init_params(entries, l->ring, &p);
	}
	if (ret < 0) {
		free(l->ring);
		l->ring = NULL;
		return ret;
	}
	l->disabled = p.flags & IORING_SETUP_R_DISABLED;
	l->now_ms = loop_clock_ms();
	return 0;
}

int loop_start(struct loop *l)
{
	if (!l->disabled)
		return 0;
	l->disabled = false;
	/* liburing 2.3 declares io_uring_enable_rings() but does not export it. */
	return io_uring_register(l->ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
}

void loop_exit(struct loop *l)
{
	if (!l->ring)
		return;
	io_uring_queue_exit(l->ring);
	free(l->ring);
	l->ring = NULL;
}

/* An SQE, flushing the queue to the kernel once when it is full. */
static struct io_uring_sqe *get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(l->ring);

	if (sqe)
		return sqe;
	if (io_uring_submit(l->ring) < 0)
		return NULL;
	return io_uring_get_sqe(l->ring);
}

static void arm(struct io_uring_sqe *sqe, struct op *op)
{
	BUG_ON(op->armed);
	op->armed = true;
	if (op->conn)
		op->conn->inflight++;
	io_uring_sqe_set_data(sqe, op);
}

int loop_accept(struct loop *l, struct op *op, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	arm(sqe, op);
	return 0;
}

int loop_read(struct loop *l, struct op *op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	CHECK_BUF(buf, len);
	io_uring_prep_read(sqe, fd, buf, (unsigned int)len, 0);
	arm(sqe, op);
	return 0;
}

int loop_recv(struct loop *l, struct op *op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	CHECK_BUF(buf, len);
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	arm(sqe, op);
	return 0;
}

int loop_send(struct loop *l, struct op *op, int fd, const void *buf, size_t len)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	CHECK_BUF(buf, len);
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	arm(sqe, op);
	return 0;
}

int loop_connect(struct loop *l, struct op *op, int fd, const struct sockaddr *sa,
		 socklen_t len)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_connect(sqe, fd, sa, len);
	arm(sqe, op);
	return 0;
}

int loop_timeout(struct loop *l, struct op *op, struct loop_ts *ts)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_timeout(sqe, (struct __kernel_timespec *)ts, 0, 0);
	arm(sqe, op);
	return 0;
}

int loop_poll(struct loop *l, struct op *op, int fd, unsigned int events)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, fd, events);
	arm(sqe, op);
	return 0;
}

/* ---- provided-buffer ring ---- */

static size_t bufring_bytes(unsigned int entries)
{
	return ((size_t)entries * sizeof(struct io_uring_buf) + 4095) & ~(size_t)4095;
}

int loop_bufring_init(struct loop *l, struct loop_bufring *r, unsigned int entries,
		      unsigned int bgid)
{
	struct io_uring_buf_reg reg = { 0 };
	void *br;
	int ret;

	if (!entries || (entries & (entries - 1)) || entries > 32768)
		return -EINVAL;
	br = mmap(NULL, bufring_bytes(entries), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED)
		return -errno;
	io_uring_buf_ring_init(br);
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	reg.ring_entries = entries;
	reg.bgid = (uint16_t)bgid;
	ret = io_uring_register_buf_ring(l->ring, &reg, 0);
	if (ret < 0) {
		munmap(br, bufring_bytes(entries));
		return ret;
	}
	*r = (struct loop_bufring){ br, entries, bgid };
	return 0;
}

void loop_bufring_free(struct loop_bufring *r)
{
	if (r->br)
		munmap(r->br, bufring_bytes(r->entries));
	r->br = NULL;
}

void loop_bufring_add(struct loop_bufring *r, void *buf, unsigned int len, unsigned int bid)
{
	io_uring_buf_ring_add(r->br, buf, len, (unsigned short)bid,
			      io_uring_buf_ring_mask(r->entries), 0);
	io_uring_buf_ring_advance(r->br, 1);
}

int loop_recv_select(struct loop *l, struct op *op, int fd, size_t len,
		     const struct loop_bufring *r)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, fd, NULL, len, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)r->bgid;
	arm(sqe, op);
	return 0;
}

int loop_cqe_buf_id(unsigned int cqe_flags)
{
	if (!(cqe_flags & IORING_CQE_F_BUFFER))
		return -1;
	return (int)(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
}

int loop_cancel(struct loop *l, struct op *op)
{
	struct io_uring_sqe *sqe;

	if (!op->armed)
		return 0;
	sqe = get_sqe(l);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data(sqe, NULL);
	return 0;
}

static void dispatch(struct io_uring_cqe *cqe)
{
	struct op *op = io_uring_cqe_get_data(cqe);
	struct conn *c;
	int ret;

	if (!op)
		return;	/* a cancel request's own completion */
	c = op->conn;
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		op->armed = false;
		if (c)
			c->inflight--;
	}
	if (c && c->state == CONN_ST_CLOSING) {
		if (op->kind == OP_RECV)
			relay_on_recv_closed(op, cqe->flags);
		goto out_put;
	}
	ret = handlers[op->kind](op, cqe->res, cqe->flags);
	if (ret < 0 && ret != -EAGAIN && c)
		conn_fail(c, ret);
out_put:
	if (c)
		conn_put_if_done(c);
}

int loop_run_once(struct loop *l, unsigned int max_wait_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = max_wait_ms / 1000,
		.tv_nsec = (long long)(max_wait_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;
	int ret;

	ret = io_uring_submit_and_wait_timeout(l->ring, &cqe, 1, &ts, NULL);
	/* -EBUSY/-EAGAIN: CQ overflow or no memory for now; reaping fixes it */
	if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN)
		return ret;
	l->now_ms = loop_clock_ms();
	io_uring_for_each_cqe(l->ring, head, cqe) {
		dispatch(cqe);
		n++;
	}
	io_uring_cq_advance(l->ring, n);
	l->n_cqes += n;
	return 0;
}
