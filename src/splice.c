/* SPDX-License-Identifier: MIT */
/* Kernel payload path. Leg 0 moves client -> upstream, leg 1 upstream ->
 * client, each socket -> pipe -> socket with splice(2) called by the worker
 * itself on non-blocking fds; the ring only waits for readiness (a one-shot
 * POLL_ADD when a splice says EAGAIN). io_uring's own SPLICE op always runs
 * in an io-wq thread: a context switch each way for every chunk, which cost
 * three quarters of mode 0's CPU. A leg holds a pipe only while bytes are
 * on their way; empty pipes wait in a small per-worker pool, so an idle
 * conn costs its two sockets and nothing else. */
#include "splice.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "loop.h"
#include "offload.h"
#include "worker.h"

/* Bytes one leg may move per wake-up before it lets the other conns run. */
#define LEG_BUDGET (4u * SPLICE_PIPE_SIZE)
/* A plaintext read shorter than this took what a request or reply brought:
 * the next splice would say EAGAIN, so wait for readiness instead of asking.
 * (A kTLS socket returns one record per splice: short says nothing there.) */
#define SHORT_READ (16u * 1024)

static int leg_src(int g)
{
	return g == 0 ? SIDE_CLIENT : SIDE_UPSTREAM;
}

static int leg_dst(int g)
{
	return g == 0 ? SIDE_UPSTREAM : SIDE_CLIENT;
}

/* ---- the worker's pool of empty pipes ---- */

