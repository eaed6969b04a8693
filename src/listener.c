/* SPDX-License-Identifier: MIT */
/* Listening sockets, one per listener per worker with SO_REUSEPORT, and the
 * multishot accept that turns each new socket into a conn (or closes it at
 * once when a connection limit is reached). */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "conn.h"
#include "gwmetrics.h"
#include "log.h"
#include "loop.h"
#include "relay.h"
#include "tls.h"
#include "worker.h"

#define BACKLOG 4096

static int set_opt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) < 0 ? -errno : 0;
}

int listener_open(const struct listener_cfg *lc)
{
	int fd, ret;

	fd = socket(lc->bind.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		goto out_log;
	}
	if (lc->bind.addr.ss_family == AF_INET6 && (ret = set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)))
		goto out_close;
	if ((ret = set_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1)) ||
	    (ret = set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1)))
		goto out_close;
	if (bind(fd, (const struct sockaddr *)&lc->bind.addr, lc->bind.addrlen) < 0 ||
	    listen(fd, BACKLOG) < 0) {
		ret = -errno;
		goto out_close;
	}
	return fd;

out_close:
	close(fd);
out_log:
	log_error("listener %s: cannot listen on %s: %s", lc->name, lc->bind.text, strerror(-ret));
	return ret;
}

int listener_probe(const struct listener_cfg *lc)
{
	int fd, ret = 0;

	/* Without SO_REUSEPORT, so a second gateway on the port is an error
	 * instead of silently sharing it. */
	fd = socket(lc->bind.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	(void)set_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (lc->bind.addr.ss_family == AF_INET6)
		(void)set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (bind(fd, (const struct sockaddr *)&lc->bind.addr, lc->bind.addrlen) < 0) {
		ret = -errno;
		log_error("listener %s: cannot listen on %s: %s", lc->name, lc->bind.text,
			  strerror(-ret));
	}
	close(fd);
	return ret;
}

int listener_arm(struct lsock *ls)
{
	return loop_accept(&ls->w->loop, &ls->accept_op, ls->fd);
}

void listener_close(struct lsock *ls)
{
	(void)loop_cancel(&ls->w->loop, &ls->accept_op);
	/* The ring holds a reference to the file: shutdown stops the listening
	 * at once, even if the cancel never reaches the kernel. */
	if (ls->fd >= 0) {
		shutdown(ls->fd, SHUT_RDWR);
		close(ls->fd);
	}
	ls->fd = -1;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const struct sockaddr_in6 *s6 = (const void *)ss;
	const struct sockaddr_in *s4 = (const void *)ss;

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

/* Takes one slot of the global and the listener limit, or none. */
static bool take_slot(struct lsock *ls)
{
	struct gateway *gw = ls->w->gw;
	unsigned int max = ls->w->cfg->max_conns, lmax = ls->cfg->max_conns;

	if (atomic_fetch_add(&gw->n_conns, 1) >= max && max) {
		atomic_fetch_sub(&gw->n_conns, 1);
		return false;
	}
	if (atomic_fetch_add(&gw->lst_conns[ls->idx], 1) >= lmax && lmax) {
		atomic_fetch_sub(&gw->lst_conns[ls->idx], 1);
		atomic_fetch_sub(&gw->n_conns, 1);
		return false;
	}
	return true;
}

void listener_uncount(struct conn *c)
{
	struct gateway *gw = c->w->gw;

	if (!(c->flags & CONN_F_COUNTED))
		return;
	c->flags &= ~CONN_F_COUNTED;
	atomic_fetch_sub(&gw->n_conns, 1);
	atomic_fetch_sub(&gw->lst_conns[c->ls->idx], 1);
}

static void refuse(struct lsock *ls, int fd, const char *why)
{
	unsigned int dropped = 0;

	close(fd);
	if (worker_rl_allow(ls->w, RL_LIMIT, &dropped))
		log_warn("w=%u lst=%s new connection closed at once: %s%s", ls->w->id,
			 ls->cfg->name, why, dropped ? " (similar lines were suppressed)" : "");
}

/* A TLS client side: buffers, SSL, then wait for the ClientHello. */
static int start_tls_client(struct conn *c)
{
	const struct config *cfg = c->w->cfg;
	int ret;

	ret = tls_attach(c, SIDE_CLIENT, c->ls->ctx);
	if (ret < 0)
		return ret;
	c->flags |= CONN_F_TLS_CLIENT;
	conn_set_state(c, CONN_ST_HANDSHAKE);
	c->deadline = cfg->handshake_timeout_ms ? c->t_start + cfg->handshake_timeout_ms : 0;
	return relay_arm_recv(c, SIDE_CLIENT);
}

static int start_conn(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = c->side[SIDE_CLIENT].fd;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_text(&ss, c->peer, sizeof(c->peer));
	(void)set_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
	if (c->ls->ctx)
		return start_tls_client(c);
	return conn_client_ready(c);
}

static void accept_conn(struct lsock *ls, int fd)
{
	struct conn *c;
	int ret;

	if (ls->w->stopping)
		return (void)close(fd);
	if (!take_slot(ls))
		return refuse(ls, fd, "maxConnections reached");
	c = conn_get(ls->w);
	if (!c) {
		atomic_fetch_sub(&ls->w->gw->n_conns, 1);
		atomic_fetch_sub(&ls->w->gw->lst_conns[ls->idx], 1);
		return refuse(ls, fd, "out of memory");
	}
	atomic_fetch_add(&ls->w->gw->n_accepted, 1);
	c->ls = ls;
	c->flags |= CONN_F_COUNTED;
	c->side[SIDE_CLIENT].fd = fd;
	gwmetrics_leg_open(c, SIDE_CLIENT);
	ret = start_conn(c);
	if (ret < 0 && ret != -EAGAIN)
		conn_fail(c, ret);
	if (c->state == CONN_ST_FREE)
		conn_close(c, "could not start");
	conn_put_if_done(c);
}

int listener_on_accept(struct op *op, int res, unsigned int cqe_flags)
{
	struct lsock *ls = loop_owner(op, struct lsock, accept_op);
	unsigned int dropped = 0;
	int ret = 0;

	(void)cqe_flags;
	if (res >= 0)
		accept_conn(ls, res);
	else if (res != -ECANCELED && ls->fd >= 0 && worker_rl_allow(ls->w, RL_LIMIT, &dropped))
		log_warn("w=%u lst=%s accept: %s", ls->w->id, ls->cfg->name, strerror(-res));
	/* After an error (EMFILE...) wait for the tick rather than spin. */
	if (!op->armed && ls->fd >= 0 && !ls->w->stopping) {
		if (res < 0)
			ls->rearm = true;
		else
			ret = listener_arm(ls);
	}
	if (ret < 0)
		log_error("w=%u lst=%s cannot re-arm accept: %s", ls->w->id, ls->cfg->name,
			  strerror(-ret));
	return 0;
}
