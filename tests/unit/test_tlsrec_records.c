/* SPDX-License-Identifier: MIT */
/* Userspace record layer, record by record against an OpenSSL peer: records
 * split across calls, padding, the 2^14 limits, tampering and replay,
 * close_notify and alerts both ways, TLS 1.3 KeyUpdate both ways, and the
 * classification of post-handshake messages. */
#include "../lib/t.h"
#include "../lib/tpair.h"
#include "../../src/tlsrec.c"	/* white-box: seal_record() crafts bad records */

/* ---- records split across calls, padding, limits ---- */

static bool open_13(struct tpair *p, const char *suite)
{
	return tpair_open(p, TLS1_3_VERSION, "", suite) && tpair_take(p, true) == 0;
}

TEST(incomplete_record_is_eagain_until_whole)
{
	static uint8_t src[3100];
	struct tlsrec_msg m;
	struct tpair p;
	size_t len, cut;

	ASSERT(open_13(&p, "TLS_AES_128_GCM_SHA256"));
	tpair_fill(src, sizeof(src), 3);
	ASSERT(SSL_write(p.c, src, sizeof(src)) == (int)sizeof(src));
	tpair_pull(&p);
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
	tpair_close(&p);
}

TEST(tls13_padding_from_the_peer_is_stripped)
{
	static uint8_t dst[600];
	int tickets = 0;
	struct tpair p;

	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384"));
	ASSERT(SSL_set_block_padding(p.c, 512) == 1);
	ASSERT(tpair_take(&p, true) == 0);
	ASSERT(SSL_write(p.c, "padded", 6) == 6);
	tpair_pull(&p);
	EXPECT_EQ(p.tail, TLSREC_HDR + 512 + TLSREC_TAG);	/* 6 + type + 505 zeros */
	EXPECT_EQ(tpair_recv(&p, dst, 6, &tickets), 6);
	EXPECT(!memcmp(dst, "padded", 6));
	tpair_close(&p);
}

TEST(seal_refuses_over_2_14)
{
	struct tpair p;

	ASSERT(open_13(&p, "TLS_CHACHA20_POLY1305_SHA256"));
	EXPECT_EQ(tpair_send(&p, KTLS_REC_DATA, p.in, TLSREC_PLAIN_MAX + 1), -EMSGSIZE);
	EXPECT_STR_CONTAINS(p.r.why, "2^14");
	EXPECT_EQ(p.r.tx.seq, 2);
	tpair_close(&p);
}

/* A tlsrec on the client side too: crafts records OpenSSL would not send. */
static void craft(struct tlsrec *cli, uint8_t type, size_t len, uint8_t *out)
{
	memset(out + tlsrec_hdr_len(cli), 'x', len);
	EXPECT(seal_record(cli, type, out, NULL, len) > 0);
}

TEST(open_refuses_oversized_plaintext_and_missing_type)
{
	static uint8_t rec[TLSREC_HDR_MAX + TLSREC_PLAIN_MAX + 64];
	struct ktls_status st;
	struct tlsrec_msg m;
	struct tlsrec cli;
	struct tpair p;

	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(tlsrec_init(&cli, p.c, &st) == 0);
	ASSERT(tpair_take(&p, true) == 0);
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
	tpair_close(&p);
}

/* ---- tampering ---- */

/* A record from the peer in @rec (copied out); its length. */
static size_t peer_record(struct tpair *p, uint8_t *rec, const char *text)
{
	size_t n;

	EXPECT(SSL_write(tpair_peer(p), text, (int)strlen(text)) == (int)strlen(text));
	tpair_pull(p);
	n = p->tail - p->head;
	memcpy(rec, p->in + p->head, n);
	p->head = p->tail;
	return n;
}

static void expect_refused(struct tpair *p, const uint8_t *rec, size_t n, const char *why)
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
	struct tpair p;
	size_t n;

	ASSERT(tpair_open(&p, version, c12, c13) && tpair_take(&p, true) == 0);
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
	tpair_close(&p);
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
	struct tpair p;
	size_t n;

	ASSERT(open_13(&p, "TLS_AES_256_GCM_SHA384"));
	n = peer_record(&p, rec, "once");
	memcpy(copy, rec, n);
	EXPECT_EQ(tlsrec_open(&p.r, rec, n, &m), (int)n);
	EXPECT_EQ(tlsrec_open(&p.r, copy, n, &m), -EBADMSG);	/* seq moved on */
	EXPECT_EQ(p.r.alert, ALERT_BAD_RECORD_MAC);
	tpair_close(&p);
}

