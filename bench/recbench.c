/* SPDX-License-Identifier: MIT */
/* Micro-benchmark of the userspace record layer (src/tlsrec.c) against
 * SSL_read/SSL_write over memory BIOs: CPU per GB of 16 KB records and per
 * 3,100 B request / 1,500 B response, heap bytes per tlsrec and per SSL
 * after the handshake, and the cost of key tracking. Not part of make test. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ktls.h"
#include "tlsrec.h"

#define BATCH (64u << 20)		/* ciphertext generated ahead per round */

static size_t live;			/* heap bytes OpenSSL holds (single thread) */

static void *cnt_malloc(size_t n, const char *f, int l)
{
	void *p = malloc(n);

	(void)f, (void)l;
	live += p ? malloc_usable_size(p) : 0;
	return p;
}

static void *cnt_realloc(void *p, size_t n, const char *f, int l)
{
	size_t old = p ? malloc_usable_size(p) : 0;
	void *q = realloc(p, n);

	(void)f, (void)l;
	if (q)
		live += malloc_usable_size(q) - old;
	return q;
}

static void cnt_free(void *p, const char *f, int l)
{
	(void)f, (void)l;
	live -= p ? malloc_usable_size(p) : 0;
	free(p);
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "recbench: %s\n", what);
	exit(1);
}

/* ---- a handshaken pair; the server is the gateway side ---- */

struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	struct ktls_track strk;
};

static SSL_CTX *make_ctx(bool server, int version, const char *suite, bool track)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	EVP_PKEY *pk;
	X509 *x;

	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	SSL_CTX_set_cipher_list(ctx, version == TLS1_2_VERSION ? suite : "DEFAULT");
	SSL_CTX_set_ciphersuites(ctx, version == TLS1_3_VERSION ? suite : "");
	if (track && ktls_ctx_prepare(ctx) < 0)
		die("ktls_ctx_prepare");
	if (!server)
		return ctx;
	pk = EVP_EC_gen("P-256");
	x = X509_new();
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 600);
	X509_set_pubkey(x, pk);
	X509_sign(x, pk, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, pk);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ctx;
}

/* Handshakes over a BIO pair, then gives each SSL a memory BIO per direction
 * (read: we write records in; write: we reset it, as a send would drain it). */
static double server_cpu;	/* CPU seconds inside the server's SSL_do_handshake */

static void handshake(struct pair *p, bool track)
{
	BIO *sb, *cb;
	int i, rs = 0, rc = 0;
	double t;

	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	BIO_new_bio_pair(&sb, 1 << 17, &cb, 1 << 17);
	SSL_set_bio(p->s, sb, sb);
	SSL_set_bio(p->c, cb, cb);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (track && ktls_track_attach(p->s, &p->strk) < 0)
		die("ktls_track_attach");
	for (i = 0; i < 20 && (rs != 1 || rc != 1); i++) {
		rc = rc == 1 ? 1 : SSL_do_handshake(p->c);
		t = cpu_now();
		rs = rs == 1 ? 1 : SSL_do_handshake(p->s);
		server_cpu += cpu_now() - t;
	}
	if (rs != 1 || rc != 1)
		die("handshake");
	SSL_read(p->c, &i, 0);	/* take the tickets */
}

static void use_mem_bios(SSL *ssl)
{
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
}

static void pair_free(struct pair *p)
{
	SSL_free(p->s);
	SSL_free(p->c);
	ktls_track_wipe(&p->strk);
}

/* Client records of @len plaintext bytes each, back to back, @n of them. */
static size_t client_records(SSL *c, uint8_t *out, size_t len, size_t n)
{
	static uint8_t pt[16384];
	BIO *w = SSL_get_wbio(c);
	size_t i, off = 0;
	int k;

	for (i = 0; i < n; i++) {
		if (SSL_write(c, pt, (int)len) != (int)len)
			die("client SSL_write");
		k = BIO_read(w, out + off, (int)(BATCH + 4096 - off));
		off += k > 0 ? (size_t)k : 0;
	}
	return off;
}

/* Record buffer and plaintext source, 64-byte aligned and 1 KB apart modulo
 * 4 KB: copies between addresses that alias modulo 4 KB stall on x86 and
 * would measure the layout of .bss instead of the record layer. */
static struct {
	uint8_t buf[32768] __attribute__((aligned(4096)));
	uint8_t gap[1024];
	uint8_t src[16384];
} bufs;

/* ---- the two record paths ---- */

struct path {
	struct pair p;
	struct tlsrec r;	/* zeroed: OpenSSL path */
	bool rec;
};

static void path_open(struct path *x, SSL_CTX *sctx, SSL_CTX *cctx, bool rec)
{
	struct ktls_status st;

	memset(x, 0, sizeof(*x));
	x->p.sctx = sctx;
	x->p.cctx = cctx;
	x->rec = rec;
	handshake(&x->p, true);
	use_mem_bios(x->p.s);
	use_mem_bios(x->p.c);
	if (rec && tlsrec_init(&x->r, x->p.s, &st) < 0)
		die(st.reason);
}

