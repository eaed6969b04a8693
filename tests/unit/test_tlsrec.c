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

static bool untracked;	/* pair_open() leaves the server without a tracker */
static SSL_SESSION *resume;	/* borrowed: pair_open()'s client resumes it */
static SSL_CTX *same_sctx;	/* borrowed: pair_open() reuses this server ctx */

static bool pair_open(struct pair *p, int version, const char *c12, const char *c13)
{
	int i, rs = 0, rc = 0;

	memset(p, 0, sizeof(*p));
	p->sctx = same_sctx ? same_sctx : make_ctx(true, version, c12, c13);
	if (same_sctx)
		SSL_CTX_up_ref(same_sctx);
	p->cctx = make_ctx(false, version, c12, c13);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	BIO_new_bio_pair(&p->sbio, 1 << 17, &p->cbio, 1 << 17);
	SSL_set_bio(p->s, p->sbio, p->sbio);
	SSL_set_bio(p->c, p->cbio, p->cbio);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (resume)
		SSL_set_session(p->c, resume);
	if ((!untracked && ktls_track_attach(p->s, &p->strk) < 0) ||
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

static void put_wire(struct pair *p, const uint8_t *rec, int n)
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

/* ---- records split across calls, padding, limits ---- */

static bool open_13(struct pair *p, const char *suite)
{
	return pair_open(p, TLS1_3_VERSION, "", suite) && take_over(p, true) == 0;
}

TEST(incomplete_record_is_eagain_until_whole)
{
	static uint8_t src[3100];
	struct tlsrec_msg m;
	struct pair p;
	size_t len, cut;

	ASSERT(open_13(&p, "TLS_AES_128_GCM_SHA256"));
	fill(src, sizeof(src), 3);
	ASSERT(SSL_write(p.c, src, sizeof(src)) == (int)sizeof(src));
	pull(&p);
	len = p.tail;
	EXPECT_EQ(len, TLSREC_HDR + sizeof(src) + TLSREC_TAIL_MAX);
	for (cut = 0; cut < len; cut += cut < 8 ? 1 : 509)
		EXPECT_EQ(tlsrec_open(&p.r, p.in, cut, &m), -EAGAIN);
	EXPECT_EQ(tlsrec_open(&p.r, p.in, len - 1, &m), -EAGAIN);
	EXPECT_EQ(p.r.rx.seq, 0);
	EXPECT_EQ(tlsrec_open(&p.r, p.in, len, &m), (int)len);
	EXPECT(m.type == KTLS_REC_DATA && m.len == sizeof(src) && !memcmp(m.data, src, m.len));
	EXPECT(m.data == p.in + TLSREC_HDR);	/* in place */
	EXPECT_EQ(p.r.rx.seq, 1);
	pair_close(&p);
}

TEST(tls13_padding_from_the_peer_is_stripped)
{
	static uint8_t dst[600];
	int tickets = 0;
	struct pair p;

	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384"));
	ASSERT(SSL_set_block_padding(p.c, 512) == 1);
	ASSERT(take_over(&p, true) == 0);
	ASSERT(SSL_write(p.c, "padded", 6) == 6);
	pull(&p);
	EXPECT_EQ(p.tail, TLSREC_HDR + 512 + TLSREC_TAG);	/* 6 + type + 505 zeros */
	EXPECT_EQ(recv_data(&p, dst, 6, &tickets), 6);
	EXPECT(!memcmp(dst, "padded", 6));
	pair_close(&p);
}

TEST(seal_refuses_over_2_14)
{
	struct pair p;

	ASSERT(open_13(&p, "TLS_CHACHA20_POLY1305_SHA256"));
	EXPECT_EQ(send_rec(&p, KTLS_REC_DATA, p.in, TLSREC_PLAIN_MAX + 1), -EMSGSIZE);
	EXPECT_STR_CONTAINS(p.r.why, "2^14");
	EXPECT_EQ(p.r.tx.seq, 2);
	pair_close(&p);
}

/* A tlsrec on the client side too: crafts records OpenSSL would not send. */
static void craft(struct tlsrec *cli, uint8_t type, size_t len, uint8_t *out)
{
	memset(out + tlsrec_hdr_len(cli), 'x', len);
	EXPECT(seal_record(cli, type, out, len) > 0);
}

TEST(open_refuses_oversized_plaintext_and_missing_type)
{
	static uint8_t rec[TLSREC_HDR_MAX + TLSREC_PLAIN_MAX + 64];
	struct ktls_status st;
	struct tlsrec_msg m;
	struct tlsrec cli;
	struct pair p;

	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(tlsrec_init(&cli, p.c, &st) == 0);
	ASSERT(take_over(&p, true) == 0);
	craft(&cli, KTLS_REC_DATA, TLSREC_PLAIN_MAX + 1, rec);	/* 2^14 + 1 content bytes */
	EXPECT_EQ(tlsrec_open(&p.r, rec, sizeof(rec), &m), -EBADMSG);
	EXPECT_STR_CONTAINS(p.r.why, "overflow");
	EXPECT_EQ(p.r.alert, ALERT_RECORD_OVERFLOW);
	cli.tx.seq--;
	craft(&cli, KTLS_REC_DATA, TLSREC_PLAIN_MAX, rec);	/* exactly 2^14: fine */
	EXPECT_EQ(tlsrec_open(&p.r, rec, sizeof(rec), &m), TLSREC_HDR + TLSREC_PLAIN_MAX + 17);
	craft(&cli, 0, 0, rec);					/* inner plaintext all zeros */
	EXPECT_EQ(tlsrec_open(&p.r, rec, sizeof(rec), &m), -EBADMSG);
	EXPECT_STR_CONTAINS(p.r.why, "no inner content type");
	tlsrec_free(&cli);
	pair_close(&p);
}

/* ---- tampering ---- */

/* A record from the peer in @rec (copied out); its length. */
static size_t peer_record(struct pair *p, uint8_t *rec, const char *text)
{
	size_t n;

	EXPECT(SSL_write(peer(p), text, (int)strlen(text)) == (int)strlen(text));
	pull(p);
	n = p->tail - p->head;
	memcpy(rec, p->in + p->head, n);
	p->head = p->tail;
	return n;
}

static void expect_refused(struct pair *p, const uint8_t *rec, size_t n, const char *why)
{
	static uint8_t copy[TLSREC_RECORD_MAX];
	struct tlsrec_msg m;

	memcpy(copy, rec, n);
	EXPECT_EQ(tlsrec_open(&p->r, copy, n, &m), -EBADMSG);
	EXPECT_STR_CONTAINS(p->r.why, why);
}

static void check_tampering(int version, const char *c12, const char *c13)
{
	static uint8_t rec[256], bad[256];
	struct tlsrec_msg m;
	struct pair p;
	size_t n;

	ASSERT(pair_open(&p, version, c12, c13) && take_over(&p, true) == 0);
	n = peer_record(&p, rec, "tamper with me");
	ASSERT(n > TLSREC_HDR_MAX);
#define TAMPER(idx, op, why)                    \
	do {                                    \
		memcpy(bad, rec, n);            \
		bad[idx] op;                    \
		expect_refused(&p, bad, n, why); \
	} while (0)
	TAMPER(n - 1, ^= 1, "tag");			/* tag */
	TAMPER(n - 20, ^= 0x80, "tag");			/* ciphertext */
	TAMPER(4, -= 1, "tag");				/* length: the tag moves */
	TAMPER(7, ^= 1, "tag");				/* 1.2 GCM: explicit nonce */
	TAMPER(0, = 22, version == TLS1_3_VERSION ? "record type" : "tag");
	TAMPER(0, = 24, "record type");
	TAMPER(2, = 1, "version");
	TAMPER(3, = 0x41, "overflow");			/* 16640 + 1 and beyond */
	TAMPER(4, = 3, "shorter than its tag");
	TAMPER(4, = 0, "shorter than its tag");
#undef TAMPER
	EXPECT_EQ(p.r.alert, ALERT_DECODE_ERROR);
	EXPECT_EQ(p.r.rx.seq, version == TLS1_2_VERSION ? 1 : 0);	/* failures change nothing */
	EXPECT_EQ(tlsrec_open(&p.r, rec, n, &m), (int)n);
	EXPECT(m.len == 14 && !memcmp(m.data, "tamper with me", 14));
	pair_close(&p);
}

TEST(tampered_records_are_refused_tls13)
{
	check_tampering(TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256");
}

TEST(tampered_records_are_refused_tls12_gcm)
{
	check_tampering(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", "");
}

TEST(tampered_records_are_refused_tls12_chacha)
{
	check_tampering(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", "");
}

TEST(replayed_record_fails_its_tag)
{
	static uint8_t rec[256], copy[256];
	struct tlsrec_msg m;
	struct pair p;
	size_t n;

	ASSERT(open_13(&p, "TLS_AES_256_GCM_SHA384"));
	n = peer_record(&p, rec, "once");
	memcpy(copy, rec, n);
	EXPECT_EQ(tlsrec_open(&p.r, rec, n, &m), (int)n);
	EXPECT_EQ(tlsrec_open(&p.r, copy, n, &m), -EBADMSG);	/* seq moved on */
	EXPECT_EQ(p.r.alert, ALERT_BAD_RECORD_MAC);
	pair_close(&p);
}

/* ---- close_notify and alerts ---- */

TEST(close_notify_both_ways)
{
	static uint8_t rec[64];
	struct tlsrec_msg m;
	struct pair p;
	uint8_t b[8];
	int n;

	ASSERT(open_13(&p, "TLS_AES_128_GCM_SHA256"));
	EXPECT_EQ(tlsrec_seal_alert(&p.r, 1, 0, rec, 10), -ENOSPC);
	n = tlsrec_seal_alert(&p.r, 1, 0, rec, sizeof(rec));
	ASSERT(n == TLSREC_HDR + 2 + TLSREC_TAIL_MAX);
	put_wire(&p, rec, n);
	EXPECT_EQ(SSL_read(p.c, b, sizeof(b)), 0);
	EXPECT_EQ(SSL_get_error(p.c, 0), SSL_ERROR_ZERO_RETURN);
	EXPECT_EQ(send_rec(&p, KTLS_REC_DATA, "late", 4), -EPIPE);

	ASSERT(SSL_shutdown(p.c) >= 0);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT_EQ(m.type, KTLS_REC_ALERT);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_CLOSE_NOTIFY);
	EXPECT(p.r.flags & TLSREC_F_RX_DONE);
	pair_close(&p);
}

TEST(close_notify_from_peer_tls12)
{
	struct tlsrec_msg m;
	struct pair p;

	ASSERT(pair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", ""));
	ASSERT(take_over(&p, true) == 0);
	ASSERT(SSL_write(p.c, "bye", 3) == 3);
	ASSERT(SSL_shutdown(p.c) >= 0);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == 3);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_CLOSE_NOTIFY);
	pull(&p);
	EXPECT_EQ(p.tail, p.head);
	pair_close(&p);
}

/* We send the peer a record with a broken tag: it answers bad_record_mac. */
static void check_peer_alert(int version, const char *c12, const char *c13)
{
	static uint8_t rec[64];
	struct tlsrec_msg m;
	struct pair p;
	uint8_t b[8];
	size_t hdr;

	ASSERT(pair_open(&p, version, c12, c13) && take_over(&p, true) == 0);
	hdr = tlsrec_hdr_len(&p.r);
	memcpy(rec + hdr, "hi", 2);
	ASSERT(tlsrec_seal(&p.r, KTLS_REC_DATA, rec, 2) > 0);
	rec[hdr + 2] ^= 1;
	put_wire(&p, rec, (int)(hdr + 2 + tlsrec_tail_len(&p.r)));
	EXPECT(SSL_read(p.c, b, sizeof(b)) < 0);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT_EQ(m.type, KTLS_REC_ALERT);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_ALERT);
	EXPECT(m.data[0] == 2 && m.data[1] == ALERT_BAD_RECORD_MAC);
	EXPECT_EQ(next_rec(&p, &m), -EAGAIN);
	pair_close(&p);
}

TEST(alert_from_peer_tls13)
{
	check_peer_alert(TLS1_3_VERSION, "", "TLS_CHACHA20_POLY1305_SHA256");
}

TEST(alert_from_peer_tls12)
{
	check_peer_alert(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "");
}

/* ---- TLS 1.3 KeyUpdate ---- */

static void check_peer_key_update(const char *suite, bool requested)
{
	static uint8_t rec[64];
	struct tlsrec_msg m;
	struct pair p;
	int n;

	ASSERT(open_13(&p, suite));
	ASSERT(SSL_key_update(p.c, requested ? SSL_KEY_UPDATE_REQUESTED
					    : SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	ASSERT(SSL_write(p.c, "after", 5) == 5);	/* KeyUpdate, then data */
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT_EQ(m.type, KTLS_REC_HANDSHAKE);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_KEY_UPDATE);
	EXPECT_EQ(p.r.rx.seq, 0);
	EXPECT_EQ(!!(p.r.flags & TLSREC_F_KU_OWED), requested);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == 5 && !memcmp(m.data, "after", 5));
	if (requested) {
		EXPECT_EQ(send_rec(&p, KTLS_REC_DATA, "x", 1), -EINPROGRESS);
		n = tlsrec_seal_key_update(&p.r, false, rec, sizeof(rec));
		ASSERT(n > 0);
		put_wire(&p, rec, n);
		EXPECT_EQ(p.r.tx.seq, 0);
	}
	ASSERT(send_rec(&p, KTLS_REC_DATA, "still readable", 14) > 0);
	EXPECT(peer_reads(&p, (const uint8_t *)"still readable", 14));
	ASSERT(SSL_write(p.c, "more", 4) == 4);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == 4 && !memcmp(m.data, "more", 4));
	pair_close(&p);
}

TEST(peer_key_update_not_requested_sha256)
{
	check_peer_key_update("TLS_AES_128_GCM_SHA256", false);
}

TEST(peer_key_update_requested_sha384)
{
	check_peer_key_update("TLS_AES_256_GCM_SHA384", true);
}

TEST(peer_key_update_requested_chacha)
{
	check_peer_key_update("TLS_CHACHA20_POLY1305_SHA256", true);
}

TEST(our_key_update_request_is_answered)
{
	static uint8_t rec[64];
	struct tlsrec_msg m;
	struct pair p;
	int n;

	ASSERT(open_13(&p, "TLS_AES_128_GCM_SHA256"));
	n = tlsrec_seal_key_update(&p.r, true, rec, sizeof(rec));
	ASSERT(n > 0);
	put_wire(&p, rec, n);
	ASSERT(send_rec(&p, KTLS_REC_DATA, "new key", 7) > 0);
	EXPECT(peer_reads(&p, (const uint8_t *)"new key", 7));
	ASSERT(SSL_write(p.c, "answer", 6) == 6);	/* its KeyUpdate goes first */
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_KEY_UPDATE);
	EXPECT(!(p.r.flags & TLSREC_F_KU_OWED));
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT(m.len == 6 && !memcmp(m.data, "answer", 6));
	pair_close(&p);
}

