/* SPDX-License-Identifier: MIT */
/* Metrics hooks of the data plane: tags each connected socket for the BPF
 * program, feeds the worker's counter shard (connections, bytes per leg at
 * close, handshakes by path and duration, failures by reason). */
#include "gwmetrics.h"

#include <time.h>

#include "ebpf.h"
#include "log.h"
#include "metrics.h"
#include "observe-t.h"
#include "tls-t.h"
#include "worker-t.h"

_Static_assert((int)SIDE_CLIENT == (int)METRICS_LEG_CLIENT &&
		       (int)SIDE_UPSTREAM == (int)METRICS_LEG_UPSTREAM,
	       "a conn side is a metrics leg");

static uint64_t clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static enum tls_mode conn_mode(const struct conn *c)
{
	return c->ls->cfg->tls_mode;
}

void gwmetrics_leg_open(struct conn *c, int s)
{
	struct metrics_counters *mx = c->w->mx;
	int ret;

	if (!mx)
		return;
	if (s == SIDE_CLIENT)
		c->mx.t_accept_us = clock_us();
	ret = ebpf_tag_socket(c->w->gw->obs->e, c->side[s].fd, conn_mode(c), c->ls->idx,
			      (enum metrics_leg)s);
	if (ret < 0)	/* best effort: only this socket's kernel figures are lost */
		log_debug("w=%u conn=%llu: bpf tag: %s", c->w->id, (unsigned long long)c->id,
			  strerror(-ret));
	metrics_conn_open(mx, conn_mode(c), c->ls->idx, (enum metrics_leg)s);
	c->mx.open_legs |= 1u << s;
}

void gwmetrics_handshake_end(struct conn *c)
{
	if (!c->w->mx || !c->mx.t_accept_us)
		return;
	c->mx.hs_us = clock_us() - c->mx.t_accept_us;
	c->mx.hs_ended = true;
}

static void count_handshake(struct conn *c, enum metrics_offload path)
{
	c->mx.hs_counted = true;
	metrics_handshake_done(c->w->mx, conn_mode(c), c->ls->idx, path, c->mx.hs_us);
}

void gwmetrics_relay_start(struct conn *c)
{
	bool ktls = c->side[SIDE_CLIENT].flags & SIDE_F_KTLS;

	if (!c->w->mx || !c->mx.hs_ended || c->mx.hs_counted)
		return;
	count_handshake(c, ktls ? METRICS_OFFLOAD_KTLS : METRICS_OFFLOAD_USERSPACE);
}

/* A switch, not a table: a tls_fail added later maps to "other", not to
 * whatever a zeroed table slot would say. */
static enum metrics_hs_fail reason_of(int fail)
{
	switch (fail) {
	case TLS_FAIL_NO_CERT:
		return METRICS_HS_NO_CERT;
	case TLS_FAIL_UNKNOWN_CA:
		return METRICS_HS_UNKNOWN_CA;
	case TLS_FAIL_EXPIRED:
		return METRICS_HS_EXPIRED;
	case TLS_FAIL_WRONG_PURPOSE:
		return METRICS_HS_WRONG_PURPOSE;
	case TLS_FAIL_REVOKED:
		return METRICS_HS_REVOKED;
	case TLS_FAIL_PROTOCOL_VERSION:
		return METRICS_HS_PROTOCOL_VERSION;
	case TLS_FAIL_NO_SHARED_CIPHER:
		return METRICS_HS_NO_SHARED_CIPHER;
	case TLS_FAIL_NONE:		/* reset or EOF before any TLS error */
	case TLS_FAIL_NOT_TLS:
	case TLS_FAIL_PEER_CLOSED:
		return METRICS_HS_BAD_INPUT;
	case TLS_FAIL_UPSTREAM_CERT:
		return METRICS_HS_UPSTREAM_TLS;
	default:
		return METRICS_HS_OTHER;
	}
}

/* Why the client handshake of @c never completed. A refusal drains its
 * alert (DRAIN with c->fail set); plaintext HTTP drains the 400 answer. */
static enum metrics_hs_fail client_fail_reason(const struct conn *c)
{
	if (c->closed_in == CONN_ST_HANDSHAKE && c->end && !strcmp(c->end, "handshake timeout"))
		return METRICS_HS_TIMEOUT;
	if (c->closed_in == CONN_ST_DRAIN && c->fail == TLS_FAIL_NONE)
		return METRICS_HS_PLAINTEXT_HTTP;
	return reason_of(c->fail);
}

/* Handshakes and upstream connects the conn ended inside. A conn cut by
 * the gateway stopping failed nothing. */
static void count_unfinished(struct conn *c)
{
	struct metrics_counters *mx = c->w->mx;

	if (c->w->stopping)
		return;
	if ((c->flags & CONN_F_TLS_CLIENT) && !c->mx.hs_ended)
		metrics_handshake_failed(mx, conn_mode(c), c->ls->idx, client_fail_reason(c));
	else if (c->mx.hs_ended && !c->mx.hs_counted)
		count_handshake(c, METRICS_OFFLOAD_USERSPACE);	/* no payload path reached */
	if (c->closed_in == CONN_ST_CONNECT_UP)
		metrics_upstream_failed(mx, conn_mode(c), c->ls->idx);
	if (c->closed_in == CONN_ST_UP_HANDSHAKE)
		metrics_handshake_failed(mx, conn_mode(c), c->ls->idx, METRICS_HS_UPSTREAM_TLS);
}

static void close_leg(struct conn *c, int s, bool bpf)
{
	struct metrics_close_info ci = {
		.bytes_in = c->side[s].bytes_in,
		.bytes_out = c->side[s].bytes_out,
	};

	/* With BPF on, the kernel samples RTT and retransmits itself. */
	if (!bpf && c->side[s].fd >= 0 && metrics_tcp_info(c->side[s].fd, &ci) < 0)
		ci.srtt_us = ci.retrans = 0;
	metrics_conn_close(c->w->mx, conn_mode(c), c->ls->idx, (enum metrics_leg)s, &ci);
}

void gwmetrics_conn_end(struct conn *c)
{
	bool bpf;
	int s;

	if (!c->w->mx || !c->ls)
		return;
	bpf = ebpf_is_enabled(c->w->gw->obs->e);
	count_unfinished(c);
	for (s = 0; s < SIDE__COUNT; s++)
		if (c->mx.open_legs & (1u << s))
			close_leg(c, s, bpf);
	c->mx.open_legs = 0;
}
