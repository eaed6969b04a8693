/* SPDX-License-Identifier: MIT */
/* Session-ticket keys for every worker's SSL_CTX: one refcounted ring per
 * process, rotated lazily by the ticket callback itself when a period has
 * passed (no timer needed), keys drawn from RAND_priv_bytes into a page
 * that is MADV_DONTDUMP and wiped with OPENSSL_cleanse. */
#include "tickets.h"
#include "log.h"

#include <errno.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#define TICKET_IV_LEN 16	/* AES-CBC block */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t (*tickets_clock_ms)(void) = mono_ms;

static int ex_idx = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

/* SSL_CTX_free drops the context's reference. */
static void ctx_drop_ring(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			  void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	tickets_put(ptr);
}

static void ex_init(void)
{
	ex_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_drop_ring);
}

/* ---- key memory ---- */

static struct ticket_ring *ring_map(size_t *len)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	*len = (sizeof(struct ticket_ring) + (size_t)page - 1) & ~((size_t)page - 1);
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* The keys forge any session (a mode-2 client identity included). */
	if (madvise(p, *len, MADV_DONTDUMP) < 0) {
		munmap(p, *len);
		return NULL;
	}
	/* Best effort: not inherited by a fork, never swapped out. */
	(void)madvise(p, *len, MADV_WIPEONFORK);
	(void)mlock(p, *len);
	return p;
}

static void ring_unmap(struct ticket_ring *r, size_t len)
{
	OPENSSL_cleanse(r, len);
	munlock(r, len);
	munmap(r, len);
}

/* Fills @k, or wipes it and returns -EPROTO. */
static int make_key(struct ticket_key *k)
{
	ERR_clear_error();
	if (RAND_bytes(k->name, sizeof(k->name)) == 1 &&
	    RAND_priv_bytes(k->aes, sizeof(k->aes)) == 1 &&
	    RAND_priv_bytes(k->hmac, sizeof(k->hmac)) == 1)
		return 0;
	OPENSSL_cleanse(k, sizeof(*k));
	log_ssl_errors(LOG_ERROR, "ticket keys: no random bytes");
	return -EPROTO;
}

/* Caller holds the write lock (or is the only user). The oldest slot is
 * wiped and becomes the current key. */
static int rotate_locked(struct tickets *t)
{
	struct ticket_ring *r = t->ring;
	unsigned int next = (r->cur + 1) % TICKET_KEYS;

	OPENSSL_cleanse(&r->keys[next], sizeof(r->keys[next]));
	if (make_key(&r->keys[next]) < 0) {
		/* never leave a zeroed slot within reach of decryption */
		r->n_keys = 1;
		return -EPROTO;
	}
	r->cur = next;
	if (r->n_keys < TICKET_KEYS)
		r->n_keys++;
	t->rotations++;
	return 0;
}

/* ---- lifetime ---- */

struct tickets *tickets_new(uint64_t period_ms)
{
	struct tickets *t;

	BUG_ON(period_ms == 0);
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ring = ring_map(&t->ring_len);
	if (!t->ring) {
		log_error("ticket keys: cannot map a private page: %s", strerror(errno));
		goto out_free;
	}
	if (make_key(&t->ring->keys[0]) < 0)
		goto out_unmap;
	t->ring->n_keys = 1;
	if (pthread_rwlock_init(&t->lock, NULL)) {
		log_error("ticket keys: cannot create the ring's lock");
		goto out_unmap;
	}
	t->period_ms = period_ms;
	t->next_ms = tickets_clock_ms() + period_ms;
	t->refs = 1;
	return t;

out_unmap:
	ring_unmap(t->ring, t->ring_len);
out_free:
	free(t);
	return NULL;
}