TEST(key_update_is_refused_in_tls12)
{
	static const uint8_t ku[] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	struct tlsrec_msg m = { .data = (uint8_t *)ku, .len = 5, .type = KTLS_REC_HANDSHAKE };
	uint8_t rec[64];
	struct pair p;

	ASSERT(pair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", ""));
	ASSERT(take_over(&p, true) == 0);
	EXPECT_EQ(tlsrec_seal_key_update(&p.r, false, rec, sizeof(rec)), -EOPNOTSUPP);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_UNEXPECTED);
	EXPECT_STR_CONTAINS(p.r.why, "renegotiation");
	pair_close(&p);
}

/* ---- classification of post-handshake messages ---- */

TEST(classify_post_handshake_messages)
{
	static const uint8_t nst[] = { 4, 0, 0, 2, 0xaa, 0xbb, 4, 0, 0, 0 };
	static const uint8_t ku_not_last[] = { 24, 0, 0, 1, 0, 4, 0, 0, 0 };
	static const uint8_t ku_bad[] = { 24, 0, 0, 1, 2 };
	static const uint8_t split[] = { 4, 0, 0, 9, 0 };
	static const uint8_t fin[] = { 20, 0, 0, 0 };
	struct tlsrec r = { .version = TLS1_3_VERSION };
	struct tlsrec_msg m = { .type = KTLS_REC_HANDSHAKE };

#define CLASSIFY(msg, want)                                  \
	do {                                                 \
		m.data = (uint8_t *)(msg);                   \
		m.len = sizeof(msg);                         \
		EXPECT_EQ(tlsrec_ctrl(&r, &m), want);        \
	} while (0)
	CLASSIFY(nst, KTLS_CTRL_SESSION_TICKET);	/* a client takes tickets */
	CLASSIFY(ku_not_last, KTLS_CTRL_UNEXPECTED);
	CLASSIFY(ku_bad, KTLS_CTRL_UNEXPECTED);
	CLASSIFY(split, KTLS_CTRL_UNEXPECTED);
	EXPECT_STR_CONTAINS(r.why, "split");
	CLASSIFY(fin, KTLS_CTRL_UNEXPECTED);
	r.flags = TLSREC_F_SERVER;
	CLASSIFY(nst, KTLS_CTRL_UNEXPECTED);		/* a server is never sent one */
	m.type = KTLS_REC_ALERT;
	CLASSIFY(nst, KTLS_CTRL_UNEXPECTED);		/* alert of 10 bytes */
	EXPECT_EQ(r.alert, ALERT_UNEXPECTED_MESSAGE);
#undef CLASSIFY
}

