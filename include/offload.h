/* SPDX-License-Identifier: MIT */
/* The gateway's use of kTLS: the start-up decision, key tracking per TLS
 * side, the all-or-none offload of a conn's TLS sides before its relay, the
 * control records of an offloaded RX socket, and the access-log text. */
#ifndef KTLSGW_OFFLOAD_H
#define KTLSGW_OFFLOAD_H

#include <stddef.h>

#include "common.h"
#include "conn-t.h"

struct gateway;
struct ssl_st;
struct ssl_ctx_st;

/* What offload_ctrl() did with the control record at the head of an RX. */
enum offload_ctrl {
	OFFLOAD_CTRL_EOF = 0,	/* close_notify: the leg's source ended cleanly */
	OFFLOAD_CTRL_REARM,	/* consumed (NewSessionTicket): splice on */
	OFFLOAD_CTRL_CLOSED,	/* alert, KeyUpdate, garbage: the conn is closing */
};

/* Probes per gateway.ktls and fills @gw's kTLS fields. 0 (offload or not),
 * or -errno when gateway.ktls is on and the kernel cannot (logged). */
__must_check int offload_setup(struct gateway *gw);

/* Takes over @ctx's keylog and message callbacks when @gw tracks keys
 * (gw->track_keys: kTLS in use, or a userspace record layer; no-op
 * otherwise). 0 or -EPROTO. */
__must_check int offload_ctx_prepare(const struct gateway *gw, struct ssl_ctx_st *ctx);

/* Binds side @s's key tracker to @ssl right after SSL_new (no-op unless
 * gw->track_keys). 0 or -EPROTO. */
__must_check int offload_track(struct conn *c, int s, struct ssl_st *ssl);

/* Before the relay: hands every TLS side of @c to the kernel, or none of
 * them. 1 when all are offloaded (SIDE_F_KTLS set, splice path), 0 when @c
 * stays in userspace (reason kept for the access log), -EAGAIN when a side
 * still has handshake bytes to send (a send is armed; call again once it
 * completes), other -errno when a partial install left @c unusable. */
__must_check int offload_try(struct conn *c);

/* Splice from side @s's offloaded RX failed with EINVAL/EIO: reads the
 * control record and acts on it. enum offload_ctrl, or -errno. */
__must_check int offload_ctrl(struct conn *c, int s);

/* Before FIN on side @s: a close_notify through its kTLS TX (best effort;
 * no-op on a side that is not offloaded). */
void offload_close_notify(struct conn *c, int s);

/* Erases @c's captured secrets (when the conn is recycled). */
void offload_release(struct conn *c);

/* The access log's " ktls=..." field into @buf ("" for a plaintext conn). */
void offload_describe(const struct conn *c, char *buf, size_t len);

#endif
