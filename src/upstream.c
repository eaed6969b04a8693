/* SPDX-License-Identifier: MIT */
/* The upstream leg: route by negotiated ALPN, non-blocking socket, connect
 * through the ring (the worker tick enforces connectTimeout), then either the
 * internal TLS handshake or the payload path. */
#include "upstream.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "conn.h"
#include "gwmetrics.h"
#include "loop.h"
#include "tls.h"
#include "worker.h"

const struct endpoint *upstream_pick(const struct listener_cfg *lc, const char *alpn)
{
	unsigned int i;

	if (!alpn || !alpn[0])
		return &lc->upstream;
	for (i = 0; i < lc->n_alpn && i < CFG_ALPN_MAX; i++)
		if (lc->alpn[i].has_upstream && !strcmp(lc->alpn[i].proto, alpn))
			return &lc->alpn[i].upstream;
	return &lc->upstream;
}

int upstream_connect(struct conn *c)
{
	int fd, one = 1;

	fd = socket(c->up->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	c->side[SIDE_UPSTREAM].fd = fd;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return loop_connect(&c->w->loop, &c->ops[SLOT_CONNECT], fd,
			    (const struct sockaddr *)&c->up->addr, c->up->addrlen);
}

static int start_up_tls(struct conn *c)
{
	const struct config *cfg = c->w->cfg;
	int ret;

	ret = tls_attach(c, SIDE_UPSTREAM, c->ls->up_ctx);
	if (ret < 0)
		return ret;
	c->flags |= CONN_F_TLS_UP;
	conn_set_state(c, CONN_ST_UP_HANDSHAKE);
	c->deadline = cfg->handshake_timeout_ms ? loop_clock_ms() + cfg->handshake_timeout_ms : 0;
	return conn_step(c);
}

int upstream_on_connect(struct op *op, int res, unsigned int cqe_flags)
{
	struct conn *c = op->conn;

	(void)cqe_flags;
	if (res < 0) {
		c->end = "upstream connect failed";
		conn_log_rl(c, RL_UPSTREAM, LOG_WARN, "upstream %s: connect: %s", c->up->text,
			    strerror(-res));
		return res;
	}
	gwmetrics_leg_open(c, SIDE_UPSTREAM);
	if (c->ls->up_ctx)
		return start_up_tls(c);
	return conn_start_relay(c);
}