/* ---- the client side: tickets arriving later ---- */

TEST(client_takes_a_later_session_ticket)
{
	struct tlsrec_msg m;
	struct pair p;
	int tickets = 0;
	uint8_t b[4];

	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384"));
	ASSERT(take_over(&p, false) == 0);
	ASSERT(SSL_write(p.s, "abcd", 4) == 4);
	EXPECT_EQ(recv_data(&p, b, 4, &tickets), 4);
	EXPECT_EQ(tickets, 2);
	ASSERT(SSL_new_session_ticket(p.s) == 1);
	ASSERT(SSL_do_handshake(p.s) == 1);	/* sends it now */
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_SESSION_TICKET);
	ASSERT(send_rec(&p, KTLS_REC_DATA, "request", 7) > 0);
	EXPECT(peer_reads(&p, (const uint8_t *)"request", 7));
	pair_close(&p);
}

/* ---- what cannot be taken over ---- */

TEST(refuses_cbc_suite)
{
	struct ktls_status st;
	struct tlsrec r;
	struct pair p;

	ASSERT(pair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", ""));
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_CIPHER);
	EXPECT_STR_CONTAINS(st.reason, "AES128-SHA256");
	EXPECT(!r.rx.aead && !r.tx.aead);
	pair_close(&p);
}

