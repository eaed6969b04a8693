/* SPDX-License-Identifier: MIT */
/* The data plane's metrics hooks on a conn without sockets: legs opened and
 * closed with their bytes, handshakes by path and duration, every way a
 * handshake or an upstream connect can end unfinished, and a stop that
 * counts no failure. */
#include "../lib/t.h"
#include "../../src/gwmetrics.c"	/* white-box: client_fail_reason */

#include "metrics.h"

struct rig {
	struct metrics *m;
	struct ebpf e;			/* disabled: tags are no-ops */
	struct observe obs;
	struct gateway gw;
	struct worker *w;		/* big (scratch): on the heap */
	struct listener_cfg lc;
	struct lsock ls;
	struct conn c;
};

static struct rig *rig_new(enum tls_mode mode)
{
	struct rig *r = calloc(1, sizeof(*r));

	BUG_ON(!r);
	r->w = calloc(1, sizeof(*r->w));
	r->m = metrics_new(1);
	BUG_ON(!r->w || !r->m);
	r->obs = (struct observe){ .m = r->m, .e = &r->e, .n_workers = 1 };
	r->gw.obs = &r->obs;
	r->w->gw = &r->gw;
	r->w->mx = metrics_shard(r->m, 0);
	r->lc.tls_mode = mode;
	r->ls.cfg = &r->lc;
	r->ls.idx = 3;
	r->c.w = r->w;
	r->c.ls = &r->ls;
	r->c.side[0].fd = r->c.side[1].fd = -1;
	if (mode != TLS_MODE_PLAIN)
		r->c.flags |= CONN_F_TLS_CLIENT;
	return r;
}

static void rig_free(struct rig *r)
{
	metrics_free(r->m);
	free(r->w);
	free(r);
}

static const struct metrics_counters *shard(struct rig *r)
{
	return metrics_shard(r->m, 0);
}

static const struct metrics_tls *tls_of(struct rig *r)
{
	return &shard(r)->tls[r->lc.tls_mode][3];
}

/* A client leg accepted, the handshake done, relayed, closed. */
static void run_ok(struct rig *r, unsigned int side_flags)
{
	gwmetrics_leg_open(&r->c, SIDE_CLIENT);
	gwmetrics_handshake_end(&r->c);
	gwmetrics_leg_open(&r->c, SIDE_UPSTREAM);
	r->c.side[SIDE_CLIENT].flags |= side_flags;
	gwmetrics_relay_start(&r->c);
	r->c.side[SIDE_CLIENT].bytes_in = 1100;
	r->c.side[SIDE_CLIENT].bytes_out = 2200;
	r->c.side[SIDE_UPSTREAM].bytes_in = 2000;
	r->c.side[SIDE_UPSTREAM].bytes_out = 1000;
	r->c.closed_in = CONN_ST_RELAY_USER;
	gwmetrics_conn_end(&r->c);
}

TEST(legs_and_bytes_counted_at_close)
{
	struct rig *r = rig_new(TLS_MODE_ONEWAY);
	const struct metrics_conn *cl = &shard(r)->conn[TLS_MODE_ONEWAY][3][METRICS_LEG_CLIENT];
	const struct metrics_conn *up = &shard(r)->conn[TLS_MODE_ONEWAY][3][METRICS_LEG_UPSTREAM];

	run_ok(r, 0);
	EXPECT_EQ(cl->opened, 1);
	EXPECT_EQ(cl->closed, 1);
	EXPECT_EQ(cl->bytes_in, 1100);
	EXPECT_EQ(cl->bytes_out, 2200);
	EXPECT_EQ(up->opened, 1);
	EXPECT_EQ(up->closed, 1);
	EXPECT_EQ(up->bytes_in, 2000);
	EXPECT_EQ(up->bytes_out, 1000);
	EXPECT_EQ(tls_of(r)->handshakes[METRICS_OFFLOAD_USERSPACE], 1);
	EXPECT_EQ(tls_of(r)->handshakes[METRICS_OFFLOAD_KTLS], 0);
	rig_free(r);
}

TEST(ktls_flag_selects_the_offload_label_once)
{
	struct rig *r = rig_new(TLS_MODE_MUTUAL);
	uint64_t n = 0;
	unsigned int i;

	run_ok(r, SIDE_F_KTLS);
	gwmetrics_relay_start(&r->c);	/* RELAY_CTRL -> RELAY_SPLICE again: not twice */
	EXPECT_EQ(tls_of(r)->handshakes[METRICS_OFFLOAD_KTLS], 1);
	EXPECT_EQ(tls_of(r)->handshakes[METRICS_OFFLOAD_USERSPACE], 0);
	for (i = 0; i < METRICS_HIST_SLOTS; i++)
		n += tls_of(r)->hs_duration.slot[i];
	EXPECT_EQ(n, 1);
	rig_free(r);
}

TEST(plain_mode_counts_no_handshake)
{
	struct rig *r = rig_new(TLS_MODE_PLAIN);

	gwmetrics_leg_open(&r->c, SIDE_CLIENT);
	gwmetrics_leg_open(&r->c, SIDE_UPSTREAM);
	gwmetrics_relay_start(&r->c);
	r->c.closed_in = CONN_ST_RELAY_SPLICE;
	gwmetrics_conn_end(&r->c);
	EXPECT_EQ(tls_of(r)->handshakes[0] + tls_of(r)->handshakes[1], 0);
	EXPECT_EQ(shard(r)->conn[0][3][METRICS_LEG_CLIENT].closed, 1);
	rig_free(r);
}

