/* SPDX-License-Identifier: MIT */
/* kTLS module without a kernel: the key schedule against RFC 8448, the
 * crypto_info layout, and offload decisions through the syscall seams. A
 * software "kernel" seals and opens records with the captured crypto_info, so
 * a userspace OpenSSL peer proves the keys and record numbers are right. */
#include "../lib/t.h"
#include "../lib/tpair.h"
#include "../../src/ktls.c"	/* white-box: statics too */

#include <openssl/evp.h>
#include <openssl/x509.h>

/* ---- helpers ---- */

static size_t unhex(uint8_t *out, const char *hex)
{
	size_t n = 0;

	for (; hex[0] && hex[1] && sscanf(hex, "%2hhx", &out[n]) == 1; hex += 2)
		n++;
	return n;
}

static bool mem_is_hex(const uint8_t *p, const char *hex)
{
	uint8_t want[64];
	size_t n = unhex(want, hex);

	return !memcmp(p, want, n);
}

/* What the fake kernel saw. */
static struct {
	int ulp_calls, tx_calls, rx_calls;
	int ulp_errno, tx_errno, rx_errno;	/* 0: succeed */
	unsigned short fail_cipher;		/* TLS_CIPHER_* to refuse with ENOENT */
	union crypto_info tx, rx;
} k;

static int fake_setsockopt(int fd, int lvl, int opt, const void *val, socklen_t len)
{
	const struct tls_crypto_info *ci = val;
	int err = 0;

	(void)fd;
	if (lvl == SOL_TCP && opt == TCP_ULP) {
		k.ulp_calls++;
		err = k.ulp_errno;
	} else if (lvl == SOL_TLS && (opt == TLS_TX || opt == TLS_RX)) {
		err = opt == TLS_TX ? k.tx_errno : k.rx_errno;
		if (ci->cipher_type == k.fail_cipher)
			err = ENOENT;
		if (!err)
			memcpy(opt == TLS_TX ? &k.tx : &k.rx, val, len);
		(*(opt == TLS_TX ? &k.tx_calls : &k.rx_calls))++;
	}
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static void fake_kernel(void)
{
	memset(&k, 0, sizeof(k));
	ktls_setsockopt = fake_setsockopt;
}

/* ---- a connected client/server pair over an in-memory BIO pair ---- */

struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *s, *c;
	BIO *sbio, *cbio;	/* borrowed: owned by the SSLs */
	struct ktls_track trk;
};

/* Handshakes a server (tracked) with a client, resuming @sess (borrowed)
 * when given; true when both finished. */
static bool pair_open_sess(struct pair *p, int version, const char *c12, const char *c13,
			   SSL_SESSION *sess, SSL_CTX *sctx)
{
	int i, rs = 0, rc = 0;

	memset(p, 0, sizeof(*p));
	p->sctx = sctx ? sctx : tpair_ctx(true, true, version, c12, c13);
	if (sctx)
		SSL_CTX_up_ref(sctx);
	p->cctx = tpair_ctx(false, false, version, c12, c13);
	p->s = SSL_new(p->sctx);
	p->c = SSL_new(p->cctx);
	if (sess)
		SSL_set_session(p->c, sess);
	BIO_new_bio_pair(&p->sbio, 0, &p->cbio, 0);
	SSL_set_bio(p->s, p->sbio, p->sbio);
	SSL_set_bio(p->c, p->cbio, p->cbio);
	SSL_set_accept_state(p->s);
	SSL_set_connect_state(p->c);
	if (ktls_track_attach(p->s, &p->trk) < 0)
		return false;
	for (i = 0; i < 20 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(p->c);
		if (rs != 1)
			rs = SSL_do_handshake(p->s);
	}
	return rs == 1 && rc == 1;
}

static bool pair_open(struct pair *p, int version, const char *c12, const char *c13)
{
	return pair_open_sess(p, version, c12, c13, NULL, NULL);
}

