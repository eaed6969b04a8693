/* SPDX-License-Identifier: MIT */
/* Graceful stop. The main thread sets the gateway's phase and wakes the
 * workers (their eventfds); each worker closes its listeners at once (new
 * clients are refused), lets its conns end by themselves, and when
 * drainTimeout passes sends close_notify on every TLS client still open. */
#include "drain.h"

#include <errno.h>
#include <unistd.h>

#include "bufpool.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "offload.h"
#include "recside.h"
#include "relay.h"
#include "tls.h"

#define GOODBYE_MS 1000		/* at most this long to flush a close_notify */

void gateway_drain(struct gateway *gw)
{
	uint64_t one = 1;
	unsigned int i;

	atomic_store(&gw->phase, GW_PHASE_DRAIN);
	for (i = 0; i < gw->n_workers; i++)
		if (gw->workers[i].started &&
		    write(gw->workers[i].wake_fd, &one, sizeof(one)) < 0)
			log_error("w=%u: cannot wake: %s", i, strerror(errno));
}

bool gateway_is_drained(struct gateway *gw)
{
	unsigned int i;

	for (i = 0; i < gw->n_workers; i++)
		if (gw->workers[i].started && !atomic_load(&gw->workers[i].exited))
			return false;
	return true;
}

bool drain_is_wanted(const struct worker *w)
{
	return atomic_load(&w->gw->phase) == GW_PHASE_DRAIN && !w->draining;
}

void drain_begin(struct worker *w)
{
	unsigned int i;

	w->draining = true;
	w->drain_at = loop_clock_ms() + w->cfg->drain_timeout_ms;
	for (i = 0; i < w->n_ls; i++) {
		w->ls[i].rearm = false;
		listener_close(&w->ls[i]);
	}
	log_info("w=%u: draining: listeners closed, %u conns open, up to %u ms", w->id,
		 w->n_active, w->cfg->drain_timeout_ms);
}

/* close_notify into the client's tx: tlsrec seals it whole or not at all;
 * a full tx would cut OpenSSL's in two. 0 or -errno (then just close). */
static int queue_close_notify(struct conn *c)
{
	struct buf *tx = &c->side[SIDE_CLIENT].tx;

	if (recside_is_rec(c, SIDE_CLIENT))
		return recside_close_notify(c, SIDE_CLIENT);
	if (bufpool_want(&c->w->bufs, tx) < 0 || tx->cap - tx->tail < TLS_RECORD_OVERHEAD)
		return -ENOSPC;
	return tls_shutdown(c, SIDE_CLIENT);
}

/* A TLS client in the userspace relay: close_notify after what is queued. */
static void goodbye_user(struct conn *c)
{
	if (queue_close_notify(c) < 0) {
		conn_close(c, c->end);
		return;
	}
	conn_set_state(c, CONN_ST_DRAIN);
	c->deadline = loop_clock_ms() + GOODBYE_MS;
	if (relay_is_tx_empty(c, SIDE_CLIENT) || relay_flush(c, SIDE_CLIENT) < 0)
		conn_close(c, c->end);
}

/* Ends @c at drainTimeout: close_notify where the client speaks TLS. */
static void goodbye(struct conn *c)
{
	struct side *cs = &c->side[SIDE_CLIENT];

	if (!c->end)
		c->end = "drain timeout";
	if (c->state == CONN_ST_RELAY_USER && (cs->ssl || (cs->flags & SIDE_F_REC)) &&
	    !(cs->flags & SIDE_F_KTLS)) {
		goodbye_user(c);
		return;
	}
	if (c->state == CONN_ST_RELAY_SPLICE || c->state == CONN_ST_RELAY_CTRL)
		offload_close_notify(c, SIDE_CLIENT);	/* kTLS sides only */
	conn_close(c, c->end);
}

void drain_check(struct worker *w)
{
	struct conn *c, *next;

	if (!w->draining || w->stopping)
		return;
	if (!w->n_active) {
		log_info("w=%u: drained", w->id);
		w->stopping = true;
		return;
	}
	if (w->loop.now_ms < w->drain_at)
		return;
	log_info("w=%u: drainTimeout reached: closing %u conns (close_notify)", w->id, w->n_active);
	for (c = w->active; c; c = next) {
		next = c->next;
		if (c->state != CONN_ST_CLOSING && c->state != CONN_ST_DRAIN)
			goodbye(c);
		conn_put_if_done(c);
	}
	w->stopping = true;
}
