/* SPDX-License-Identifier: MIT */
/* TLS sides whose records the gateway runs itself after the handshake: the
 * takeover from OpenSSL (whose SSL, ~13 KB per conn, is then freed), records
 * opened in place in rx and sealed in place in tx, and what close_notify,
 * alerts, tickets and KeyUpdate mean for the relay. */
#include "recside.h"

#include <errno.h>
#include <string.h>

#include "bufpool.h"
#include "conn.h"
#include "ktls.h"
#include "tls.h"
#include "tlsrec.h"
#include "worker.h"

#define ALERT_FATAL 2
#define ALERT_INTERNAL_ERROR 80

static const char *const side_names[SIDE__COUNT] = { "client", "upstream" };

/* ---- takeover ---- */

static void takeover_side(struct conn *c, int s)
{
	struct ktls_status st;
	int ret;

	ret = tlsrec_init(&c->rec[s], c->side[s].ssl, &st);
	if (ret < 0) {
		c->rec_why[s] = st.rx_why != KTLS_WHY_NONE ? ktls_why_str(st.rx_why)
			      : c->rec[s].why ? c->rec[s].why : "record layer setup failed";
		conn_log(c, LOG_DEBUG, "tlsrec: %s side stays on OpenSSL: %s", side_names[s],
			 st.reason[0] ? st.reason : c->rec_why[s]);
		tlsrec_free(&c->rec[s]);
		return;
	}
	if (s == SIDE_CLIENT)
		tls_info(c, s, &c->tls);
	tls_detach(c, s);
	ktls_track_wipe(&c->ktrk[s]);	/* the secrets now live in c->rec[s] only */
	c->side[s].flags |= SIDE_F_REC;
}

void recside_takeover(struct conn *c)
{
	int s;

	for (s = 0; s < SIDE__COUNT; s++)
		if (c->side[s].ssl && !(c->side[s].flags & SIDE_F_KTLS))
			takeover_side(c, s);
}

void recside_release(struct conn *c)
{
	int s;

	for (s = 0; s < SIDE__COUNT; s++)
		tlsrec_free(&c->rec[s]);
}

/* ---- opening ---- */

int recside_peek(const struct conn *c, int s)
{
	const struct tlsrec *r = &c->rec[s];
	const struct buf *rx = &c->side[s].rx;
	size_t clen, min = tlsrec_hdr_len(r) - TLSREC_HDR + tlsrec_tail_len(r);
	const uint8_t *h;

	if (!rx->base || rx->tail - rx->head < TLSREC_HDR)
		return -EAGAIN;
	h = rx->base + rx->head;
	clen = (size_t)h[3] << 8 | h[4];
	if (clen > TLSREC_CIPHER_MAX)
		return 0;	/* the open refuses it: no need to wait for it */
	if (rx->tail - rx->head < TLSREC_HDR + clen)
		return -EAGAIN;
	/* TLS 1.3: min counts the inner type byte, so this is the content's bound */
	return clen > min ? (int)(clen - min) : 0;
}

int recside_open(struct conn *c, int s, uint8_t *out, struct tlsrec_msg *m)
{
	struct buf *rx = &c->side[s].rx;
	int n;

	if (!rx->base)
		return -EAGAIN;
	if (out)
		n = tlsrec_open_to(&c->rec[s], rx->base + rx->head, rx->tail - rx->head, out, m);
	else
		n = tlsrec_open(&c->rec[s], rx->base + rx->head, rx->tail - rx->head, m);
	if (n == -EAGAIN)
		return n;
	if (n == -EBADMSG)
		return recside_fatal(c, s, "bad TLS record");
	if (n < 0)
		return n;
	rx->head += (uint32_t)n;
	return 0;
}

/* ---- sealing ---- */

/* Bytes free at the end of side @s's tx, which gets a buffer if it has none. */
static int tx_free(struct conn *c, int s, uint32_t *room)
{
	struct buf *tx = &c->side[s].tx;
	int ret = bufpool_want(c->side[s].pool, tx);

	if (ret < 0)
		return ret;
	*room = tx->cap - tx->tail;
	return 0;
}

/* The KeyUpdate the peer asked for, before any more data (RFC 8446 4.6.3). */
static int seal_owed_key_update(struct conn *c, int s)
{
	struct tlsrec *r = &c->rec[s];
	struct buf *tx = &c->side[s].tx;
	uint32_t room;
	int n;

	if (!(r->flags & TLSREC_F_KU_OWED))
		return 0;
	n = tx_free(c, s, &room);
	if (n < 0)
		return n;
	n = tlsrec_seal_key_update(r, false, tx->base + tx->tail, room);
	if (n == -ENOSPC)
		return 0;	/* after the send in flight; no data is sealed before */
	if (n < 0)
		return n;
	tx->tail += (uint32_t)n;
	conn_log(c, LOG_DEBUG, "tlsrec: %s side: answered its KeyUpdate with ours",
		 side_names[s]);
	return 0;
}