/* ---- close_notify and alerts ---- */

TEST(close_notify_both_ways)
{
	static uint8_t rec[64];
	struct tlsrec_msg m;
	struct tpair p;
	uint8_t b[8];
	int n;

	ASSERT(open_13(&p, "TLS_AES_128_GCM_SHA256"));
	EXPECT_EQ(tlsrec_seal_alert(&p.r, 1, 0, rec, 10), -ENOSPC);
	n = tlsrec_seal_alert(&p.r, 1, 0, rec, sizeof(rec));
	ASSERT(n == TLSREC_HDR + 2 + TLSREC_TAIL_MAX);
	tpair_put(&p, rec, n);
	EXPECT_EQ(SSL_read(p.c, b, sizeof(b)), 0);
	EXPECT_EQ(SSL_get_error(p.c, 0), SSL_ERROR_ZERO_RETURN);
	EXPECT_EQ(tpair_send(&p, KTLS_REC_DATA, "late", 4), -EPIPE);

	ASSERT(SSL_shutdown(p.c) >= 0);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT_EQ(m.type, KTLS_REC_ALERT);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_CLOSE_NOTIFY);
	EXPECT(p.r.flags & TLSREC_F_RX_DONE);
	tpair_close(&p);
}

TEST(close_notify_from_peer_tls12)
{
	struct tlsrec_msg m;
	struct tpair p;

	ASSERT(tpair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", ""));
	ASSERT(tpair_take(&p, true) == 0);
	ASSERT(SSL_write(p.c, "bye", 3) == 3);
	ASSERT(SSL_shutdown(p.c) >= 0);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == 3);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_CLOSE_NOTIFY);
	tpair_pull(&p);
	EXPECT_EQ(p.tail, p.head);
	tpair_close(&p);
}

/* We send the peer a record with a broken tag: it answers bad_record_mac. */
static void check_peer_alert(int version, const char *c12, const char *c13)
{
	static uint8_t rec[64];
	struct tlsrec_msg m;
	struct tpair p;
	uint8_t b[8];
	size_t hdr;

	ASSERT(tpair_open(&p, version, c12, c13) && tpair_take(&p, true) == 0);
	hdr = tlsrec_hdr_len(&p.r);
	memcpy(rec + hdr, "hi", 2);
	ASSERT(tlsrec_seal(&p.r, KTLS_REC_DATA, rec, 2) > 0);
	rec[hdr + 2] ^= 1;
	tpair_put(&p, rec, (int)(hdr + 2 + tlsrec_tail_len(&p.r)));
	EXPECT(SSL_read(p.c, b, sizeof(b)) < 0);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT_EQ(m.type, KTLS_REC_ALERT);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_ALERT);
	EXPECT(m.data[0] == 2 && m.data[1] == ALERT_BAD_RECORD_MAC);
	EXPECT_EQ(tpair_next(&p, &m), -EAGAIN);
	tpair_close(&p);
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
	struct tpair p;
	int n;

	ASSERT(open_13(&p, suite));
	ASSERT(SSL_key_update(p.c, requested ? SSL_KEY_UPDATE_REQUESTED
					    : SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	ASSERT(SSL_write(p.c, "after", 5) == 5);	/* KeyUpdate, then data */
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT_EQ(m.type, KTLS_REC_HANDSHAKE);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_KEY_UPDATE);
	EXPECT_EQ(p.r.rx.seq, 0);
	EXPECT_EQ(!!(p.r.flags & TLSREC_F_KU_OWED), requested);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == 5 && !memcmp(m.data, "after", 5));
	if (requested) {
		EXPECT_EQ(tpair_send(&p, KTLS_REC_DATA, "x", 1), -EINPROGRESS);
		n = tlsrec_seal_key_update(&p.r, false, rec, sizeof(rec));
		ASSERT(n > 0);
		tpair_put(&p, rec, n);
		EXPECT_EQ(p.r.tx.seq, 0);
	}
	ASSERT(tpair_send(&p, KTLS_REC_DATA, "still readable", 14) > 0);
	EXPECT(tpair_peer_reads(&p, (const uint8_t *)"still readable", 14));
	ASSERT(SSL_write(p.c, "more", 4) == 4);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == 4 && !memcmp(m.data, "more", 4));
	tpair_close(&p);
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
	struct tpair p;
	int n;

	ASSERT(open_13(&p, "TLS_AES_128_GCM_SHA256"));
	n = tlsrec_seal_key_update(&p.r, true, rec, sizeof(rec));
	ASSERT(n > 0);
	tpair_put(&p, rec, n);
	ASSERT(tpair_send(&p, KTLS_REC_DATA, "new key", 7) > 0);
	EXPECT(tpair_peer_reads(&p, (const uint8_t *)"new key", 7));
	ASSERT(SSL_write(p.c, "answer", 6) == 6);	/* its KeyUpdate goes first */
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_KEY_UPDATE);
	EXPECT(!(p.r.flags & TLSREC_F_KU_OWED));
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT(m.len == 6 && !memcmp(m.data, "answer", 6));
	tpair_close(&p);
}