/* Lets the client take in what the server sent after the handshake (tickets). */
static void pair_drain_client(struct pair *p)
{
	uint8_t b[64];

	EXPECT(SSL_read(p->c, b, sizeof(b)) <= 0);
	EXPECT_EQ(SSL_get_error(p->c, -1), SSL_ERROR_WANT_READ);
}

static void pair_close(struct pair *p)
{
	SSL_free(p->s);
	SSL_free(p->c);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	ktls_track_wipe(&p->trk);
}

/* ---- a software kernel: seal/open one record with a crypto_info ---- */

struct rec_keys {
	const EVP_CIPHER *aead;
	const uint8_t *key;
	uint8_t iv[12];		/* TLS 1.3 / ChaCha: full IV; TLS 1.2 GCM: salt + explicit */
	bool explicit_nonce;	/* TLS 1.2 GCM carries 8 nonce bytes in the record */
	uint64_t seq;
	bool tls13;
};

static void rec_keys_of(const union crypto_info *ci, struct rec_keys *rk)
{
	memset(rk, 0, sizeof(*rk));
	rk->tls13 = ci->base.version == TLS_1_3_VERSION;
	switch (ci->base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		rk->aead = EVP_aes_128_gcm();
		rk->key = ci->g128.key;
		memcpy(rk->iv, ci->g128.salt, 4);
		memcpy(rk->iv + 4, ci->g128.iv, 8);
		for (int i = 0; i < 8; i++)
			rk->seq = rk->seq << 8 | ci->g128.rec_seq[i];
		break;
	case TLS_CIPHER_AES_GCM_256:
		rk->aead = EVP_aes_256_gcm();
		rk->key = ci->g256.key;
		memcpy(rk->iv, ci->g256.salt, 4);
		memcpy(rk->iv + 4, ci->g256.iv, 8);
		for (int i = 0; i < 8; i++)
			rk->seq = rk->seq << 8 | ci->g256.rec_seq[i];
		break;
	default:
		rk->aead = EVP_chacha20_poly1305();
		rk->key = ci->cc.key;
		memcpy(rk->iv, ci->cc.iv, 12);
		for (int i = 0; i < 8; i++)
			rk->seq = rk->seq << 8 | ci->cc.rec_seq[i];
		break;
	}
	rk->explicit_nonce = !rk->tls13 && ci->base.cipher_type != TLS_CIPHER_CHACHA20_POLY1305;
}

static void rec_nonce(const struct rec_keys *rk, uint8_t nonce[12])
{
	int i;

	memcpy(nonce, rk->iv, 12);
	if (rk->explicit_nonce)
		return;	/* salt + explicit part, already in iv */
	for (i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(rk->seq >> (56 - 8 * i));
}

/* Seals @len bytes of @type into @out (a full record); returns its length. */
static size_t rec_seal(const struct rec_keys *rk, uint8_t type, const uint8_t *in, size_t len,
		       uint8_t *out)
{
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12], pt[256], aad[13];
	size_t ptlen = len, hdr = rk->explicit_nonce ? 13 : 5, alen;
	int outl;

	memcpy(pt, in, len);
	if (rk->tls13)
		pt[ptlen++] = type;
	rec_nonce(rk, nonce);
	out[0] = rk->tls13 ? KTLS_REC_DATA : type;
	out[1] = 3, out[2] = 3;
	out[3] = (uint8_t)((hdr - 5 + ptlen + 16) >> 8);
	out[4] = (uint8_t)(hdr - 5 + ptlen + 16);
	if (rk->explicit_nonce)
		memcpy(out + 5, nonce + 4, 8);
	if (rk->tls13) {
		memcpy(aad, out, 5);
		alen = 5;
	} else {
		put_be64(aad, rk->seq);
		aad[8] = type, aad[9] = 3, aad[10] = 3;
		aad[11] = (uint8_t)(len >> 8), aad[12] = (uint8_t)len;
		alen = 13;
	}
	EVP_EncryptInit_ex(cx, rk->aead, NULL, rk->key, nonce);
	EVP_EncryptUpdate(cx, NULL, &outl, aad, (int)alen);
	EVP_EncryptUpdate(cx, out + hdr, &outl, pt, (int)ptlen);
	EVP_EncryptFinal_ex(cx, out + hdr + ptlen, &outl);
	EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_GET_TAG, 16, out + hdr + ptlen);
	EVP_CIPHER_CTX_free(cx);
	return hdr + ptlen + 16;
}

