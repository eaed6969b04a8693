/* SPDX-License-Identifier: MIT */
/* Kernel TLS: probe what the kernel can take, capture the session keys during
 * the OpenSSL handshake, install them with setsockopt(SOL_TLS), and read or
 * send the control records of an offloaded socket. */
#ifndef KTLSGW_KTLS_H
#define KTLSGW_KTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common.h"
#include "config-t.h"
#include "ktls-t.h"

struct ssl_st;
struct ssl_ctx_st;

/* Syscall seams: unit tests replace them to run without tls.ko. */
extern int (*ktls_setsockopt)(int fd, int level, int opt, const void *val, socklen_t len);
extern ssize_t (*ktls_recvmsg)(int fd, struct msghdr *msg, int flags);
extern ssize_t (*ktls_sendmsg)(int fd, const struct msghdr *msg, int flags);
extern const char *ktls_ulp_path;	/* /proc/sys/net/ipv4/tcp_available_ulp */

/* Tries TCP_ULP "tls" and every cipher both ways on throwaway loopback pairs.
 * Fills @caps (reason says what is missing and what to load). Returns 0 when
 * at least one cipher works both ways, -ENOENT without the tls ULP,
 * -EOPNOTSUPP when no cipher does, other -errno when no probe socket. */
__must_check int ktls_probe(struct ktls_caps *caps);

/* Start-up decision for gateway.ktls (@mode): OFF skips the probe; AUTO probes
 * and logs once why kTLS is unused; ON refuses a kernel that cannot do it,
 * logging why and what to load. Fills @caps. Returns 1 to offload, 0 for
 * userspace only, or the probe's -errno when ON cannot be honoured. */
__must_check int ktls_setup(enum feature_mode mode, struct ktls_caps *caps);

/* Logs @st's reason the first time each enum ktls_why is seen (thread-safe);
 * later refusals for the same reason are silent (metrics count them). */
void ktls_note_refusal(const struct ktls_status *st);

/* Installs the keylog and message callbacks on @ctx (it owns both callback
 * slots from now on) and clears SSL_OP_ENABLE_KTLS. Call once per SSL_CTX,
 * before its first handshake. 0 or -EPROTO. */
__must_check int ktls_ctx_prepare(struct ssl_ctx_st *ctx);

/* Binds @trk (borrowed: caller-owned, must outlive @ssl's handshake and the
 * ktls_offload() call) to @ssl before the handshake starts. 0 or -EPROTO. */
__must_check int ktls_track_attach(struct ssl_st *ssl, struct ktls_track *trk);

/* Erases captured secrets; @trk may be reused for a new connection. */
void ktls_track_wipe(struct ktls_track *trk);

/* The checks of ktls_offload() that need no socket (version, cipher, keys,
 * pending bytes), installing nothing: lets a caller with two TLS sides decide
 * all-or-none first. 0 or -EOPNOTSUPP with @st filled. */
__must_check int ktls_check(struct ssl_st *ssl, struct ktls_status *st);

/* After a completed handshake on @fd, hands RX and then TX to the kernel.
 * Nothing is installed when RX cannot go (pending bytes, cipher, no keys...)
 * because OpenSSL must then stay able to answer what it reads; if RX went and
 * TX then fails in the kernel, RX stays offloaded and TX in OpenSSL
 * (SSL_write remains usable). @st says per direction what happened and why.
 * Returns 0 when both directions are offloaded, -EOPNOTSUPP otherwise. */
__must_check int ktls_offload(struct ssl_st *ssl, int fd, struct ktls_status *st);

/* For a userspace record layer taking over from @ssl after its handshake:
 * ktls_check()'s checks, except that bytes in @ssl's BIOs are allowed (that
 * caller reads and writes the same buffers in order); bytes inside @ssl
 * itself (a read-ahead or partly read record, an unflushed write) are not.
 * Fills @keys; never touches a socket. 0, or -EOPNOTSUPP with @st filled. */
__must_check int ktls_export_keys(struct ssl_st *ssl, struct ktls_keys *keys,
				  struct ktls_status *st);

/* TLS 1.3 KeyUpdate of one direction (RFC 8446 7.2): secret =
 * HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), then its key and
 * iv for @cipher; seq restarts at 0. 0 or -errno (@d unchanged then). */
__must_check int ktls_key_update(struct ktls_keys_dir *d, int cipher);

/* Reads one record's content from an offloaded RX socket with recvmsg and
 * its TLS_GET_RECORD_TYPE cmsg: bytes copied (0 = EOF) and *@type, or -errno
 * (-EAGAIN on a non-blocking socket with nothing to read). A data record
 * (type 23) returns payload the caller must deliver. */
__must_check ssize_t ktls_recv_record(int fd, uint8_t *type, void *buf, size_t len);

/* What a control record means (enum ktls_ctrl); @version is 0x0303/0x0304. */
int ktls_ctrl_classify(int version, uint8_t type, const uint8_t *buf, size_t len);

/* Sends a warning close_notify alert through an offloaded TX socket
 * (TLS_SET_RECORD_TYPE cmsg). 0 or -errno. */
__must_check int ktls_send_close_notify(int fd);

const char *ktls_why_str(enum ktls_why why);
const char *ktls_cipher_name(int cipher);
const char *ktls_ctrl_str(int ctrl);

#endif
