/* SPDX-License-Identifier: MIT */
/* Types of the userspace TLS record layer: per direction a keyed AEAD
 * context, static IV, record number and (TLS 1.3) traffic secret; the
 * per-connection state; one opened record. libc and -t.h headers only. */
#ifndef KTLSGW_TLSREC_T_H
#define KTLSGW_TLSREC_T_H

#include <stdbool.h>
#include <stdint.h>

#include "ktls-t.h"

struct evp_cipher_ctx_st;

#define TLSREC_HDR 5			/* type, version, length */
#define TLSREC_HDR_MAX 13		/* + TLS 1.2 GCM explicit nonce */
#define TLSREC_TAG 16
#define TLSREC_TAIL_MAX 17		/* TLS 1.3 inner content type + tag */
#define TLSREC_PLAIN_MAX 16384		/* 2^14 */
#define TLSREC_CIPHER_MAX (16384 + 256)	/* 2^14 + 256 */
#define TLSREC_RECORD_MAX (TLSREC_HDR + TLSREC_CIPHER_MAX)

enum tlsrec_flag {
	TLSREC_F_SERVER = 1 << 0,	/* we are the TLS server on this side */
	TLSREC_F_KU_OWED = 1 << 1,	/* peer requested a KeyUpdate: seal ours before data */
	TLSREC_F_RX_DONE = 1 << 2,	/* close_notify or alert read: nothing more opens */
	TLSREC_F_TX_DONE = 1 << 3,	/* close_notify or alert sealed: nothing more seals */
};

struct tlsrec_dir {
	struct evp_cipher_ctx_st *aead;	/* owned: keyed once per key (key schedule) */
	uint64_t seq;			/* next record number */
	uint8_t iv[12];			/* 1.3 / ChaCha: full IV; 1.2 GCM: 4-byte salt */
	uint8_t secret_len;		/* 0 in TLS 1.2 */
	uint8_t secret[KTLS_SECRET_MAX];/* TLS 1.3 traffic secret: KeyUpdate needs it */
};

struct tlsrec {
	struct tlsrec_dir rx;		/* peer -> us */
	struct tlsrec_dir tx;		/* us -> peer */
	const char *why;		/* borrowed: static text of the last refusal */
	uint16_t version;		/* 0x0303 or 0x0304 */
	uint8_t cipher;			/* enum ktls_cipher */
	uint8_t flags;			/* TLSREC_F_* */
	uint8_t alert;			/* alert description to send after a refusal */
};

/* One record opened in place by tlsrec_open(). */
struct tlsrec_msg {
	uint8_t *data;			/* borrowed: plaintext inside the caller's buffer */
	uint32_t len;
	uint8_t type;			/* enum ktls_rec_type (TLS 1.3: the inner type) */
};

#endif