/* Opens one record of plaintext length @len; true when the tag verifies. */
static bool rec_open(const struct rec_keys *rk, const uint8_t *rec, size_t len, uint8_t *out)
{
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	uint8_t nonce[12], aad[13];
	size_t hdr = rk->explicit_nonce ? 13 : 5, ctlen = len + (rk->tls13 ? 1 : 0), alen = 5;
	int outl, ok;

	rec_nonce(rk, nonce);
	if (rk->explicit_nonce)
		memcpy(nonce + 4, rec + 5, 8);
	memcpy(aad, rec, 5);
	if (!rk->tls13) {
		put_be64(aad, rk->seq);
		aad[8] = rec[0], aad[9] = 3, aad[10] = 3;
		aad[11] = (uint8_t)(len >> 8), aad[12] = (uint8_t)len;
		alen = 13;
	}
	EVP_DecryptInit_ex(cx, rk->aead, NULL, rk->key, nonce);
	EVP_DecryptUpdate(cx, NULL, &outl, aad, (int)alen);
	EVP_DecryptUpdate(cx, out, &outl, rec + hdr, (int)ctlen);
	EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(rec + hdr + ctlen));
	ok = EVP_DecryptFinal_ex(cx, out + outl, &outl);
	EVP_CIPHER_CTX_free(cx);
	return ok == 1;
}

/* ---- RFC 8448, section 3 (simple 1-RTT handshake) ---- */

TEST(hkdf_label_matches_rfc8448)
{
	uint8_t info[64];

	EXPECT_EQ(build_hkdf_label(info, sizeof(info), "key", 16), 13);
	EXPECT(mem_is_hex(info, "001009746c73313320" "6b657900"));
	EXPECT_EQ(build_hkdf_label(info, sizeof(info), "iv", 12), 12);
	EXPECT(mem_is_hex(info, "000c08746c73313320" "697600"));
	EXPECT_EQ(build_hkdf_label(info, 8, "key", 16), 0);	/* too small: refused */
}

static void check_tls13_vector(const char *secret, const char *key, const char *iv)
{
	struct dir_keys dk;
	uint8_t s[32];

	ASSERT(unhex(s, secret) == 32);
	ASSERT(derive_tls13("SHA256", s, 32, &ciphers[KTLS_CIPHER_AES_128_GCM], &dk) == 0);
	EXPECT(mem_is_hex(dk.key, key));
	EXPECT(mem_is_hex(dk.iv, iv));
}

TEST(rfc8448_server_application_keys)
{
	check_tls13_vector("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
			   "9f02283b6c9c07efc26bb9f2ac92e356", "cf782b88dd83549aadf1e984");
}

TEST(rfc8448_client_application_keys)
{
	check_tls13_vector("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
			   "17422dda596ed5d9acd890e3c63f5051", "5b78923dee08579033e523d9");
}

TEST(rfc8448_client_handshake_keys)
{
	check_tls13_vector("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
			   "dbfaa693d1762c5b666af5d950258d01", "5bd3c71b836e0b76bb73265f");
}

/* ---- crypto_info layout ---- */

