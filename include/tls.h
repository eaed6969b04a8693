/* SPDX-License-Identifier: MIT */
/* OpenSSL for the data plane: SSL_CTX per listener and tlsMode, ALPN with
 * server preference, mode-2 client verification with refusal reasons,
 * internal TLS client contexts, and the non-blocking handshake, read, write
 * and shutdown over a conn's buffers (a custom BIO, no socket I/O here). */
#ifndef KTLSGW_TLS_H
#define KTLSGW_TLS_H

#include <stddef.h>

#include "common.h"
#include "config-t.h"
#include "conn-t.h"
#include "tls-t.h"

struct ssl_ctx_st;

/* Server context for listener @lc. Returns the ctx (owned by the caller,
 * tls_ctx_free) or NULL after logging why. */
struct ssl_ctx_st *tls_ctx_server(const struct config *cfg, const struct listener_cfg *lc);

/* Client context for @lc's internal TLS leg, or NULL after logging why. */
struct ssl_ctx_st *tls_ctx_upstream(const struct config *cfg);

void tls_ctx_free(struct ssl_ctx_st *ctx);

/* Attaches a new SSL to side @s of @c (server for the client side, client
 * for the upstream side), reading and writing the side's buffers. */
__must_check int tls_attach(struct conn *c, int s, struct ssl_ctx_st *ctx);

/* Frees side @s's SSL, if any. */
void tls_detach(struct conn *c, int s);

/* One handshake step on side @s: 0 when complete; -EAGAIN when OpenSSL
 * waits for bytes (recv and send are armed); -EPROTO after logging the
 * refusal (c->fail says why; an alert may wait in tx). */
__must_check int tls_handshake_step(struct conn *c, int s);

/* Decrypts up to @len bytes from side @s. >0 bytes, 0 at close_notify or
 * EOF, -EAGAIN when more ciphertext is needed, -EPROTO on a bad record. */
__must_check int tls_read(struct conn *c, int s, void *buf, size_t len);

/* Encrypts @len bytes into side @s's tx (the caller checks room). >0 bytes
 * taken, -EPROTO on failure. */
__must_check int tls_write(struct conn *c, int s, const void *buf, size_t len);

/* Queues close_notify in side @s's tx. 0 or -EPROTO. */
__must_check int tls_shutdown(struct conn *c, int s);

/* Bytes of a TLS record's framing at most: room the caller keeps in tx. */
#define TLS_RECORD_OVERHEAD 512u

/* Classifies a failed handshake from the OpenSSL reason code of its first
 * error and the peer verification result. Pure. */
enum tls_fail tls_classify(int reason, long verify_err);

/* Short name ("wrong purpose") and the full log text of a refusal. */
const char *tls_fail_name(enum tls_fail f);
const char *tls_fail_text(enum tls_fail f);

/* Looks at a client's first bytes. Pure. */
enum tls_sniff tls_sniff(const unsigned char *p, size_t n);

/* The answer to plaintext HTTP on a TLS port. */
extern const char tls_http_400[];

/* Server preference: the first of @lc's protocols (default http/1.1, h2)
 * that the client's wire-format list @in offers. Its offset in @in, or -1.
 * Pure; never reads past @inlen. */
int tls_alpn_pick(const struct listener_cfg *lc, const unsigned char *in, unsigned int inlen);

/* Negotiated ALPN of side @s into @out ("" when none). */
void tls_alpn(const struct conn *c, int s, char *out, size_t len);

/* Version, cipher and (mode 2) peer subject of side @s. */
void tls_info(const struct conn *c, int s, struct tls_info *ti);

#endif
