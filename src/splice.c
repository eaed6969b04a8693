/* SPDX-License-Identifier: MIT */
/* Kernel payload path. Leg 0 moves client -> upstream, leg 1 upstream ->
 * client, each socket -> pipe -> socket with IORING_OP_SPLICE. A poll is
 * linked in front of every splice: sockets are non-blocking, so a splice
 * never parks an io-wq thread, and readiness costs no extra round trip. */
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

static int leg_src(int g)
{
	return g == 0 ? SIDE_CLIENT : SIDE_UPSTREAM;
}

static int leg_dst(int g)
{
	return g == 0 ? SIDE_UPSTREAM : SIDE_CLIENT;
}

#define PIPE_KEEP 0	/* idle pipes a trim leaves: none, so fds follow use */

static int open_pipe(struct leg *l)
{
	if (pipe2(l->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		l->pipe[0] = l->pipe[1] = -1;
		return -errno;
	}
	/* Best effort: the default 64 KiB works, only slower. */
	(void)fcntl(l->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

/* A pipe for leg @l: an idle one of the worker's, or a new one. */
static int pipe_get(struct pipepool *pp, struct leg *l)
{
	if (!pp->n)
		return open_pipe(l);
	pp->n--;
	l->pipe[0] = pp->fd[pp->n][0];
	l->pipe[1] = pp->fd[pp->n][1];
	if (pp->n < pp->n_low)
		pp->n_low = pp->n;
	return 0;
}

static void close_pipe(int fd[2])
{
	close(fd[0]);
	close(fd[1]);
	fd[0] = fd[1] = -1;
}

/* Leg @l's pipe back to the pool when empty, else closed (its bytes are
 * the conn's). Only while no op uses it. */
static void pipe_put(struct pipepool *pp, struct leg *l)
{
	if (l->pipe[0] < 0)
		return;
	if (l->in_pipe || pp->n == PIPE_POOL_MAX) {
		close_pipe(l->pipe);
		return;
	}
	pp->fd[pp->n][0] = l->pipe[0];
	pp->fd[pp->n][1] = l->pipe[1];
	pp->n++;
	l->pipe[0] = l->pipe[1] = -1;
}

void splice_pipes_trim(struct worker *w)
{
	struct pipepool *pp = &w->pipes;
	unsigned int n = pp->n_low > PIPE_KEEP ? pp->n_low - PIPE_KEEP : 0;

	while (n--)
		close_pipe(pp->fd[--pp->n]);
	pp->n_low = pp->n;
}

void splice_pipes_free(struct worker *w)
{
	while (w->pipes.n)
		close_pipe(w->pipes.fd[--w->pipes.n]);
	w->pipes.n_low = 0;
}

/* Poll-linked splice into the leg's pipe (kTLS: after a control record). */
static int arm_in(struct conn *c, int g)
{
	int src = c->side[leg_src(g)].fd;

	return loop_poll_splice(&c->w->loop, &c->ops[SLOT_POLL_IN_0 + g], POLLIN, src,
				&c->ops[SLOT_SPLICE_IN_0 + g], src, c->leg[g].pipe[1],
				SPLICE_PIPE_SIZE);
}

static int arm_out(struct conn *c, int g)
{
	int dst = c->side[leg_dst(g)].fd;

	return loop_poll_splice(&c->w->loop, &c->ops[SLOT_POLL_OUT_0 + g], POLLOUT, dst,
				&c->ops[SLOT_SPLICE_OUT_0 + g], c->leg[g].pipe[0], dst,
				c->leg[g].in_pipe);
}

/* The leg's pipe is empty: back to the pool, and wait for the source. */
static int arm_wait(struct conn *c, int g)
{
	pipe_put(&c->w->pipes, &c->leg[g]);
	return loop_poll(&c->w->loop, &c->ops[SLOT_WAIT_0 + g], c->side[leg_src(g)].fd,
			 POLLIN | POLLRDHUP);
}

int splice_start(struct conn *c)
{
	int g, ret;

	for (g = 0; g < 2; g++) {
		ret = arm_wait(c, g);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Leg @g's source became readable (data, EOF, an error, a kTLS control
 * record): take a pipe and let the splice tell which. The poll just said
 * readable, so the splice goes without a linked one. */
int splice_on_wait(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;
	int g = op->idx;
	int src = c->side[leg_src(g)].fd;

	(void)cqe_flags;
	if (res < 0)
		return res;
	if (c->leg[g].pipe[0] < 0) {
		res = pipe_get(&c->w->pipes, &c->leg[g]);
		if (res < 0)
			return res;
	}
	return loop_splice(&c->w->loop, &c->ops[SLOT_SPLICE_IN_0 + g], src, c->leg[g].pipe[1],
			   SPLICE_PIPE_SIZE);
}

void splice_release(struct conn *c)
{
	int g;

	for (g = 0; g < 2; g++)
		pipe_put(&c->w->pipes, &c->leg[g]);
}

/* Source EOF and the pipe empty: FIN to the destination; both legs done
 * ends the conn. */
static int leg_finish(struct conn *c, int g)
{
	struct side *dst = &c->side[leg_dst(g)];

	offload_close_notify(c, leg_dst(g));
	if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return -errno;
	dst->flags |= SIDE_F_SHUT_DONE;
	c->leg[g].done = true;
	if (c->leg[0].done && c->leg[1].done)
		conn_close(c, "closed by peers");
	return 0;
}

int splice_on_in(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;
	int g = op->idx;

	(void)cqe_flags;
	if (res == -EAGAIN)
		return arm_wait(c, g);	/* readiness was stale: poll again */
	if ((res == -EINVAL || res == -EIO) && (c->side[leg_src(g)].flags & SIDE_F_KTLS)) {
		/* kTLS RX: the next record is not data (alert, ticket, KeyUpdate) */
		res = offload_ctrl(c, leg_src(g));
		if (res == OFFLOAD_CTRL_REARM)
			return arm_in(c, g);
		if (res == OFFLOAD_CTRL_CLOSED)
			return 0;
	}
	if (res < 0)
		return res;
	if (res == 0) {
		log_debug("w=%u conn=%llu leg %d: EOF", c->w->id, (unsigned long long)c->id, g);
		c->leg[g].eof = true;
		c->side[leg_src(g)].flags |= SIDE_F_EOF;
		return leg_finish(c, g);
	}
	c->leg[g].in_pipe += (uint32_t)res;
	c->side[leg_src(g)].bytes_in += (uint64_t)res;
	c->t_last = c->w->loop.now_ms;
	return arm_out(c, g);
}

int splice_on_out(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;
	int g = op->idx;

	(void)cqe_flags;
	if (res == -EAGAIN)
		return arm_out(c, g);
	if (res <= 0)
		return res < 0 ? res : -EPIPE;
	c->leg[g].in_pipe -= (uint32_t)res;
	c->side[leg_dst(g)].bytes_out += (uint64_t)res;
	c->payload[leg_src(g)] += (uint64_t)res;
	c->t_last = c->w->loop.now_ms;
	if (c->leg[g].in_pipe)
		return arm_out(c, g);
	return arm_wait(c, g);
}