TEST(refuses_tls11_and_unknown_ciphers)
{
	struct ktls_keys k = { .version = 0x0302, .cipher = 0 };
	struct tlsrec r;

	EXPECT_EQ(tlsrec_setup(&r, &k), -EOPNOTSUPP);
	EXPECT_STR_CONTAINS(r.why, "only TLS 1.2 and 1.3");
	k.version = TLS1_3_VERSION;
	k.cipher = KTLS_CIPHER__COUNT;
	EXPECT_EQ(tlsrec_setup(&r, &k), -EOPNOTSUPP);
	EXPECT_STR_CONTAINS(r.why, "AES-GCM and ChaCha20");
	k.cipher = -1;
	EXPECT_EQ(tlsrec_setup(&r, &k), -EOPNOTSUPP);
}

TEST(refuses_tls11_session)
{
	struct ktls_status st;
	struct tlsrec r;
	struct pair p;

	if (!pair_open(&p, TLS1_1_VERSION, "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", "")) {
		pair_close(&p);
		t_skip("this OpenSSL will not negotiate TLS 1.1");
		return;
	}
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_VERSION);
	EXPECT_STR_CONTAINS(st.reason, "TLSv1.1");
	pair_close(&p);
}

TEST(refuses_untracked_session)
{
	struct ktls_status st;
	struct tlsrec r;
	struct pair p;

	untracked = true;
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	untracked = false;
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_NO_KEYS);
	pair_close(&p);
}

