/* SPDX-License-Identifier: MIT */
/* Userspace record layer against real OpenSSL peers over memory BIO pairs:
 * handshake with OpenSSL, take one side over with tlsrec (its SSL freed),
 * then check data both ways byte-exact, control records, KeyUpdate, record
 * limits and tampering, for TLS 1.2 and 1.3 x the three AEADs. */
#include "../lib/t.h"
#include "../../src/tlsrec.c"	/* white-box: seal_record() crafts bad records */

#include <openssl/x509.h>

#define BUFSZ (4 * TLSREC_RECORD_MAX)

/* ---- a handshaken client/server pair, both sides tracked ---- */

struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	BIO *sbio, *cbio;	/* owned by the SSLs (plus our ref once we take over) */
	struct ktls_track strk, ctrk;
	bool server;		/* which side tlsrec runs */
	struct tlsrec r;
	uint8_t in[BUFSZ];	/* records received by our side */
	size_t head, tail;
};

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

static SSL_CTX *make_ctx(bool server, int version, const char *c12, const char *c13)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	SSL_CTX_set_cipher_list(ctx, c12);
	SSL_CTX_set_ciphersuites(ctx, c13);
	if (server)
		add_cert(ctx);
	if (ktls_ctx_prepare(ctx) < 0)
		return NULL;
	return ctx;
}

static bool pair_open(struct pair *p, int version, const char *c12, const char *c13)
{
	int i, rs = 0, rc = 0;

	memset(p, 0, sizeof(*p));
	p->sctx = make_ctx(true, version, c12, c13);
	p->cctx = make_ctx(false, version, c12, c13);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	BIO_new_bio_pair(&p->sbio, 1 << 17, &p->cbio, 1 << 17);
	SSL_set_bio(p->s, p->sbio, p->sbio);
	SSL_set_bio(p->c, p->cbio, p->cbio);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (ktls_track_attach(p->s, &p->strk) < 0 || ktls_track_attach(p->c, &p->ctrk) < 0)
		return false;
	for (i = 0; i < 20 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(p->c);
		if (rs != 1)
			rs = SSL_do_handshake(p->s);
	}
	return rs == 1 && rc == 1;
}

static SSL **ours(struct pair *p)
{
	return p->server ? &p->s : &p->c;
}

static SSL *peer(struct pair *p)
{
	return p->server ? p->c : p->s;
}

static BIO *wire(struct pair *p)
{
	return p->server ? p->sbio : p->cbio;
}

/* tlsrec takes over our side; its SSL is freed (the BIO pair end survives). */
static int take_over(struct pair *p, bool server)
{
	struct ktls_status st;
	int ret;

	p->server = server;
	ret = tlsrec_init(&p->r, *ours(p), &st);
	if (ret < 0) {
		fprintf(stderr, "  tlsrec_init: %s\n", st.reason);
		return ret;
	}
	BIO_up_ref(wire(p));
	SSL_free(*ours(p));
	*ours(p) = NULL;
	return 0;
}

static void pair_close(struct pair *p)
{
	if (p->r.rx.aead)
		BIO_free(wire(p));
	tlsrec_free(&p->r);
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	ktls_track_wipe(&p->strk);
	ktls_track_wipe(&p->ctrk);
}

/* Seals @len bytes of @type in place and puts the record on the wire. */
static int send_rec(struct pair *p, uint8_t type, const void *pt, size_t len)
{
	static uint8_t buf[TLSREC_HDR_MAX + TLSREC_PLAIN_MAX + 1 + TLSREC_TAIL_MAX];
	int n;

	memcpy(buf + tlsrec_hdr_len(&p->r), pt, len);
	n = tlsrec_seal(&p->r, type, buf, len);
	if (n > 0 && BIO_write(wire(p), buf, n) != n)
		return -EIO;
	return n;
}

static __attribute__((unused)) void put_wire(struct pair *p, const uint8_t *rec, int n)
{
	EXPECT_EQ(BIO_write(wire(p), rec, n), n);
}