int recside_window(struct conn *c, int s, uint8_t **p, uint32_t *cap)
{
	struct tlsrec *r = &c->rec[s];
	struct buf *tx = &c->side[s].tx;
	uint32_t room, frame = (uint32_t)(tlsrec_hdr_len(r) + tlsrec_tail_len(r));
	int ret;

	*cap = 0;
	ret = seal_owed_key_update(c, s);
	if (ret < 0)
		return ret;
	ret = tx_free(c, s, &room);
	if (ret < 0)
		return ret;
	if ((r->flags & (TLSREC_F_KU_OWED | TLSREC_F_TX_DONE)) || room <= frame)
		return 0;
	room -= frame;
	*cap = room < TLSREC_PLAIN_MAX ? room : TLSREC_PLAIN_MAX;
	*p = tx->base + tx->tail + tlsrec_hdr_len(r);
	return 0;
}

int recside_seal(struct conn *c, int s, const uint8_t *src, uint32_t len)
{
	struct buf *tx = &c->side[s].tx;
	uint8_t *rec = tx->base + tx->tail;
	int n = src ? tlsrec_seal_from(&c->rec[s], KTLS_REC_DATA, rec, src, len)
		    : tlsrec_seal(&c->rec[s], KTLS_REC_DATA, rec, len);

	if (n < 0) {
		conn_log(c, LOG_INFO, "tlsrec: %s side: cannot seal: %s", side_names[s],
			 c->rec[s].why ? c->rec[s].why : strerror(-n));
		c->end = "TLS record error";
		return -EPROTO;
	}
	tx->tail += (uint32_t)n;
	return 0;
}

/* An alert record (@level, @desc) at the tail of side @s's tx. */
static int seal_alert(struct conn *c, int s, uint8_t level, uint8_t desc)
{
	struct buf *tx = &c->side[s].tx;
	uint32_t room;
	int n = tx_free(c, s, &room);

	if (n < 0)
		return n;
	n = tlsrec_seal_alert(&c->rec[s], level, desc, tx->base + tx->tail, room);
	if (n < 0)
		return n;
	tx->tail += (uint32_t)n;
	return 0;
}

int recside_close_notify(struct conn *c, int s)
{
	return seal_alert(c, s, 1, 0);
}

static void end_with_alert(struct conn *c, int s, const char *end)
{
	struct tlsrec *r = &c->rec[s];
	uint8_t desc = r->alert ? r->alert : ALERT_INTERNAL_ERROR;
	int ret = seal_alert(c, s, ALERT_FATAL, desc);

	conn_log(c, LOG_INFO, "tlsrec: %s side: %s (%s): %s alert %u, closing", side_names[s], end,
		 r->why ? r->why : "-", ret < 0 ? "could not send" : "sent", desc);
	c->end = end;
	if (conn_drain(c) < 0)
		conn_close(c, end);	/* the alert cannot go out: just close */
}

int recside_fatal(struct conn *c, int s, const char *end)
{
	end_with_alert(c, s, end);
	return -ECANCELED;
}

/* ---- control records ---- */

static int on_alert(struct conn *c, int s, const struct tlsrec_msg *m)
{
	conn_log(c, LOG_INFO, "tlsrec: %s sent TLS alert level=%u desc=%u: closing",
		 side_names[s], m->data[0], m->data[1]);
	conn_close(c, "TLS alert from peer");
	return RECSIDE_ENDED;
}

int recside_ctrl(struct conn *c, int s, const struct tlsrec_msg *m)
{
	int what = tlsrec_ctrl(&c->rec[s], m);

	if (what < 0) {
		c->rec[s].alert = ALERT_INTERNAL_ERROR;
		end_with_alert(c, s, "TLS KeyUpdate failed");
		return RECSIDE_ENDED;
	}
	switch (what) {
	case KTLS_CTRL_CLOSE_NOTIFY:
		return RECSIDE_EOF;
	case KTLS_CTRL_ALERT:
		return on_alert(c, s, m);
	case KTLS_CTRL_SESSION_TICKET:
		return RECSIDE_GO_ON;
	case KTLS_CTRL_KEY_UPDATE:
		conn_log(c, LOG_DEBUG, "tlsrec: %s side: KeyUpdate (%s)", side_names[s],
			 (c->rec[s].flags & TLSREC_F_KU_OWED) ? "ours requested" : "no answer owed");
		return seal_owed_key_update(c, s);
	default:
		end_with_alert(c, s, "unexpected TLS record");
		return RECSIDE_ENDED;
	}
}