TEST(refuses_record_held_inside_openssl_but_takes_bio_bytes)
{
	struct ktls_status st;
	struct tlsrec_msg m;
	struct pair p;
	uint8_t b;

	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(SSL_write(p.c, "0123456789", 10) == 10);
	ASSERT(SSL_write(p.c, "abc", 3) == 3);
	EXPECT_EQ(SSL_read(p.s, &b, 1), 1);	/* 9 bytes now held by OpenSSL */
	EXPECT_EQ(tlsrec_init(&p.r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_PENDING);
	EXPECT_STR_CONTAINS(st.reason, "inside OpenSSL");
	EXPECT_EQ(SSL_read(p.s, p.in, sizeof(p.in)), 9);
	/* the second record is still in the BIO: ours to open */
	ASSERT(take_over(&p, true) == 0);
	EXPECT_EQ(p.r.rx.seq, 1);
	ASSERT(next_rec(&p, &m) > 0);
	EXPECT(m.len == 3 && !memcmp(m.data, "abc", 3));
	pair_close(&p);
}

TEST(refuses_after_key_update_seen_by_openssl)
{
	struct ktls_status st;
	struct tlsrec r;
	struct pair p;
	uint8_t b[4];

	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	ASSERT(SSL_do_handshake(p.c) == 1);
	EXPECT(SSL_read(p.s, b, sizeof(b)) < 0);
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_REKEYED);
	pair_close(&p);
}