TEST(crypto_info_layout_per_cipher_and_version)
{
	struct dir_keys dk = { .seq = 0x0102030405060708ULL };
	union crypto_info ci;
	int i;

	for (i = 0; i < 12; i++)
		dk.iv[i] = (uint8_t)(0xa0 + i);
	memset(dk.key, 0x11, sizeof(dk.key));

	EXPECT_EQ(build_crypto_info(&ci, &ciphers[0], TLS1_3_VERSION, &dk), sizeof(ci.g128));
	EXPECT_EQ(ci.base.version, TLS_1_3_VERSION);
	EXPECT_EQ(ci.base.cipher_type, TLS_CIPHER_AES_GCM_128);
	EXPECT(mem_is_hex(ci.g128.salt, "a0a1a2a3"));
	EXPECT(mem_is_hex(ci.g128.iv, "a4a5a6a7a8a9aaab"));
	EXPECT(mem_is_hex(ci.g128.rec_seq, "0102030405060708"));

	EXPECT_EQ(build_crypto_info(&ci, &ciphers[1], TLS1_2_VERSION, &dk), sizeof(ci.g256));
	EXPECT_EQ(ci.base.version, TLS_1_2_VERSION);
	EXPECT_EQ(ci.base.cipher_type, TLS_CIPHER_AES_GCM_256);
	EXPECT(mem_is_hex(ci.g256.salt, "a0a1a2a3"));
	EXPECT(mem_is_hex(ci.g256.iv, "0102030405060708"));	/* explicit nonce = seq */
	EXPECT_EQ(ci.g256.key[31], 0x11);

	EXPECT_EQ(build_crypto_info(&ci, &ciphers[2], TLS1_2_VERSION, &dk), sizeof(ci.cc));
	EXPECT_EQ(ci.base.cipher_type, TLS_CIPHER_CHACHA20_POLY1305);
	EXPECT(mem_is_hex(ci.cc.iv, "a0a1a2a3a4a5a6a7a8a9aaab"));
	EXPECT(mem_is_hex(ci.cc.rec_seq, "0102030405060708"));
}

/* ---- full offload against a userspace peer, through the seam ---- */

/* Offloads the server of @p, then: a record sealed with the TX crypto_info
 * must read back in the client, and the client's next record must open with
 * the RX one. */
static void check_pair_roundtrip(struct pair *p, int cipher, long tx_seq)
{
	static const uint8_t hello[] = "from the kernel";
	struct ktls_status st;
	struct rec_keys rk;
	uint8_t rec[512], got[256];
	size_t n;
	int len;

	fake_kernel();
	pair_drain_client(p);
	EXPECT_EQ(ktls_offload(p->s, -1, &st), 0);
	EXPECT(st.tx && st.rx);
	EXPECT_EQ(st.cipher, cipher);
	EXPECT_EQ(k.ulp_calls, 1);
	if (tx_seq >= 0)
		EXPECT_EQ(st.tx_seq, tx_seq);

	rec_keys_of(&k.tx, &rk);
	n = rec_seal(&rk, KTLS_REC_DATA, hello, sizeof(hello), rec);
	ASSERT(BIO_write(p->sbio, rec, (int)n) == (int)n);
	len = SSL_read(p->c, got, sizeof(got));
	EXPECT_EQ(len, sizeof(hello));
	EXPECT(len == sizeof(hello) && !memcmp(got, hello, sizeof(hello)));

	ASSERT(SSL_write(p->c, "ping", 4) == 4);
	n = (size_t)BIO_read(p->sbio, rec, sizeof(rec));
	rec_keys_of(&k.rx, &rk);
	EXPECT(n > 5 && rec_open(&rk, rec, 4, got) && !memcmp(got, "ping", 4));
}

static void check_roundtrip(int version, const char *c12, const char *c13, int cipher)
{
	struct pair p;

	ASSERT(pair_open(&p, version, c12, c13));
	/* TLS 1.3: after 2 NewSessionTickets; TLS 1.2: after Finished */
	check_pair_roundtrip(&p, cipher, version == TLS1_3_VERSION ? 2 : 1);
	pair_close(&p);
}

