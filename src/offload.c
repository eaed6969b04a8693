/* SPDX-License-Identifier: MIT */
/* The gateway's use of kTLS (ktls.c does the mechanics): the start-up
 * decision, the all-or-none offload of a conn's TLS sides before its relay,
 * what a control record at the head of an offloaded RX means for the conn,
 * and the access log's view of it. */
#include "offload.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "ktls.h"
#include "log.h"
#include "relay.h"
#include "worker.h"

static const char *const side_names[SIDE__COUNT] = { "client", "upstream" };

/* ---- start-up ---- */

static const char *off_text(enum feature_mode mode, const struct ktls_caps *caps)
{
	if (mode == FEAT_OFF)
		return "gateway.ktls is off";
	if (!caps->ulp)
		return "tls module not loaded";
	return "kernel lacks the kTLS ciphers";
}

int offload_setup(struct gateway *gw)
{
	struct ktls_caps caps;
	int ret;

	ret = ktls_setup(gw->cfg->ktls, &caps);
	if (ret < 0)
		return ret;
	gw->ktls = ret == 1;
	gw->ktls_ciphers = caps.tx_ciphers & caps.rx_ciphers;
	gw->ktls_off = gw->ktls ? NULL : off_text(gw->cfg->ktls, &caps);
	/* Always: without kTLS, tlsrec.c takes the same keys so the SSL can be
	 * freed after the handshake (~13 KB per conn). A TLS 1.3 handshake pays
	 * ~15-20 us of server CPU for OpenSSL's keylog formatting
	 * (bench/recbench); the record path then costs less than OpenSSL's. */
	gw->track_keys = true;
	return 0;
}

int offload_ctx_prepare(const struct gateway *gw, struct ssl_ctx_st *ctx)
{
	if (!gw->track_keys || !ctx)
		return 0;
	return ktls_ctx_prepare(ctx);
}

int offload_track(struct conn *c, int s, struct ssl_st *ssl)
{
	if (!c->w->gw->track_keys)
		return 0;
	return ktls_track_attach(ssl, &c->ktrk[s]);
}

void offload_release(struct conn *c)
{
	unsigned int s;

	for (s = 0; s < SIDE__COUNT; s++)
		ktls_track_wipe(&c->ktrk[s]);
}

/* ---- the offload decision ---- */

static bool conn_has_tls(const struct conn *c)
{
	return c->side[SIDE_CLIENT].ssl || c->side[SIDE_UPSTREAM].ssl;
}

/* @c stays in userspace because of side @s (-1: the gateway) for @why. */
static int keep_user(struct conn *c, int s, enum ktls_why why)
{
	c->ktls_side = (int8_t)s;
	c->ktls_why = (uint8_t)why;
	return 0;
}

static int keep_user_st(struct conn *c, int s, const struct ktls_status *st)
{
	ktls_note_refusal(st);
	return keep_user(c, s, st->rx_why != KTLS_WHY_NONE ? st->rx_why : st->tx_why);
}

/* A side's own records (TLS 1.3 tickets, the Finished) still on their way
 * to the socket: the kernel must not start counting before they are out. */
static int wait_for_flush(struct conn *c)
{
	int s, ret;

	for (s = 0; s < SIDE__COUNT; s++) {
		if (!c->side[s].ssl || relay_is_tx_empty(c, s))
			continue;
		ret = relay_flush(c, s);
		if (ret < 0)
			return ret;
		c->flags |= CONN_F_KTLS_WAIT;
		return -EAGAIN;
	}
	return 0;
}

