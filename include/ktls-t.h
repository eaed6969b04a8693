/* SPDX-License-Identifier: MIT */
/* Types of the kTLS module: kernel capabilities, the per-connection key
 * tracker the OpenSSL callbacks fill during the handshake, and the per-
 * direction offload status. libc headers only. */
#ifndef KTLSGW_KTLS_T_H
#define KTLSGW_KTLS_T_H

#include <stdbool.h>
#include <stdint.h>

enum ktls_cipher {
	KTLS_CIPHER_AES_128_GCM = 0,
	KTLS_CIPHER_AES_256_GCM,
	KTLS_CIPHER_CHACHA20_POLY1305,
	KTLS_CIPHER__COUNT
};

/* Why a direction stays in userspace (KTLS_WHY_NONE: it was offloaded). */
enum ktls_why {
	KTLS_WHY_NONE = 0,
	KTLS_WHY_NO_ULP,	/* TCP_ULP "tls" refused: no tls.ko / CONFIG_TLS */
	KTLS_WHY_CIPHER,	/* negotiated suite has no kTLS equivalent */
	KTLS_WHY_KERNEL_CIPHER,	/* kernel lacks the cipher (crypto module) */
	KTLS_WHY_VERSION,	/* not TLS 1.2 or 1.3 */
	KTLS_WHY_PENDING,	/* OpenSSL holds bytes the kernel would not see */
	KTLS_WHY_NO_KEYS,	/* tracker not attached or secrets not captured */
	KTLS_WHY_REKEYED,	/* a KeyUpdate happened before the offload */
	KTLS_WHY_PAIRED,	/* TX kept in OpenSSL because RX stays there */
	KTLS_WHY_ERROR,		/* setsockopt failed otherwise (see reason) */
	KTLS_WHY__COUNT
};

/* Content types a kTLS RX socket reports in TLS_GET_RECORD_TYPE. */
enum ktls_rec_type {
	KTLS_REC_CCS = 20,
	KTLS_REC_ALERT = 21,
	KTLS_REC_HANDSHAKE = 22,
	KTLS_REC_DATA = 23,
};

/* What a control record means for the relay. */
enum ktls_ctrl {
	KTLS_CTRL_CLOSE_NOTIFY = 0,	/* orderly half-close */
	KTLS_CTRL_ALERT,		/* any other alert: close */
	KTLS_CTRL_SESSION_TICKET,	/* TLS 1.3 NewSessionTicket: consume */
	KTLS_CTRL_KEY_UPDATE,		/* TLS 1.3 KeyUpdate: kernel cannot rekey RX */
	KTLS_CTRL_UNEXPECTED,		/* anything else: protocol error, close */
	KTLS_CTRL__COUNT
};

struct ktls_caps {
	bool ulp;			/* TCP_ULP "tls" accepted */
	unsigned int tx_ciphers;	/* bit (1u << enum ktls_cipher) */
	unsigned int rx_ciphers;
	char reason[192];		/* empty when every cipher works both ways */
};

#define KTLS_SECRET_MAX 48		/* SHA-384 traffic secret */

/* One direction as seen by the record layer since the last key change. */
struct ktls_dir {
	uint64_t seq;			/* records protected under the current key */
	uint8_t secret[KTLS_SECRET_MAX];/* TLS 1.3 traffic secret (keylog) */
	uint8_t secret_len;		/* 0: not captured */
	bool keyed;			/* the record layer switched to app keys */
	bool rekeyed;			/* a KeyUpdate moved past secret[] */
};

/* Filled by OpenSSL callbacks during the handshake; embedded in the conn, so
 * nothing is allocated per connection. Holds key material: ktls_track_wipe(). */
struct ktls_track {
	struct ktls_dir rd;		/* peer -> us */
	struct ktls_dir wr;		/* us -> peer */
	bool is_server;
};

/* One direction's record protection as ktls_export_keys() hands it to a
 * userspace record layer (tlsrec.c). Key material: wipe after use. */
struct ktls_keys_dir {
	uint8_t key[32];		/* key_len of the cipher used */
	uint8_t iv[12];			/* TLS 1.3 / ChaCha: write_iv; 1.2 GCM: 4-byte salt */
	uint64_t seq;			/* next record number */
	uint8_t secret[KTLS_SECRET_MAX];/* TLS 1.3 traffic secret, for KeyUpdate */
	uint8_t secret_len;		/* 0 in TLS 1.2; 32 (SHA-256) or 48 (SHA-384) */
};

struct ktls_keys {
	struct ktls_keys_dir rx, tx;
	int version;			/* 0x0303 or 0x0304 */
	int cipher;			/* enum ktls_cipher */
	bool is_server;
};

/* Result of ktls_offload(): what each direction now is, and why not. */
struct ktls_status {
	bool tx, rx;			/* true: the kernel owns that direction */
	enum ktls_why tx_why, rx_why;
	int version;			/* TLS1_2_VERSION 0x0303, TLS1_3_VERSION 0x0304 */
	int cipher;			/* enum ktls_cipher, -1 when unsupported */
	uint64_t tx_seq, rx_seq;	/* record numbers handed to the kernel */
	char reason[192];		/* human text for the first failure */
};

#endif