/* A resumed session (abbreviated 1.2 handshake, 1.3 PSK) offloads the same. */
static void check_resumed(int version, const char *c12, const char *c13)
{
	SSL_SESSION *sess;
	struct pair p, q;

	ASSERT(pair_open(&p, version, c12, c13));
	pair_drain_client(&p);
	sess = SSL_get1_session(p.c);
	ASSERT(sess);
	ASSERT(pair_open_sess(&q, version, c12, c13, sess, p.sctx));
	EXPECT(SSL_session_reused(q.s));
	check_pair_roundtrip(&q, 0, -1);	/* the peer decrypting proves the seq */
	pair_close(&q);
	SSL_SESSION_free(sess);
	pair_close(&p);
}

TEST(offload_roundtrip_resumed_tls12)
{
	check_resumed(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "");
}

TEST(offload_roundtrip_resumed_tls13)
{
	check_resumed(TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256");
}

TEST(offload_roundtrip_tls12_aes128gcm)
{
	check_roundtrip(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", "", 0);
}

TEST(offload_roundtrip_tls12_aes256gcm)
{
	check_roundtrip(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", "", 1);
}

TEST(offload_roundtrip_tls12_chacha20)
{
	check_roundtrip(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", "", 2);
}

TEST(offload_roundtrip_tls13_aes128gcm)
{
	check_roundtrip(TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256", 0);
}

TEST(offload_roundtrip_tls13_aes256gcm)
{
	check_roundtrip(TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384", 1);
}

TEST(offload_roundtrip_tls13_chacha20)
{
	check_roundtrip(TLS1_3_VERSION, "", "TLS_CHACHA20_POLY1305_SHA256", 2);
}

/* ---- offload decisions ---- */

TEST(offload_reports_missing_module)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	k.ulp_errno = ENOENT;
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT(!st.tx && !st.rx);
	EXPECT_EQ(st.rx_why, KTLS_WHY_NO_ULP);
	EXPECT_STR_CONTAINS(st.reason, "modprobe tls");
	EXPECT_EQ(k.tx_calls + k.rx_calls, 0);
	pair_close(&p);
}

TEST(offload_ulp_error_is_not_a_missing_module)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	k.ulp_errno = ENOTCONN;
	ASSERT(pair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", ""));
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_ERROR);
	EXPECT_STR_CONTAINS(st.reason, "not connected");
	pair_close(&p);
}

TEST(offload_keeps_cbc_cipher_in_userspace)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	ASSERT(pair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", ""));
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT(!st.tx && !st.rx);
	EXPECT_EQ(st.tx_why, KTLS_WHY_CIPHER);
	EXPECT_EQ(st.cipher, -1);
	EXPECT_STR_CONTAINS(st.reason, "AES128-SHA256");
	EXPECT_EQ(k.ulp_calls + k.tx_calls + k.rx_calls, 0);
	pair_close(&p);
}

TEST(offload_refuses_bytes_held_by_openssl)
{
	struct ktls_status st;
	struct pair p;
	uint8_t b;

	fake_kernel();
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	pair_drain_client(&p);
	ASSERT(SSL_write(p.c, "0123456789", 10) == 10);
	/* unread in the rbio: the kernel would never see these bytes */
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_PENDING);
	EXPECT_EQ(st.tx_why, KTLS_WHY_PAIRED);
	/* decrypted but only partly delivered */
	EXPECT_EQ(SSL_read(p.s, &b, 1), 1);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_PENDING);
	EXPECT_STR_CONTAINS(st.reason, "unread bytes");
	EXPECT_EQ(k.ulp_calls + k.tx_calls + k.rx_calls, 0);
	pair_close(&p);
}

TEST(offload_refuses_unsent_records)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	/* the tickets still sit in the server's write buffer */
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT_STR_CONTAINS(st.reason, "unsent bytes");
	EXPECT_EQ(st.tx_why, KTLS_WHY_PENDING);
	EXPECT_EQ(k.tx_calls + k.rx_calls, 0);
	pair_close(&p);
}

TEST(offload_refuses_after_key_update)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384"));
	pair_drain_client(&p);
	ASSERT(SSL_key_update(p.s, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	ASSERT(SSL_do_handshake(p.s) == 1);
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_REKEYED);
	pair_close(&p);
}

TEST(offload_kernel_without_cipher_keeps_both_in_userspace)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	k.fail_cipher = TLS_CIPHER_CHACHA20_POLY1305;
	ASSERT(pair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", ""));
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT(!st.tx && !st.rx);
	EXPECT_EQ(st.rx_why, KTLS_WHY_KERNEL_CIPHER);
	EXPECT_EQ(st.tx_why, KTLS_WHY_PAIRED);
	EXPECT_EQ(k.tx_calls, 0);
	pair_close(&p);
}

TEST(offload_tx_failure_leaves_rx_offloaded)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	k.tx_errno = EBUSY;
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.s, -1, &st), -EOPNOTSUPP);
	EXPECT(st.rx && !st.tx);
	EXPECT_EQ(st.tx_why, KTLS_WHY_ERROR);
	EXPECT_STR_CONTAINS(st.reason, "TLS_TX");
	pair_close(&p);
}