/* Every check that installs nothing, for every TLS side: all-or-none. */
static int check_sides(struct conn *c)
{
	struct ktls_status st;
	int s;

	for (s = 0; s < SIDE__COUNT; s++) {
		if (!c->side[s].ssl)
			continue;
		if (ktls_check(c->side[s].ssl, &st) < 0) {
			keep_user_st(c, s, &st);
			return -EOPNOTSUPP;
		}
		if (!(c->w->gw->ktls_ciphers & (1u << st.cipher))) {
			keep_user(c, s, KTLS_WHY_KERNEL_CIPHER);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* One side into the kernel. 1 done, 0 refused with nothing installed,
 * -EPROTO when the kernel took part of it (the conn cannot go on). */
static int offload_side(struct conn *c, int s, bool first)
{
	struct ktls_status st;

	if (ktls_offload(c->side[s].ssl, c->side[s].fd, &st) == 0) {
		c->side[s].flags |= SIDE_F_KTLS;
		c->ktls_ver[s] = (uint16_t)st.version;
		return 1;
	}
	if (first && !st.rx && !st.tx)
		return keep_user_st(c, s, &st);
	conn_log(c, LOG_WARN, "ktls: %s side half offloaded (%s): closing", side_names[s],
		 st.reason);
	c->end = "partial kTLS offload";
	return -EPROTO;
}

int offload_try(struct conn *c)
{
	bool first = true;
	int s, ret;

	c->flags &= ~CONN_F_KTLS_WAIT;
	if (!conn_has_tls(c))
		return 0;
	if (!c->w->gw->ktls)
		return keep_user(c, -1, KTLS_WHY_NO_ULP);
	ret = wait_for_flush(c);
	if (ret < 0)
		return ret;
	if (check_sides(c) < 0)
		return 0;
	for (s = 0; s < SIDE__COUNT; s++) {
		if (!c->side[s].ssl)
			continue;
		ret = offload_side(c, s, first);
		if (ret <= 0)
			return ret;
		first = false;
	}
	c->flags |= CONN_F_KTLS;
	return 1;
}

/* ---- control records ---- */

void offload_close_notify(struct conn *c, int s)
{
	struct side *sd = &c->side[s];
	int ret;

	if (!(sd->flags & SIDE_F_KTLS) || (sd->flags & SIDE_F_SHUT_DONE) || sd->fd < 0)
		return;
	ret = ktls_send_close_notify(sd->fd);
	if (ret < 0)
		conn_log(c, LOG_DEBUG, "ktls: close_notify to %s: %s", side_names[s],
			 strerror(-ret));
}

/* The peer on side @s changed its key: the 6.1 kernel has no RX rekey. */
static int on_key_update(struct conn *c, int s)
{
	conn_log(c, LOG_INFO,
		 "ktls: %s sent a TLS 1.3 KeyUpdate; this kernel cannot rekey kTLS RX: "
		 "closing cleanly", side_names[s]);
	offload_close_notify(c, SIDE_CLIENT);
	offload_close_notify(c, SIDE_UPSTREAM);
	conn_close(c, "KeyUpdate: kernel cannot rekey kTLS");
	return OFFLOAD_CTRL_CLOSED;
}

static int on_alert(struct conn *c, int s, const uint8_t *rec, ssize_t n)
{
	conn_log(c, LOG_INFO, "ktls: %s sent TLS alert level=%d desc=%d: closing", side_names[s],
		 n > 0 ? rec[0] : -1, n > 1 ? rec[1] : -1);
	conn_close(c, "TLS alert from peer");
	return OFFLOAD_CTRL_CLOSED;
}

static int act_on(struct conn *c, int s, int what, const uint8_t *rec, ssize_t n)
{
	switch (what) {
	case KTLS_CTRL_CLOSE_NOTIFY:
		conn_set_state(c, CONN_ST_RELAY_SPLICE);
		return OFFLOAD_CTRL_EOF;
	case KTLS_CTRL_SESSION_TICKET:
		conn_set_state(c, CONN_ST_RELAY_SPLICE);
		return OFFLOAD_CTRL_REARM;
	case KTLS_CTRL_KEY_UPDATE:
		return on_key_update(c, s);
	case KTLS_CTRL_ALERT:
		return on_alert(c, s, rec, n);
	default:
		conn_log(c, LOG_INFO, "ktls: unexpected TLS record from %s: closing",
			 side_names[s]);
		conn_close(c, "unexpected TLS record");
		return OFFLOAD_CTRL_CLOSED;
	}
}

int offload_ctrl(struct conn *c, int s)
{
	uint8_t *rec = c->w->scratch;
	uint8_t type = KTLS_REC_DATA;
	ssize_t n;

	conn_set_state(c, CONN_ST_RELAY_CTRL);
	n = ktls_recv_record(c->side[s].fd, &type, rec, sizeof(c->w->scratch));
	if (n == -EAGAIN || n == -EWOULDBLOCK) {
		conn_set_state(c, CONN_ST_RELAY_SPLICE);
		return OFFLOAD_CTRL_REARM;
	}
	if (n < 0)
		return (int)n;
	log_debug("w=%u conn=%llu ktls: %s control record type %u, %zd bytes", c->w->id,
		  (unsigned long long)c->id, side_names[s], type, n);
	if (type == KTLS_REC_DATA)	/* splice said non-data: never a data record */
		return act_on(c, s, KTLS_CTRL_UNEXPECTED, rec, n);
	return act_on(c, s, ktls_ctrl_classify(c->ktls_ver[s], type, rec, (size_t)n), rec, n);
}

/* ---- access log ---- */

static void describe_ktls(const struct conn *c, char *buf, size_t len)
{
	const char *sep = "";
	size_t off;
	int s;

	off = (size_t)snprintf(buf, len, " ktls=\"");
	for (s = 0; s < SIDE__COUNT && off < len; s++) {
		if (!(c->side[s].flags & SIDE_F_KTLS))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s:tx+rx", sep, side_names[s]);
		sep = " ";
	}
	if (off < len)
		snprintf(buf + off, len - off, "\"");
}

void offload_describe(const struct conn *c, char *buf, size_t len)
{
	buf[0] = 0;
	if (c->flags & CONN_F_KTLS)
		describe_ktls(c, buf, len);
	else if (c->ktls_why == KTLS_WHY_NONE)
		return;	/* plaintext conn, or it ended before its relay */
	else if (c->ktls_side < 0)
		snprintf(buf, len, " ktls=\"%s\"", c->w->gw->ktls_off);
	else
		snprintf(buf, len, " ktls=\"%s: %s\"", side_names[c->ktls_side],
			 ktls_why_str((enum ktls_why)c->ktls_why));
}
