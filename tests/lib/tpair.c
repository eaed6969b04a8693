/* SPDX-License-Identifier: MIT */
/* The tpair fixture (see tpair.h): OpenSSL contexts with an in-memory EC
 * certificate, the handshake over a BIO pair, and record I/O helpers. */
#include "tpair.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ktls.h"
#include "t.h"
#include "tlsrec.h"

static void add_cert(SSL_CTX *ctx)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 600);
	X509_set_pubkey(x, pk);
	X509_sign(x, pk, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, pk);
	X509_free(x);
	EVP_PKEY_free(pk);
}

SSL_CTX *tpair_ctx(bool server, bool track, int version, const char *c12, const char *c13)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	SSL_CTX_set_cipher_list(ctx, c12);
	SSL_CTX_set_ciphersuites(ctx, c13);
	if (server)
		add_cert(ctx);
	if (track && ktls_ctx_prepare(ctx) < 0)
		return NULL;
	return ctx;
}

bool tpair_untracked;	/* tpair_open() leaves the server without a tracker */
SSL_SESSION *tpair_resume;	/* borrowed: tpair_open()'s client resumes it */
SSL_CTX *tpair_sctx;	/* borrowed: tpair_open() reuses this server ctx */

bool tpair_open(struct tpair *p, int version, const char *c12, const char *c13)
{
	int i, rs = 0, rc = 0;

	memset(p, 0, sizeof(*p));
	p->sctx = tpair_sctx ? tpair_sctx : tpair_ctx(true, true, version, c12, c13);
	if (tpair_sctx)
		SSL_CTX_up_ref(tpair_sctx);
	p->cctx = tpair_ctx(false, true, version, c12, c13);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	BIO_new_bio_pair(&p->sbio, 1 << 17, &p->cbio, 1 << 17);
	SSL_set_bio(p->s, p->sbio, p->sbio);
	SSL_set_bio(p->c, p->cbio, p->cbio);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (tpair_resume)
		SSL_set_session(p->c, tpair_resume);
	if ((!tpair_untracked && ktls_track_attach(p->s, &p->strk) < 0) ||
	    ktls_track_attach(p->c, &p->ctrk) < 0)
		return false;
	for (i = 0; i < 20 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(p->c);
		if (rs != 1)
			rs = SSL_do_handshake(p->s);
	}
	return rs == 1 && rc == 1;
}

static SSL **tpair_ours(struct tpair *p)
{
	return p->server ? &p->s : &p->c;
}

SSL *tpair_peer(struct tpair *p)
{
	return p->server ? p->c : p->s;
}

BIO *tpair_wire(struct tpair *p)
{
	return p->server ? p->sbio : p->cbio;
}

/* tlsrec takes over our side; its SSL is freed (the BIO pair end survives). */
int tpair_take(struct tpair *p, bool server)
{
	struct ktls_status st;
	int ret;

	p->server = server;
	ret = tlsrec_init(&p->r, *tpair_ours(p), &st);
	if (ret < 0) {
		fprintf(stderr, "  tlsrec_init: %s\n", st.reason);
		return ret;
	}
	BIO_up_ref(tpair_wire(p));
	SSL_free(*tpair_ours(p));
	*tpair_ours(p) = NULL;
	return 0;
}

void tpair_close(struct tpair *p)
{
	if (p->r.rx.aead)
		BIO_free(tpair_wire(p));
	tlsrec_free(&p->r);
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	ktls_track_wipe(&p->strk);
	ktls_track_wipe(&p->ctrk);
}

/* Seals @len bytes of @type in place and puts the record on the wire. */
int tpair_send(struct tpair *p, uint8_t type, const void *pt, size_t len)
{
	static uint8_t buf[TLSREC_HDR_MAX + TLSREC_PLAIN_MAX + 1 + TLSREC_TAIL_MAX];
	int n;

	memcpy(buf + tlsrec_hdr_len(&p->r), pt, len);
	n = tlsrec_seal(&p->r, type, buf, len);
	if (n > 0 && BIO_write(tpair_wire(p), buf, n) != n)
		return -EIO;
	return n;
}

void tpair_put(struct tpair *p, const uint8_t *rec, int n)
{
	EXPECT_EQ(BIO_write(tpair_wire(p), rec, n), n);
}

/* Moves what the peer sent into p->in. */
void tpair_pull(struct tpair *p)
{
	int n;

	if (p->head == p->tail)
		p->head = p->tail = 0;
	while ((n = BIO_read(tpair_wire(p), p->in + p->tail, (int)(sizeof(p->in) - p->tail))) > 0)
		p->tail += (size_t)n;
}

/* Opens the next record in p->in (after pulling the wire). */
int tpair_next(struct tpair *p, struct tlsrec_msg *m)
{
	int n;

	tpair_pull(p);
	n = tlsrec_open(&p->r, p->in + p->head, p->tail - p->head, m);
	if (n > 0)
		p->head += (size_t)n;
	return n;
}

/* Reads data records until @len plaintext bytes are in @out, consuming
 * session tickets on the way; returns the bytes read or a failure. */
long tpair_recv(struct tpair *p, uint8_t *out, size_t len, int *tickets)
{
	struct tlsrec_msg m;
	size_t got = 0;
	int n;

	while (got < len) {
		n = tpair_next(p, &m);
		if (n < 0)
			return n;
		if (m.type != KTLS_REC_DATA) {
			if (tlsrec_ctrl(&p->r, &m) != KTLS_CTRL_SESSION_TICKET)
				return -EPROTO;
			(*tickets)++;
			continue;
		}
		if (got + m.len > len)
			return -EMSGSIZE;
		memcpy(out + got, m.data, m.len);
		got += m.len;
	}
	return (long)got;
}

/* The OpenSSL peer reads exactly @len bytes. */
bool tpair_peer_reads(struct tpair *p, const uint8_t *want, size_t len)
{
	static uint8_t got[65536];
	size_t off = 0;
	int n;

	while (off < len && (n = SSL_read(tpair_peer(p), got + off, (int)(len - off))) > 0)
		off += (size_t)n;
	return off == len && !memcmp(got, want, len);
}

void tpair_fill(uint8_t *b, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