TEST(offload_without_tracker_has_no_keys)
{
	struct ktls_status st;
	struct pair p;

	fake_kernel();
	ASSERT(pair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	pair_drain_client(&p);
	EXPECT_EQ(ktls_offload(p.c, -1, &st), -EOPNOTSUPP);	/* client: never attached */
	EXPECT_EQ(st.rx_why, KTLS_WHY_NO_KEYS);
	pair_close(&p);
}

/* ---- probe ---- */

TEST(probe_reports_missing_module)
{
	struct ktls_caps caps;

	fake_kernel();
	k.ulp_errno = ENOENT;
	ktls_ulp_path = "/nonexistent";
	EXPECT_EQ(ktls_probe(&caps), -ENOENT);
	EXPECT(!caps.ulp);
	EXPECT_STR_CONTAINS(caps.reason, "tls module not loaded");
	EXPECT_STR_CONTAINS(caps.reason, "modprobe tls");
}

TEST(probe_reports_missing_cipher)
{
	struct ktls_caps caps;

	fake_kernel();
	k.fail_cipher = TLS_CIPHER_CHACHA20_POLY1305;
	EXPECT_EQ(ktls_probe(&caps), 0);
	EXPECT(caps.ulp);
	EXPECT_EQ(caps.tx_ciphers, 0x3);
	EXPECT_EQ(caps.rx_ciphers, 0x3);
	EXPECT_STR_CONTAINS(caps.reason, "CHACHA20-POLY1305");
	EXPECT_STR_CONTAINS(caps.reason, "modprobe chacha20poly1305");
}

TEST(probe_all_ciphers)
{
	struct ktls_caps caps;

	fake_kernel();
	EXPECT_EQ(ktls_probe(&caps), 0);
	EXPECT_EQ(caps.tx_ciphers & caps.rx_ciphers, 0x7);
	EXPECT_STR_EQ(caps.reason, "");
}

/* ---- control records ---- */

TEST(classify_control_records)
{
	static const uint8_t close_notify[] = { 1, 0 }, fatal[] = { 2, 40 };
	static const uint8_t tickets[] = { 4, 0, 0, 1, 0xaa, 4, 0, 0, 0 };
	static const uint8_t keyupd[] = { 24, 0, 0, 1, 0 };
	static const uint8_t truncated[] = { 4, 0, 0, 9, 0 };
	static const uint8_t finished[] = { 20, 0, 0, 0 };

	EXPECT_EQ(ktls_ctrl_classify(TLS1_3_VERSION, 21, close_notify, 2), KTLS_CTRL_CLOSE_NOTIFY);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_2_VERSION, 21, fatal, 2), KTLS_CTRL_ALERT);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_3_VERSION, 22, tickets, sizeof(tickets)),
		  KTLS_CTRL_SESSION_TICKET);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_3_VERSION, 22, keyupd, sizeof(keyupd)),
		  KTLS_CTRL_KEY_UPDATE);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_3_VERSION, 22, truncated, sizeof(truncated)),
		  KTLS_CTRL_UNEXPECTED);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_3_VERSION, 22, finished, sizeof(finished)),
		  KTLS_CTRL_UNEXPECTED);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_2_VERSION, 22, tickets, sizeof(tickets)),
		  KTLS_CTRL_UNEXPECTED);	/* no post-handshake messages in 1.2 */
	EXPECT_STR_EQ(ktls_ctrl_str(KTLS_CTRL_KEY_UPDATE), "KeyUpdate");
}

