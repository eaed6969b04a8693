/* SPDX-License-Identifier: MIT */
/* TLS session-ticket keys shared by every worker: a ring of (name, AES key,
 * HMAC key) where the current slot encrypts and the older slots only
 * decrypt. The key bytes live in their own page, kept out of core dumps. */
#ifndef KTLSGW_TICKETS_T_H
#define KTLSGW_TICKETS_T_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define TICKET_NAME_LEN 16	/* RFC 5077 key_name, as OpenSSL expects */
#define TICKET_AES_LEN 32	/* AES-256-CBC */
#define TICKET_HMAC_LEN 32	/* HMAC-SHA256 */
#define TICKET_KEYS 2		/* current + previous: old tickets live one period */

struct ticket_key {
	unsigned char name[TICKET_NAME_LEN];
	unsigned char aes[TICKET_AES_LEN];
	unsigned char hmac[TICKET_HMAC_LEN];
};

/* Lives in the mmap'd MADV_DONTDUMP page. keys[cur] encrypts; the n_keys - 1
 * slots before it (cyclically) still decrypt. */
struct ticket_ring {
	struct ticket_key keys[TICKET_KEYS];
	unsigned int cur;
	unsigned int n_keys;		/* valid slots, 1..TICKET_KEYS */
};

struct tickets {
	pthread_rwlock_t lock;		/* read: the ticket callback; write: rotation */
	struct ticket_ring *ring;	/* owned: its own mapping of ring_len bytes */
	size_t ring_len;
	uint64_t period_ms;		/* rotation period */
	uint64_t next_ms;		/* monotonic time of the next rotation */
	unsigned long rotations;	/* done so far (tests, logs) */
	int refs;			/* creator + one per SSL_CTX */
};

#endif
