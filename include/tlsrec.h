/* SPDX-License-Identifier: MIT */
/* Userspace TLS record layer: after an OpenSSL handshake, runs the AEAD
 * records of TLS 1.2 and 1.3 (AES-128/256-GCM, ChaCha20-Poly1305) itself,
 * opening and sealing in the caller's buffers (in place, or from one buffer
 * into another), like kTLS does in the kernel. Handles close_notify, alerts, tickets and TLS 1.3 KeyUpdate. */
#ifndef KTLSGW_TLSREC_H
#define KTLSGW_TLSREC_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "tlsrec-t.h"

struct ssl_st;

/* Takes the keys of @ssl (borrowed; tracked by ktls_track_attach() before its
 * handshake) into @r, which then owns two cipher contexts. @ssl is no longer
 * needed afterwards (it may be freed). 0; -EOPNOTSUPP with @st's reason
 * (version, cipher such as CBC, no keys, bytes held inside OpenSSL, a
 * KeyUpdate already seen); -ENOMEM or -EPROTO. @r is zeroed on failure. */
__must_check int tlsrec_init(struct tlsrec *r, struct ssl_st *ssl, struct ktls_status *st);

/* The same from explicit key material. -EOPNOTSUPP (r->why) for anything
 * but TLS 1.2/1.3 with the three AEADs. */
__must_check int tlsrec_setup(struct tlsrec *r, const struct ktls_keys *k);

/* Frees the cipher contexts and wipes @r (zeroed @r: no-op). */
void tlsrec_free(struct tlsrec *r);

/* Bytes before the plaintext of a sealed record (5, or 13 in TLS 1.2 GCM)
 * and after it (tag, plus the inner type in TLS 1.3). */
size_t tlsrec_hdr_len(const struct tlsrec *r);
size_t tlsrec_tail_len(const struct tlsrec *r);

/* Opens the record at the start of @buf (@len bytes there) in place. Returns
 * the record's length (bytes consumed) and fills @m with the plaintext inside
 * @buf; -EAGAIN when @buf holds less than a whole record; -EBADMSG (r->why,
 * r->alert) for a bad header, length or tag, or any record after the peer's
 * close_notify; -EPROTO when OpenSSL fails. A failed record changes no state,
 * but @buf may hold garbage after a bad tag. */
__must_check int tlsrec_open(struct tlsrec *r, uint8_t *buf, size_t len, struct tlsrec_msg *m);

/* The same, but the plaintext lands at @out, not inside @buf: the relay
 * decrypts straight into the other side's buffer. @out needs room for the
 * whole inner plaintext (ciphertext length less explicit nonce and tag: in
 * TLS 1.3 the content, type and padding). A failed record leaves garbage
 * there. */
__must_check int tlsrec_open_to(struct tlsrec *r, uint8_t *buf, size_t len, uint8_t *out,
				struct tlsrec_msg *m);

/* Seals @len bytes of @type that the caller put at @buf + tlsrec_hdr_len(r);
 * tlsrec_tail_len(r) bytes after them must be writable. Writes the record
 * from @buf on; returns its length. -EMSGSIZE over 2^14; -EPIPE after our
 * close_notify; -EINPROGRESS for data while a KeyUpdate is owed (seal it with
 * tlsrec_seal_key_update() first); -EOVERFLOW when seq would wrap. */
__must_check int tlsrec_seal(struct tlsrec *r, uint8_t type, uint8_t *buf, size_t len);

/* The same with the plaintext read from @src (elsewhere): encrypting while
 * copying saves the relay a pass over the bytes. */
__must_check int tlsrec_seal_from(struct tlsrec *r, uint8_t type, uint8_t *buf, const uint8_t *src,
				  size_t len);

/* An alert record (level, desc) into @buf of @cap bytes: its length, or
 * -ENOSPC. Nothing can be sealed after it. close_notify is (1, 0). */
__must_check int tlsrec_seal_alert(struct tlsrec *r, uint8_t level, uint8_t desc, uint8_t *buf,
				   size_t cap);

/* TLS 1.3: a KeyUpdate record under the current TX key into @buf, then TX
 * moves to the next traffic secret (seq 0). @request asks the peer to update
 * too. Returns the record length; -ENOSPC, -EOPNOTSUPP in TLS 1.2, -EPROTO. */
__must_check int tlsrec_seal_key_update(struct tlsrec *r, bool request, uint8_t *buf, size_t cap);

/* Acts on a non-data record @m from tlsrec_open(). Returns enum ktls_ctrl:
 * CLOSE_NOTIFY / ALERT (RX is done; m->data[1] is the description);
 * SESSION_TICKET (a client's TLS 1.3 tickets: nothing to do); KEY_UPDATE
 * (RX rekeyed; if the peer requested it, TLSREC_F_KU_OWED is set);
 * UNEXPECTED (r->why, r->alert: send that alert and close). -EPROTO when
 * the rekey fails. */
__must_check int tlsrec_ctrl(struct tlsrec *r, const struct tlsrec_msg *m);

#endif