static ssize_t fake_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR(msg);

	(void)fd;
	(void)flags;
	memcpy(msg->msg_iov[0].iov_base, "\x02\x28", 2);
	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_GET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = KTLS_REC_ALERT;
	msg->msg_controllen = CMSG_SPACE(1);
	return 2;
}

TEST(recv_record_reads_type_from_cmsg)
{
	uint8_t type = 0, buf[16];

	ktls_recvmsg = fake_recvmsg;
	EXPECT_EQ(ktls_recv_record(-1, &type, buf, sizeof(buf)), 2);
	EXPECT_EQ(type, KTLS_REC_ALERT);
	EXPECT_EQ(ktls_ctrl_classify(TLS1_3_VERSION, type, buf, 2), KTLS_CTRL_ALERT);
	ktls_recvmsg = recvmsg;
}

static struct {
	int level, type, rtype, len;
	uint8_t body[2];
} sent;

static ssize_t fake_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct cmsghdr *cm = CMSG_FIRSTHDR((struct msghdr *)msg);

	(void)fd;
	(void)flags;
	sent.level = cm->cmsg_level;
	sent.type = cm->cmsg_type;
	sent.rtype = *CMSG_DATA(cm);
	sent.len = (int)msg->msg_iov[0].iov_len;
	memcpy(sent.body, msg->msg_iov[0].iov_base, 2);
	return sent.len;
}

TEST(close_notify_goes_out_as_alert_record)
{
	ktls_sendmsg = fake_sendmsg;
	EXPECT_EQ(ktls_send_close_notify(-1), 0);
	EXPECT_EQ(sent.level, SOL_TLS);
	EXPECT_EQ(sent.type, TLS_SET_RECORD_TYPE);
	EXPECT_EQ(sent.rtype, KTLS_REC_ALERT);
	EXPECT_EQ(sent.len, 2);
	EXPECT(sent.body[0] == 1 && sent.body[1] == 0);
	ktls_sendmsg = sendmsg;
}

/* ---- start-up policy for gateway.ktls ---- */

TEST(ctx_prepare_takes_over_from_openssl_ktls)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ASSERT(ctx);
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);	/* as openssl.cnf "Options = KTLS" */
	EXPECT_EQ(ktls_ctx_prepare(ctx), 0);
	EXPECT(!(SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_KTLS));
	EXPECT(SSL_CTX_get_keylog_callback(ctx) == on_keylog);
	SSL_CTX_free(ctx);
}

TEST(setup_off_does_not_probe)
{
	struct ktls_caps caps;

	fake_kernel();
	EXPECT_EQ(ktls_setup(FEAT_OFF, &caps), 0);
	EXPECT_EQ(k.ulp_calls, 0);
	EXPECT_STR_CONTAINS(caps.reason, "off");
}

TEST(setup_auto_falls_back_and_on_refuses)
{
	struct ktls_caps caps;

	fake_kernel();
	k.ulp_errno = ENOENT;
	EXPECT_EQ(ktls_setup(FEAT_AUTO, &caps), 0);
	EXPECT_STR_CONTAINS(caps.reason, "modprobe tls");
	EXPECT_EQ(ktls_setup(FEAT_ON, &caps), -ENOENT);
	k.ulp_errno = 0;
	EXPECT_EQ(ktls_setup(FEAT_ON, &caps), 1);
	EXPECT_EQ(ktls_setup(FEAT_AUTO, &caps), 1);
}