TEST(state_is_small)
{
	/* per connection side; the cipher contexts are measured by bench/recbench */
	EXPECT(sizeof(struct tlsrec) <= 176);
	EXPECT_EQ(TLSREC_RECORD_MAX, 16645);
}

/* ---- resumed sessions (abbreviated 1.2 handshake, 1.3 PSK) ---- */

static void check_resumed(int version, const char *c12, const char *c13, bool server)
{
	static uint8_t b[64];
	int tickets = 0;
	struct pair p, q;

	ASSERT(pair_open(&p, version, c12, c13));
	EXPECT(SSL_read(p.c, b, sizeof(b)) <= 0);	/* takes the 1.3 tickets */
	resume = SSL_get1_session(p.c);
	same_sctx = p.sctx;
	ASSERT(pair_open(&q, version, c12, c13));
	resume = (SSL_SESSION_free(resume), NULL);
	same_sctx = NULL;
	EXPECT(SSL_session_reused(q.s));
	ASSERT(take_over(&q, server) == 0);
	ASSERT(send_rec(&q, KTLS_REC_DATA, "resumed", 7) > 0);
	EXPECT(peer_reads(&q, (const uint8_t *)"resumed", 7));
	ASSERT(SSL_write(peer(&q), "again", 5) == 5);
	EXPECT_EQ(recv_data(&q, b, 5, &tickets), 5);
	EXPECT(!memcmp(b, "again", 5));
	pair_close(&q);
	pair_close(&p);
}

TEST(resumed_tls12_server)
{
	check_resumed(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "", true);
}

TEST(resumed_tls12_client)
{
	check_resumed(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", "", false);
}

TEST(resumed_tls13_server)
{
	check_resumed(TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384", true);
}

TEST(resumed_tls13_client)
{
	check_resumed(TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256", false);
}