void tickets_put(struct tickets *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	ring_unmap(t->ring, t->ring_len);
	t->ring = NULL;
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

int tickets_rotate(struct tickets *t)
{
	int ret;

	pthread_rwlock_wrlock(&t->lock);
	ret = rotate_locked(t);
	__atomic_store_n(&t->next_ms, tickets_clock_ms() + t->period_ms, __ATOMIC_RELAXED);
	pthread_rwlock_unlock(&t->lock);
	if (ret == 0)
		log_info("ticket keys rotated (%lu so far)", t->rotations);
	return ret;
}

/* Rotates once per elapsed period, at most TICKET_KEYS times: after a long
 * idle spell no stale key may still decrypt. The fast path is one relaxed
 * load and a vDSO clock read. */
static void maybe_rotate(struct tickets *t)
{
	uint64_t now = tickets_clock_ms(), n, i;

	if (now < __atomic_load_n(&t->next_ms, __ATOMIC_RELAXED))
		return;
	pthread_rwlock_wrlock(&t->lock);
	if (now >= t->next_ms) {
		n = (now - t->next_ms) / t->period_ms + 1;
		for (i = 0; i < n && i < TICKET_KEYS; i++)
			if (rotate_locked(t) < 0)
				break;
		__atomic_store_n(&t->next_ms, t->next_ms + n * t->period_ms, __ATOMIC_RELAXED);
		log_info("ticket keys rotated on schedule (%lu so far)", t->rotations);
	}
	pthread_rwlock_unlock(&t->lock);
}

/* ---- the OpenSSL callback ---- */

static int set_keys(const struct ticket_key *k, const unsigned char *iv, EVP_CIPHER_CTX *cctx,
		    EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac,
						      sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1 ||
	    EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv, enc) != 1)
		return -1;
	return 0;
}

static int seal(struct ticket_ring *r, unsigned char *name, unsigned char *iv,
		EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx)
{
	const struct ticket_key *k = &r->keys[r->cur];

	if (RAND_bytes(iv, TICKET_IV_LEN) != 1)
		return -1;
	memcpy(name, k->name, TICKET_NAME_LEN);
	return set_keys(k, iv, cctx, hctx, 1) < 0 ? -1 : 1;
}

/* 1: current key; 2: an older key, so OpenSSL issues a fresh ticket;
 * 0: unknown name, a full handshake follows. (ticket_cb turns 1 into 2 for
 * TLS 1.3.) */
static int unseal(struct ticket_ring *r, const unsigned char *name, const unsigned char *iv,
		EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx)
{
	const struct ticket_key *k;
	unsigned int i;

	for (i = 0; i < r->n_keys; i++) {
		k = &r->keys[(r->cur + TICKET_KEYS - i) % TICKET_KEYS];
		if (memcmp(k->name, name, TICKET_NAME_LEN))
			continue;
		if (set_keys(k, iv, cctx, hctx, 0) < 0)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}

static int ticket_cb(SSL *s, unsigned char name[TICKET_NAME_LEN], unsigned char *iv,
		     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tickets *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_idx);
	int ret;

	if (!t)
		return -1;
	maybe_rotate(t);
	/* A read lock per ticket sealed or opened: next to the handshake it
	 * belongs to (~100 us of public-key crypto) an uncontended rwlock is
	 * noise, and writers come once a period. */
	pthread_rwlock_rdlock(&t->lock);
	ret = enc ? seal(t->ring, name, iv, cctx, hctx) : unseal(t->ring, name, iv, cctx, hctx);
	pthread_rwlock_unlock(&t->lock);
	/* TLS 1.3 clients use a ticket once (RFC 8446 C.4; OpenSSL, BoringSSL
	 * and Go do), and OpenSSL sends a ticket after a resumption only when
	 * asked to renew: without this, every other connection of a client
	 * was a full handshake. */
	if (ret == 1 && !enc && SSL_version(s) >= TLS1_3_VERSION)
		ret = 2;
	return ret;
}

int tickets_install(struct tickets *t, struct ssl_ctx_st *ctx)
{
	struct tickets *old;
	long timeout;

	pthread_once(&ex_once, ex_init);
	if (ex_idx < 0) {
		log_error("ticket keys: no SSL_CTX ex_data index");
		return -EPROTO;
	}
	old = SSL_CTX_get_ex_data(ctx, ex_idx);
	if (old == t)
		return 0;
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	ERR_clear_error();
	if (SSL_CTX_set_ex_data(ctx, ex_idx, t) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1) {
		SSL_CTX_set_ex_data(ctx, ex_idx, old);
		tickets_put(t);
		log_ssl_errors(LOG_ERROR, "ticket keys: cannot install on a context");
		return -EPROTO;
	}
	tickets_put(old);
	/* A ticket is accepted while its key decrypts: at most two periods. */
	timeout = (long)(2 * t->period_ms / 1000);
	SSL_CTX_set_timeout(ctx, timeout > 0 ? timeout : 1);
	/* Tickets resume on every worker and across reloads, statelessly; a
	 * per-context session-ID cache would only hit on the same worker's
	 * context, hold master secrets on the heap and lock per handshake. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return 0;
}