static void path_close(struct path *x)
{
	tlsrec_free(&x->r);
	pair_free(&x->p);
}

/* Opens (and delivers) one record of @len bytes at @rec. */
static void one_open(struct path *x, const uint8_t *rec, size_t rlen, size_t len, uint8_t *buf)
{
	struct tlsrec_msg m;
	size_t got = 0;
	int n;

	if (x->rec) {
		memcpy(buf, rec, rlen);		/* stands for recv into our buffer */
		if (tlsrec_open(&x->r, buf, rlen, &m) != (int)rlen || m.len != len)
			die("tlsrec_open");
		return;
	}
	BIO_write(SSL_get_rbio(x->p.s), rec, (int)rlen);	/* the same recv */
	while (got < len && (n = SSL_read(x->p.s, buf, (int)(len - got))) > 0)
		got += (size_t)n;
	if (got != len)
		die("SSL_read");
}

/* Seals @len bytes from @src into a record ready to send. */
static void one_seal(struct path *x, const uint8_t *src, size_t len, uint8_t *buf)
{
	if (x->rec) {
		memcpy(buf + tlsrec_hdr_len(&x->r), src, len);	/* recv of plaintext */
		if (tlsrec_seal(&x->r, 23, buf, len) <= 0)
			die("tlsrec_seal");
		return;
	}
	memcpy(buf, src, len);					/* the same recv */
	if (SSL_write(x->p.s, buf, (int)len) != (int)len)
		die("SSL_write");
	(void)BIO_reset(SSL_get_wbio(x->p.s));			/* sent */
}

/* CPU seconds to open @total bytes in records of @len, and to seal them. */
static void run_bulk(struct path *x, size_t len, size_t total, double *open_s, double *seal_s)
{
	uint8_t *buf = bufs.buf, *src = bufs.src;
	uint8_t *wire = malloc(BATCH + 4096);
	size_t done, off, rl, n;
	double t;

	*open_s = *seal_s = 0;
	for (done = 0; done < total; done += n * len) {
		n = BATCH / (len + 64);
		n = n < (total - done + len - 1) / len ? n : (total - done + len - 1) / len;
		rl = client_records(x->p.c, wire, len, n) / n;
		t = cpu_now();
		for (off = 0; off < n * rl; off += rl)
			one_open(x, wire + off, rl, len, buf);
		*open_s += cpu_now() - t;
		t = cpu_now();
		for (off = 0; off < n; off++)
			one_seal(x, src, len, buf);
		*seal_s += cpu_now() - t;
	}
	free(wire);
}

/* CPU seconds per exchange: open a @req request, seal a @resp response. */
static double run_rr(struct path *x, size_t req, size_t resp, size_t count)
{
	uint8_t *buf = bufs.buf, *src = bufs.src;
	uint8_t *wire = malloc(BATCH + 4096);
	size_t i, rl = client_records(x->p.c, wire, req, count) / count;
	double t = cpu_now();

	for (i = 0; i < count; i++) {
		one_open(x, wire + i * rl, rl, req, buf);
		one_seal(x, src, resp, buf);
	}
	t = cpu_now() - t;
	free(wire);
	return t / (double)count;
}

/* ---- reports ---- */