static int pipe_get(struct worker *w, struct leg *l)
{
	struct pipepool *p = &w->pipes;

	if (p->n) {
		p->n--;
		if (p->n < p->n_low)
			p->n_low = p->n;
		l->pipe[0] = p->fds[p->n][0];
		l->pipe[1] = p->fds[p->n][1];
		return 0;
	}
	if (pipe2(l->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		l->pipe[0] = l->pipe[1] = -1;
		return -errno;
	}
	/* Best effort: the default 64 KiB works, only slower. */
	(void)fcntl(l->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

static void close_pipe(struct leg *l)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (l->pipe[i] >= 0)
			close(l->pipe[i]);
		l->pipe[i] = -1;
	}
}

/* An empty pipe back to the pool; one still holding bytes is closed. */
static void pipe_put(struct worker *w, struct leg *l)
{
	struct pipepool *p = &w->pipes;

	if (l->pipe[0] < 0)
		return;
	if (l->in_pipe || p->n == PIPEPOOL_MAX) {
		close_pipe(l);
		return;
	}
	p->fds[p->n][0] = l->pipe[0];
	p->fds[p->n][1] = l->pipe[1];
	p->n++;
	l->pipe[0] = l->pipe[1] = -1;
}

static void trim_pool(struct pipepool *p, unsigned int keep)
{
	while (p->n > keep) {
		p->n--;
		close(p->fds[p->n][0]);
		close(p->fds[p->n][1]);
	}
	if (p->n_low > p->n)
		p->n_low = p->n;
}

void splice_pool_free(struct worker *w)
{
	trim_pool(&w->pipes, 0);
}

void splice_pool_trim(struct worker *w)
{
	struct pipepool *p = &w->pipes;

	/* n_low pipes sat unused for a whole tick: idle conns need none. */
	trim_pool(p, p->n - p->n_low);
	p->n_low = p->n;
}

/* ---- legs ---- */

static int arm_poll(struct conn *c, int g, bool out)
{
	int fd = c->side[out ? leg_dst(g) : leg_src(g)].fd;
	struct op *op = &c->ops[(out ? SLOT_POLL_OUT_0 : SLOT_POLL_IN_0) + g];

	return loop_poll(&c->w->loop, op, fd, out ? POLLOUT : POLLIN);
}

/* Source EOF and the pipe empty: FIN to the destination; both legs done
 * ends the conn. */
static int leg_finish(struct conn *c, int g)
{
	struct side *dst = &c->side[leg_dst(g)];

	log_debug("w=%u conn=%llu leg %d: EOF", c->w->id, (unsigned long long)c->id, g);
	c->leg[g].eof = true;
	c->side[leg_src(g)].flags |= SIDE_F_EOF;
	offload_close_notify(c, leg_dst(g));
	if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return -errno;
	dst->flags |= SIDE_F_SHUT_DONE;
	c->leg[g].done = true;
	pipe_put(c->w, &c->leg[g]);
	if (c->leg[0].done && c->leg[1].done)
		conn_close(c, "closed by peers");
	return 0;
}

/* Pipe -> destination. 1 when the pipe is empty, 0 when a POLLOUT waits. */
static int drain_pipe(struct conn *c, int g)
{
	struct leg *l = &c->leg[g];
	ssize_t n;

	while (l->in_pipe) {
		n = splice(l->pipe[0], NULL, c->side[leg_dst(g)].fd, NULL, l->in_pipe,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && errno == EAGAIN)
			return arm_poll(c, g, true);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		l->in_pipe -= (uint32_t)n;
		c->side[leg_dst(g)].bytes_out += (uint64_t)n;
		c->payload[leg_src(g)] += (uint64_t)n;
	}
	return 1;
}

/* A kTLS source whose next record is not data (alert, ticket, KeyUpdate).
 * 1: go on reading; 0: the conn is closing; < 0: an error. */
static int on_ctrl_record(struct conn *c, int g)
{
	int ret = offload_ctrl(c, leg_src(g));

	if (ret == OFFLOAD_CTRL_REARM)
		return 1;
	if (ret == OFFLOAD_CTRL_EOF)
		return leg_finish(c, g);
	return ret < 0 ? ret : 0;
}

/* Source -> pipe. > 0 bytes in, 0 when a POLLIN waits or the leg ended. */
static ssize_t fill_pipe(struct conn *c, int g, bool *ended)
{
	struct side *src = &c->side[leg_src(g)];
	struct leg *l = &c->leg[g];
	ssize_t n;
	int ret;

	for (;;) {
		if (l->pipe[0] < 0 && (ret = pipe_get(c->w, l)) < 0)
			return ret;
		n = splice(src->fd, NULL, l->pipe[1], NULL, SPLICE_PIPE_SIZE,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0)
			return n;
		if (n == 0) {
			*ended = true;
			return leg_finish(c, g);
		}
		if (errno == EAGAIN) {
			pipe_put(c->w, l);	/* empty: nothing to hold while idle */
			return arm_poll(c, g, false);
		}
		if ((errno != EINVAL && errno != EIO) || !(src->flags & SIDE_F_KTLS))
			return -errno;
		ret = on_ctrl_record(c, g);
		if (ret <= 0) {
			*ended = true;
			return ret;
		}
	}
}

/* Moves what is ready on leg @g until a splice would block or a short read
 * says the source is drained (then a poll is armed), or the budget is spent
 * (then a poll that fires at once yields). */
static int pump_leg(struct conn *c, int g)
{
	struct leg *l = &c->leg[g];
	uint32_t moved = 0;
	bool ended = false, drained = false;
	ssize_t n;
	int ret;

	for (;;) {
		ret = drain_pipe(c, g);
		if (ret <= 0)
			return ret;
		if (drained)
			pipe_put(c->w, l);	/* empty: nothing to hold while idle */
		if (drained || moved >= LEG_BUDGET)
			return arm_poll(c, g, false);
		n = fill_pipe(c, g, &ended);
		if (n <= 0 || ended)
			return (int)n;
		l->in_pipe += (uint32_t)n;
		moved += (uint32_t)n;
		drained = n < SHORT_READ && !(c->side[leg_src(g)].flags & SIDE_F_KTLS);
		c->side[leg_src(g)].bytes_in += (uint64_t)n;
		c->t_last = c->w->loop.now_ms;
	}
}

int splice_start(struct conn *c)
{
	int g, ret;

	c->w->pipes.n_conns++;
	for (g = 0; g < 2; g++) {
		ret = pump_leg(c, g);
		if (ret < 0)
			return ret;
		if (c->state == CONN_ST_CLOSING)
			return 0;
	}
	return 0;
}

void splice_release(struct conn *c)
{
	struct pipepool *p = &c->w->pipes;
	int g;

	for (g = 0; g < 2; g++)
		close_pipe(&c->leg[g]);
	if (!(c->flags & CONN_F_SPLICE))
		return;
	/* Keep no more spare pipes than conns that could use them. */
	p->n_conns--;
	trim_pool(p, p->n_conns);
}

int splice_on_poll(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;

	(void)cqe_flags;
	if (res < 0)
		return res;
	return pump_leg(c, op->idx);
}
