/* SPDX-License-Identifier: MIT */
/* Verified client certificates, per server SSL_CTX: a hit needs the same
 * leaf DER (SHA-256) and the current time inside every validity window the
 * full verification relied on (each chain certificate's, each CRL's), so
 * a hit reaches the answer X509_verify_cert would. Only successes are
 * cached: refusals always get the full verification and its reason. */
#include "certcache.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define CERTCACHE_SLOTS 256	/* direct-mapped: a collision evicts */

struct certcache_entry {
	unsigned char md[32];	/* SHA-256 of the leaf's DER */
	int64_t from, until;	/* valid in [from, until) */
	bool used;
};

struct certcache {
	pthread_mutex_t lock;	/* a context is one worker's, but cheap insurance */
	EVP_MD *sha256;		/* owned: fetched once, not per handshake */
	int64_t crl_from, crl_until;	/* every CRL's thisUpdate/nextUpdate */
	uint64_t hits;
	struct certcache_entry slot[CERTCACHE_SLOTS];
};

static time_t wall_clock(void)
{
	return time(NULL);
}

time_t (*certcache_clock)(void) = wall_clock;

static int ex_idx = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void cache_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		       void *argp)
{
	struct certcache *cc = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (!cc)
		return;
	EVP_MD_free(cc->sha256);
	pthread_mutex_destroy(&cc->lock);
	free(cc);
}

static void ex_init(void)
{
	ex_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, cache_free);
}

/* ---- validity windows ---- */

/* An unreadable time narrows the window to nothing: no caching. */
static bool unix_time(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return false;
	*out = (int64_t)timegm(&tm);
	return true;
}

static void narrow(int64_t *from, int64_t *until, const ASN1_TIME *nb, const ASN1_TIME *na)
{
	int64_t t;

	if (nb && !unix_time(nb, &t))
		*from = INT64_MAX;
	else if (nb && t > *from)
		*from = t;
	if (na && !unix_time(na, &t))
		*until = INT64_MIN;
	else if (na && t < *until)
		*until = t;
}

/* CRL checking fails once a CRL expires (or before it starts), so every
 * CRL in the store bounds every entry. */
static void crl_window(X509_STORE *store, struct certcache *cc)
{
	STACK_OF(X509_OBJECT) *objs;
	X509_CRL *crl;
	int i;

	cc->crl_from = INT64_MIN;
	cc->crl_until = INT64_MAX;
	if (!X509_STORE_lock(store))
		return;
	objs = X509_STORE_get0_objects(store);
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		if (crl)
			narrow(&cc->crl_from, &cc->crl_until, X509_CRL_get0_lastUpdate(crl),
			       X509_CRL_get0_nextUpdate(crl));
	}
	X509_STORE_unlock(store);
}

/* ---- lookup and insert ---- */

static bool lookup(struct certcache *cc, const unsigned char *md, int64_t now)
{
	struct certcache_entry *e = &cc->slot[md[0]];
	bool hit;

	pthread_mutex_lock(&cc->lock);
	hit = e->used && !memcmp(e->md, md, sizeof(e->md)) && now >= e->from && now < e->until;
	if (hit)
		cc->hits++;
	pthread_mutex_unlock(&cc->lock);
	return hit;
}

static void insert(struct certcache *cc, const unsigned char *md, X509_STORE_CTX *sctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
	int64_t from = cc->crl_from, until = cc->crl_until;
	struct certcache_entry *e = &cc->slot[md[0]];
	X509 *x;
	int i;

	if (!chain || sk_X509_num(chain) == 0)
		return;
	for (i = 0; i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		narrow(&from, &until, X509_get0_notBefore(x), X509_get0_notAfter(x));
	}
	if (from >= until)
		return;
	pthread_mutex_lock(&cc->lock);
	memcpy(e->md, md, sizeof(e->md));
	e->from = from;
	e->until = until;
	e->used = true;
	pthread_mutex_unlock(&cc->lock);
}

/* A verification parameter that makes the result depend on more than the
 * leaf, the store and the time: never answer from the cache. */
static bool cache_is_usable(X509_STORE_CTX *sctx)
{
	const X509_VERIFY_PARAM *p = X509_STORE_CTX_get0_param(sctx);

	return !(X509_VERIFY_PARAM_get_flags(p) &
		 (X509_V_FLAG_USE_CHECK_TIME | X509_V_FLAG_NO_CHECK_TIME));
}

/* SSL_CTX_set_cert_verify_callback: 1 verified, 0 refused (the store
 * context's error says why, as X509_verify_cert leaves it). */
static int verify(X509_STORE_CTX *sctx, void *arg)
{
	struct certcache *cc = arg;
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	unsigned char md[32];
	unsigned int n = 0;
	bool keyed;
	int ret;

	keyed = leaf && cache_is_usable(sctx) && X509_digest(leaf, cc->sha256, md, &n) == 1 &&
		n == sizeof(md);
	if (keyed && lookup(cc, md, (int64_t)certcache_clock()))
		return 1;
	if (!keyed)
		ERR_clear_error();	/* a digest failure is no refusal reason */
	ret = X509_verify_cert(sctx);
	if (ret == 1 && keyed && X509_STORE_CTX_get_error(sctx) == X509_V_OK)
		insert(cc, md, sctx);
	return ret;
}

/* ---- install ---- */

int certcache_install(struct ssl_ctx_st *ctx)
{
	struct certcache *cc;

	pthread_once(&ex_once, ex_init);
	if (ex_idx < 0 || SSL_CTX_get_ex_data(ctx, ex_idx))
		return -EPROTO;
	cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	pthread_mutex_init(&cc->lock, NULL);
	ERR_clear_error();
	cc->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!cc->sha256 || SSL_CTX_set_ex_data(ctx, ex_idx, cc) != 1) {
		log_ssl_errors(LOG_ERROR, "client certificate cache");
		EVP_MD_free(cc->sha256);
		pthread_mutex_destroy(&cc->lock);
		free(cc);
		return -EPROTO;
	}
	crl_window(SSL_CTX_get_cert_store(ctx), cc);
	SSL_CTX_set_cert_verify_callback(ctx, verify, cc);
	return 0;
}

uint64_t certcache_hits(const struct ssl_ctx_st *ctx)
{
	struct certcache *cc = ex_idx < 0 ? NULL : SSL_CTX_get_ex_data(ctx, ex_idx);
	uint64_t n;

	if (!cc)
		return 0;
	pthread_mutex_lock(&cc->lock);
	n = cc->hits;
	pthread_mutex_unlock(&cc->lock);
	return n;
}
