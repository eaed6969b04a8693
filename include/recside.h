/* SPDX-License-Identifier: MIT */
/* A conn side whose TLS records the gateway runs itself (tlsrec.h) once the
 * handshake is done: the SSL is freed, records are opened in place in the
 * side's rx and sealed in place in its tx, and control records (close_notify,
 * alerts, tickets, KeyUpdate) become relay events. relay.c moves the bytes. */
#ifndef KTLSGW_RECSIDE_H
#define KTLSGW_RECSIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "conn-t.h"

/* What recside_ctrl() made of a control record. */
enum recside_ctrl {
	RECSIDE_GO_ON = 0,	/* consumed (ticket, KeyUpdate): read on */
	RECSIDE_EOF,		/* close_notify: the side's payload ended */
	RECSIDE_ENDED,		/* alert or protocol error: the conn is closing */
};

/* Before RELAY_USER: for each TLS side of @c still on OpenSSL, takes its
 * keys into c->rec[s], keeps what the access line needs, frees the SSL and
 * sets SIDE_F_REC. A side tlsrec refuses stays on OpenSSL (the reason goes
 * to c->rec_why[s] and the debug log). Never fails the conn. */
void recside_takeover(struct conn *c);

static inline bool recside_is_rec(const struct conn *c, int s)
{
	return c->side[s].flags & SIDE_F_REC;
}

/* The most plaintext the next record in side @s's rx can hold, once rx
 * holds all of it; -EAGAIN while it does not. A bad header gives 0: the
 * open that follows reports it. */
__must_check int recside_peek(const struct conn *c, int s);

/* Opens the record at the head of side @s's rx and consumes it: into @out
 * (room for recside_peek() + 1 bytes), or in place when @out is NULL (then
 * @m points into rx until the next recv). 0, -EAGAIN (not whole yet), or
 * -ECANCELED after recside_fatal() (a bad record: the conn is draining). */
__must_check int recside_open(struct conn *c, int s, uint8_t *out, struct tlsrec_msg *m);

/* Where up to *@cap bytes of plaintext for side @s go: into its tx, past
 * the room a record header needs. Seals an owed KeyUpdate first. *@cap is
 * 0 when tx has no room for a useful record. 0 or -errno. */
__must_check int recside_window(struct conn *c, int s, uint8_t **p, uint32_t *cap);

/* Seals the @len bytes put at recside_window()'s pointer (@src NULL) or
 * read from @src as one data record at the tail of side @s's tx, which
 * recside_window() said has room. 0 or -errno. */
__must_check int recside_seal(struct conn *c, int s, const uint8_t *src, uint32_t len);

/* Acts on control record @m read from side @s: enum recside_ctrl, or
 * -errno. */
__must_check int recside_ctrl(struct conn *c, int s, const struct tlsrec_msg *m);

/* Queues our close_notify in side @s's tx. 0, or -ENOSPC while tx lacks
 * room for it (call again after a send), or -EPIPE once sealed. */
__must_check int recside_close_notify(struct conn *c, int s);

/* A protocol error on side @s: a fatal alert into its tx (best effort),
 * the reason logged, @end kept as the conn's end, then the conn drains
 * (sends what its txs hold) and closes. Returns -ECANCELED: the relay
 * stops there without failing the conn. */
__must_check int recside_fatal(struct conn *c, int s, const char *end);

/* Frees both sides' record layers (the conn is released). */
void recside_release(struct conn *c);

#endif
