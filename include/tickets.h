/* SPDX-License-Identifier: MIT */
/* Session-ticket keys shared by all workers and every SSL_CTX generation
 * (a certificate reload keeps resumption working), rotated every period:
 * tickets made with the previous key still resume, and are renewed. */
#ifndef KTLSGW_TICKETS_H
#define KTLSGW_TICKETS_H

#include <stdint.h>

#include "common.h"
#include "tickets-t.h"

struct ssl_ctx_st;

/* A ring with one fresh key, rotated every @period_ms (> 0). Returns it
 * with one reference owned by the caller (tickets_put), or NULL after
 * logging why. */
struct tickets *tickets_new(uint64_t period_ms);

/* Drops a reference; the last one wipes the keys and unmaps them.
 * NULL is a no-op. */
void tickets_put(struct tickets *t);

/* Makes server context @ctx encrypt and decrypt its tickets with @t. @ctx
 * takes its own reference, dropped by SSL_CTX_free, so the ring outlives
 * every context using it. Sets the session lifetime to two periods. 0 or
 * -EPROTO (logged). */
__must_check int tickets_install(struct tickets *t, struct ssl_ctx_st *ctx);

/* Retires the current key now: a new key encrypts, the old one still
 * decrypts for one period, the one before is wiped. 0 or -EPROTO. Also
 * done lazily by the ticket callback once a period has elapsed. */
__must_check int tickets_rotate(struct tickets *t);

/* The monotonic clock in ms the schedule uses; a seam for tests. */
extern uint64_t (*tickets_clock_ms)(void);

#endif