/* Moves what the peer sent into p->in. */
static void pull(struct pair *p)
{
	int n;

	if (p->head == p->tail)
		p->head = p->tail = 0;
	while ((n = BIO_read(wire(p), p->in + p->tail, (int)(sizeof(p->in) - p->tail))) > 0)
		p->tail += (size_t)n;
}

/* Opens the next record in p->in (after pulling the wire). */
static int next_rec(struct pair *p, struct tlsrec_msg *m)
{
	int n;

	pull(p);
	n = tlsrec_open(&p->r, p->in + p->head, p->tail - p->head, m);
	if (n > 0)
		p->head += (size_t)n;
	return n;
}

/* Reads data records until @len plaintext bytes are in @out, consuming
 * session tickets on the way; returns the bytes read or a failure. */
static long recv_data(struct pair *p, uint8_t *out, size_t len, int *tickets)
{
	struct tlsrec_msg m;
	size_t got = 0;
	int n;

	while (got < len) {
		n = next_rec(p, &m);
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
static bool peer_reads(struct pair *p, const uint8_t *want, size_t len)
{
	static uint8_t got[65536];
	size_t off = 0;
	int n;

	while (off < len && (n = SSL_read(peer(p), got + off, (int)(len - off))) > 0)
		off += (size_t)n;
	return off == len && !memcmp(got, want, len);
}

static void fill(uint8_t *b, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

/* ---- data both ways, byte-exact ---- */

static void check_roundtrip(int version, const char *c12, const char *c13, int cipher, bool server)
{
	static const size_t out_sizes[] = { 1, 100, TLSREC_PLAIN_MAX, 3100, 1500 };
	static uint8_t src[20000], dst[20001];
	struct pair p;
	int tickets = 0;
	size_t i;

	ASSERT(pair_open(&p, version, c12, c13));
	ASSERT(take_over(&p, server) == 0);
	EXPECT_EQ(p.r.cipher, cipher);
	EXPECT_EQ(p.r.version, version);
	/* what OpenSSL already protected: 1.2 Finished; 1.3 server: 2 tickets */
	if (version == TLS1_2_VERSION)
		EXPECT(p.r.tx.seq == 1 && p.r.rx.seq == 1);
	else
		EXPECT_EQ(server ? p.r.rx.seq : p.r.tx.seq, 0);
	if (version == TLS1_3_VERSION && server)
		EXPECT_EQ(p.r.tx.seq, 2);
	for (i = 0; i < ARRAY_SIZE(out_sizes); i++) {
		fill(src, out_sizes[i], (unsigned int)i);
		ASSERT(send_rec(&p, KTLS_REC_DATA, src, out_sizes[i]) > 0);
		EXPECT(peer_reads(&p, src, out_sizes[i]));
	}
	fill(src, sizeof(src), 99);
	ASSERT(SSL_write(peer(&p), src, sizeof(src)) == (int)sizeof(src));	/* 2 records */
	ASSERT(SSL_write(peer(&p), "z", 1) == 1);
	EXPECT_EQ(recv_data(&p, dst, sizeof(src) + 1, &tickets), sizeof(src) + 1);
	EXPECT(!memcmp(dst, src, sizeof(src)) && dst[sizeof(src)] == 'z');
	/* client of TLS 1.3: the server's NewSessionTickets came first */
	EXPECT_EQ(tickets, version == TLS1_3_VERSION && !server ? 2 : 0);
	pair_close(&p);
}

#define ROUNDTRIP(name, ver, c12, c13, cipher)                   \
	TEST(server_##name)                                      \
	{                                                        \
		check_roundtrip(ver, c12, c13, cipher, true);    \
	}                                                        \
	TEST(client_##name)                                      \
	{                                                        \
		check_roundtrip(ver, c12, c13, cipher, false);   \
	}

ROUNDTRIP(tls12_aes128gcm, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "", 0)
ROUNDTRIP(tls12_aes256gcm, TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", "", 1)
ROUNDTRIP(tls12_chacha20, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", "", 2)
ROUNDTRIP(tls13_aes128gcm, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256", 0)
ROUNDTRIP(tls13_aes256gcm, TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384", 1)
ROUNDTRIP(tls13_chacha20, TLS1_3_VERSION, "", "TLS_CHACHA20_POLY1305_SHA256", 2)