static void bench_suite(int version, const char *suite, size_t total)
{
	SSL_CTX *sctx = make_ctx(true, version, suite, true), *cctx = make_ctx(false, version,
									     suite, false);
	double so, ss, ro, rs, best_ssl = 1, best_rec = 1, t;
	struct path x;
	int i;

	path_open(&x, sctx, cctx, false);
	run_bulk(&x, 16384, total, &so, &ss);
	path_close(&x);
	path_open(&x, sctx, cctx, true);
	run_bulk(&x, 16384, total, &ro, &rs);
	path_close(&x);
	for (i = 0; i < 3; i++) {
		path_open(&x, sctx, cctx, false);
		t = run_rr(&x, 3100, 1500, 20000);
		best_ssl = t < best_ssl ? t : best_ssl;
		path_close(&x);
		path_open(&x, sctx, cctx, true);
		t = run_rr(&x, 3100, 1500, 20000);
		best_rec = t < best_rec ? t : best_rec;
		path_close(&x);
	}
	printf("| %s %s | %.2f / %.2f | %.2f / %.2f | %.0f%% | %.2f | %.2f | %.0f%% |\n",
	       version == TLS1_3_VERSION ? "1.3" : "1.2", suite, so * 1e9 / total, ss * 1e9 / total,
	       ro * 1e9 / total, rs * 1e9 / total, 100 * (1 - (ro + rs) / (so + ss)),
	       best_ssl * 1e6, best_rec * 1e6, 100 * (1 - best_rec / best_ssl));
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* Heap held by one server SSL after its handshake and some traffic, and by
 * the tlsrec that replaces it. */
static void bench_memory(void)
{
	SSL_CTX *sctx = make_ctx(true, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", true);
	SSL_CTX *cctx = make_ctx(false, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", false);
	uint8_t *buf = bufs.buf, *src = bufs.src;
	size_t before, ssl_busy, ssl_idle, rec;
	struct path x;

	path_open(&x, sctx, cctx, false);
	one_seal(&x, src, 16384, buf);
	run_rr(&x, 3100, 1500, 10);
	before = live;
	SSL_free(x.p.s);	/* with its memory BIOs (empty: a few hundred bytes) */
	ssl_busy = before - live;
	x.p.s = NULL;
	path_close(&x);
	path_open(&x, sctx, cctx, false);
	run_rr(&x, 3100, 1500, 10);
	SSL_free_buffers(x.p.s);
	before = live;
	SSL_free(x.p.s);
	ssl_idle = before - live;
	x.p.s = NULL;
	path_close(&x);

	path_open(&x, sctx, cctx, false);
	before = live;
	if (tlsrec_init(&x.r, x.p.s, &(struct ktls_status){ 0 }) < 0)
		die("tlsrec_init");
	rec = live - before;
	printf("\nmemory per connection side (TLS 1.3 AES-128-GCM, glibc usable sizes):\n"
	       "  SSL after handshake + traffic, freed by SSL_free: %zu B\n"
	       "  same after SSL_free_buffers (idle):               %zu B\n"
	       "  tlsrec: sizeof(struct tlsrec) %zu B + heap %zu B (2 EVP_CIPHER_CTX, %zu B per "
	       "direction)\n",
	       ssl_busy, ssl_idle, sizeof(struct tlsrec), rec, rec / 2);
	path_close(&x);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* Server side of a handshake (P-256 ECDSA, TLS 1.3), CPU seconds each. */
static double handshakes(bool track, int n)
{
	SSL_CTX *sctx = make_ctx(true, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", track);
	SSL_CTX *cctx = make_ctx(false, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", false);
	struct pair p = { .sctx = sctx, .cctx = cctx };
	double t;
	int i;

	server_cpu = 0;
	for (i = 0; i < n; i++) {
		handshake(&p, track);
		pair_free(&p);
	}
	t = server_cpu;
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return t / n;
}

/* OpenSSL's own record path, 1,500 B records, ns per byte open+seal. */
static double ssl_records(bool track, size_t total)
{
	SSL_CTX *sctx = make_ctx(true, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", track);
	SSL_CTX *cctx = make_ctx(false, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", false);
	struct path x;
	double o, s;

	memset(&x, 0, sizeof(x));
	x.p.sctx = sctx;
	x.p.cctx = cctx;
	handshake(&x.p, track);
	use_mem_bios(x.p.s);
	use_mem_bios(x.p.c);
	run_bulk(&x, 1500, total, &o, &s);
	path_close(&x);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return (o + s) * 1e9 / total;
}

/* Key tracking (keylog + message callbacks) on and off, alternated, best of 5. */
static void bench_tracking(size_t total)
{
	double hs[2] = { 1, 1 }, rec[2] = { 1e9, 1e9 }, t;
	int round, k;

	for (round = 0; round < 5; round++) {
		for (k = 0; k < 2; k++) {
			t = handshakes(k, 200);
			hs[k] = t < hs[k] ? t : hs[k];
			t = ssl_records(k, total);
			rec[k] = t < rec[k] ? t : rec[k];
		}
	}
	printf("\nkey tracking, best of 5 alternated rounds:\n"
	       "  server handshake (P-256 ECDSA, TLS 1.3): %.1f us untracked, %.1f us "
	       "tracked (%+.1f%%)\n"
	       "  OpenSSL's record path, 1,500 B records, open+seal: %.3f -> %.3f ns/B (%+.1f%%)\n",
	       hs[0] * 1e6, hs[1] * 1e6, 100 * (hs[1] / hs[0] - 1), rec[0], rec[1],
	       100 * (rec[1] / rec[0] - 1));
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;

	if (!CRYPTO_set_mem_functions(cnt_malloc, cnt_realloc, cnt_free))
		die("CRYPTO_set_mem_functions");
	printf("recbench: %zu MB per bulk figure, CPU time of this thread\n\n", mb);
	printf("| suite | OpenSSL open / seal ns/B | tlsrec open / seal ns/B | saved | "
	       "OpenSSL us/exchange | tlsrec us/exchange | saved |\n|---|---|---|---|---|---|---|\n");
	bench_suite(TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", mb << 20);
	bench_suite(TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", mb << 20);
	bench_suite(TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", mb << 20);
	bench_suite(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", mb << 20);
	printf("(ns/B = CPU seconds per GB; exchange = open a 3,100 B request + seal a 1,500 B "
	       "response)\n");
	bench_memory();
	bench_tracking(mb << 17);
	return 0;
}
