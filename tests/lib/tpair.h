/* SPDX-License-Identifier: MIT */
/* Test fixture for the userspace record layer: an OpenSSL client and server
 * handshaken over a memory BIO pair with both sides' keys tracked; one side
 * is then taken over by tlsrec (its SSL freed) and talks to the other, still
 * OpenSSL, through the pair. */
#ifndef KTLSGW_TPAIR_H
#define KTLSGW_TPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ktls-t.h"
#include "tlsrec-t.h"

struct ssl_ctx_st;
struct ssl_st;
struct ssl_session_st;
struct bio_st;

#define TPAIR_BUFSZ (4 * TLSREC_RECORD_MAX)

struct tpair {
	struct ssl_ctx_st *sctx, *cctx;	/* owned */
	struct ssl_st *s, *c;		/* owned; NULL once taken over */
	struct bio_st *sbio, *cbio;	/* owned by the SSLs (plus our ref once taken over) */
	struct ktls_track strk, ctrk;
	bool server;			/* which side tlsrec runs */
	struct tlsrec r;
	uint8_t in[TPAIR_BUFSZ];	/* records received by our side */
	size_t head, tail;
};

/* A context for @version with an in-memory P-256 certificate (server), the
 * given cipher lists, and key tracking prepared when @track. */
struct ssl_ctx_st *tpair_ctx(bool server, bool track, int version, const char *c12,
			     const char *c13);

/* Options of the next tpair_open(). */
extern bool tpair_untracked;			/* no tracker on the server */
extern struct ssl_session_st *tpair_resume;	/* borrowed: the client resumes it */
extern struct ssl_ctx_st *tpair_sctx;		/* borrowed: reuse this server ctx */

/* Handshakes client and server for @version with the given cipher lists;
 * true when both finished. */
bool tpair_open(struct tpair *p, int version, const char *c12, const char *c13);

/* tlsrec takes over the server (@server) or the client side. 0 or -errno. */
int tpair_take(struct tpair *p, bool server);
void tpair_close(struct tpair *p);

struct ssl_st *tpair_peer(struct tpair *p);	/* the side OpenSSL still runs */
struct bio_st *tpair_wire(struct tpair *p);	/* our end of the BIO pair */

/* Seals @len bytes of @type in place and puts the record on the wire:
 * tlsrec_seal()'s result. */
int tpair_send(struct tpair *p, uint8_t type, const void *pt, size_t len);
void tpair_put(struct tpair *p, const uint8_t *rec, int n);

/* Moves what the peer sent into p->in; tpair_next() opens the next record. */
void tpair_pull(struct tpair *p);
int tpair_next(struct tpair *p, struct tlsrec_msg *m);

/* Reads data records until @len plaintext bytes are in @out, counting
 * session tickets; bytes read or -errno. */
long tpair_recv(struct tpair *p, uint8_t *out, size_t len, int *tickets);

/* The OpenSSL peer reads exactly @len bytes equal to @want. */
bool tpair_peer_reads(struct tpair *p, const uint8_t *want, size_t len);

void tpair_fill(uint8_t *b, size_t len, unsigned int seed);

#endif