struct fail_case {
	enum conn_state closed_in;
	int fail;
	const char *end;
	enum metrics_hs_fail want;
};

TEST(handshake_failure_reasons)
{
	static const struct fail_case cases[] = {
		{ CONN_ST_DRAIN, TLS_FAIL_WRONG_PURPOSE, "wrong purpose", METRICS_HS_WRONG_PURPOSE },
		{ CONN_ST_DRAIN, TLS_FAIL_NO_CERT, "no cert", METRICS_HS_NO_CERT },
		{ CONN_ST_DRAIN, TLS_FAIL_UNKNOWN_CA, "x", METRICS_HS_UNKNOWN_CA },
		{ CONN_ST_DRAIN, TLS_FAIL_NOT_TLS, "x", METRICS_HS_BAD_INPUT },
		{ CONN_ST_DRAIN, TLS_FAIL_REVOKED, "x", METRICS_HS_REVOKED },
		{ CONN_ST_DRAIN, TLS_FAIL_BAD_CERT, "x", METRICS_HS_OTHER },
		{ CONN_ST_DRAIN, TLS_FAIL_NONE, "plaintext HTTP on a TLS port",
		  METRICS_HS_PLAINTEXT_HTTP },
		{ CONN_ST_HANDSHAKE, TLS_FAIL_NONE, "handshake timeout", METRICS_HS_TIMEOUT },
		{ CONN_ST_HANDSHAKE, TLS_FAIL_NONE, "connection reset", METRICS_HS_BAD_INPUT },
		{ CONN_ST_HANDSHAKE, TLS_FAIL_PEER_CLOSED, "x", METRICS_HS_BAD_INPUT },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct rig *r = rig_new(TLS_MODE_MUTUAL);

		gwmetrics_leg_open(&r->c, SIDE_CLIENT);
		r->c.closed_in = cases[i].closed_in;
		r->c.fail = cases[i].fail;
		r->c.end = cases[i].end;
		gwmetrics_conn_end(&r->c);
		EXPECT_EQ(tls_of(r)->failures[cases[i].want], 1);
		EXPECT_EQ(tls_of(r)->handshakes[0] + tls_of(r)->handshakes[1], 0);
		EXPECT_EQ(shard(r)->conn[2][3][METRICS_LEG_CLIENT].closed, 1);
		rig_free(r);
	}
}

TEST(upstream_connect_failure)
{
	struct rig *r = rig_new(TLS_MODE_ONEWAY);

	gwmetrics_leg_open(&r->c, SIDE_CLIENT);
	gwmetrics_handshake_end(&r->c);
	r->c.closed_in = CONN_ST_CONNECT_UP;
	gwmetrics_conn_end(&r->c);
	EXPECT_EQ(tls_of(r)->upstream_connect_failures, 1);
	/* the client handshake did complete: counted, with no payload path */
	EXPECT_EQ(tls_of(r)->handshakes[METRICS_OFFLOAD_USERSPACE], 1);
	EXPECT_EQ(shard(r)->conn[1][3][METRICS_LEG_UPSTREAM].opened, 0);
	EXPECT_EQ(shard(r)->conn[1][3][METRICS_LEG_UPSTREAM].closed, 0);
	rig_free(r);
}

TEST(internal_tls_failure)
{
	struct rig *r = rig_new(TLS_MODE_PLAIN);

	gwmetrics_leg_open(&r->c, SIDE_CLIENT);
	gwmetrics_leg_open(&r->c, SIDE_UPSTREAM);
	r->c.closed_in = CONN_ST_UP_HANDSHAKE;
	r->c.fail = TLS_FAIL_UPSTREAM_CERT;
	gwmetrics_conn_end(&r->c);
	EXPECT_EQ(tls_of(r)->failures[METRICS_HS_UPSTREAM_TLS], 1);
	rig_free(r);
}

TEST(stopping_gateway_counts_no_failure)
{
	struct rig *r = rig_new(TLS_MODE_ONEWAY);
	unsigned int i;
	uint64_t n = 0;

	gwmetrics_leg_open(&r->c, SIDE_CLIENT);
	r->w->stopping = true;
	r->c.closed_in = CONN_ST_HANDSHAKE;
	gwmetrics_conn_end(&r->c);
	for (i = 0; i < METRICS_HS__COUNT; i++)
		n += tls_of(r)->failures[i];
	EXPECT_EQ(n, 0);
	EXPECT_EQ(shard(r)->conn[1][3][METRICS_LEG_CLIENT].closed, 1);
	rig_free(r);
}

TEST(no_metrics_is_a_no_op)
{
	struct rig *r = rig_new(TLS_MODE_ONEWAY);

	r->w->mx = NULL;
	gwmetrics_leg_open(&r->c, SIDE_CLIENT);
	gwmetrics_handshake_end(&r->c);
	gwmetrics_relay_start(&r->c);
	gwmetrics_conn_end(&r->c);
	EXPECT_EQ(r->c.mx.open_legs, 0);
	EXPECT_EQ(shard(r)->conn[1][3][METRICS_LEG_CLIENT].opened, 0);
	rig_free(r);
}