TEST(key_update_is_refused_in_tls12)
{
	static const uint8_t ku[] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	struct tlsrec_msg m = { .data = (uint8_t *)ku, .len = 5, .type = KTLS_REC_HANDSHAKE };
	uint8_t rec[64];
	struct tpair p;

	ASSERT(tpair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", ""));
	ASSERT(tpair_take(&p, true) == 0);
	EXPECT_EQ(tlsrec_seal_key_update(&p.r, false, rec, sizeof(rec)), -EOPNOTSUPP);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_UNEXPECTED);
	EXPECT_STR_CONTAINS(p.r.why, "renegotiation");
	tpair_close(&p);
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

/* ---- out of place: the relay decrypts into, and seals from, another buffer ---- */

static void out_of_place(int version, const char *c12, const char *c13)
{
	static uint8_t src[TLSREC_PLAIN_MAX], keep[TLSREC_PLAIN_MAX], out[TLSREC_PLAIN_MAX + 1];
	static uint8_t rec[TLSREC_HDR_MAX + TLSREC_PLAIN_MAX + TLSREC_TAIL_MAX];
	struct tlsrec_msg m;
	struct tpair p;
	uint64_t seq;
	int n;

	ASSERT(tpair_open(&p, version, c12, c13));
	ASSERT(tpair_take(&p, true) == 0);
	seq = p.r.rx.seq;	/* TLS 1.2: the Finished was record 0 */
	tpair_fill(src, sizeof(src), 11);
	memcpy(keep, src, sizeof(src));
	/* OpenSSL's full record opens into @out; the record stays ciphertext */
	ASSERT(SSL_write(p.c, src, sizeof(src)) == (int)sizeof(src));
	tpair_pull(&p);
	n = tlsrec_open_to(&p.r, p.in + p.head, p.tail - p.head, out, &m);
	EXPECT_EQ(n, (int)(p.tail - p.head));
	EXPECT(m.type == KTLS_REC_DATA && m.data == out && m.len == sizeof(src));
	EXPECT(!memcmp(out, src, sizeof(src)));
	EXPECT(memcmp(p.in + p.head + tlsrec_hdr_len(&p.r), src, 64) != 0);
	p.head += (size_t)n;
	/* a flipped bit fails out of place too, and changes no state */
	ASSERT(SSL_write(p.c, src, 100) == 100);
	tpair_pull(&p);
	p.in[p.tail - TLSREC_TAG - 1] ^= 1;
	EXPECT_EQ(tlsrec_open_to(&p.r, p.in + p.head, p.tail - p.head, out, &m), -EBADMSG);
	EXPECT_EQ(p.r.rx.seq, seq + 1);
	/* sealed from @src (left as it was), read back by OpenSSL */
	n = tlsrec_seal_from(&p.r, KTLS_REC_DATA, rec, src, sizeof(src));
	EXPECT_EQ(n, (int)(tlsrec_hdr_len(&p.r) + sizeof(src) + tlsrec_tail_len(&p.r)));
	EXPECT(!memcmp(src, keep, sizeof(src)));
	tpair_put(&p, rec, n);
	EXPECT(tpair_peer_reads(&p, keep, sizeof(keep)));
	n = tlsrec_seal_from(&p.r, KTLS_REC_DATA, rec, src, 1);
	tpair_put(&p, rec, n);
	EXPECT(tpair_peer_reads(&p, keep, 1));
	tpair_close(&p);
}

TEST(out_of_place_tls12_gcm)
{
	out_of_place(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", "");
}

TEST(out_of_place_tls12_chacha)
{
	out_of_place(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", "");
}

TEST(out_of_place_tls13)
{
	out_of_place(TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256");
	out_of_place(TLS1_3_VERSION, "", "TLS_CHACHA20_POLY1305_SHA256");
}
