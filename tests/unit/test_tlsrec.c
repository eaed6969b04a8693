/* SPDX-License-Identifier: MIT */
/* Userspace record layer against real OpenSSL peers over memory BIO pairs:
 * handshake with OpenSSL, take the server or the client side over with
 * tlsrec (its SSL freed), relay data both ways byte-exact for TLS 1.2 and 1.3
 * x the three AEADs, resumed sessions, tickets, and what is refused. */
#include "../lib/t.h"
#include "../lib/tpair.h"

#include <openssl/ssl.h>

#include "common.h"
#include "ktls.h"
#include "tlsrec.h"

/* ---- data both ways, byte-exact ---- */

static void check_roundtrip(int version, const char *c12, const char *c13, int cipher, bool server)
{
	static const size_t out_sizes[] = { 1, 100, TLSREC_PLAIN_MAX, 3100, 1500 };
	static uint8_t src[20000], dst[20001];
	struct tpair p;
	int tickets = 0;
	size_t i;

	ASSERT(tpair_open(&p, version, c12, c13));
	ASSERT(tpair_take(&p, server) == 0);
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
		tpair_fill(src, out_sizes[i], (unsigned int)i);
		ASSERT(tpair_send(&p, KTLS_REC_DATA, src, out_sizes[i]) > 0);
		EXPECT(tpair_peer_reads(&p, src, out_sizes[i]));
	}
	tpair_fill(src, sizeof(src), 99);
	ASSERT(SSL_write(tpair_peer(&p), src, sizeof(src)) == (int)sizeof(src));	/* 2 records */
	ASSERT(SSL_write(tpair_peer(&p), "z", 1) == 1);
	EXPECT_EQ(tpair_recv(&p, dst, sizeof(src) + 1, &tickets), sizeof(src) + 1);
	EXPECT(!memcmp(dst, src, sizeof(src)) && dst[sizeof(src)] == 'z');
	/* client of TLS 1.3: the server's NewSessionTickets came first */
	EXPECT_EQ(tickets, version == TLS1_3_VERSION && !server ? 2 : 0);
	tpair_close(&p);
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


/* ---- the client side: tickets arriving later ---- */

TEST(client_takes_a_later_session_ticket)
{
	struct tlsrec_msg m;
	struct tpair p;
	int tickets = 0;
	uint8_t b[4];

	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_256_GCM_SHA384"));
	ASSERT(tpair_take(&p, false) == 0);
	ASSERT(SSL_write(p.s, "abcd", 4) == 4);
	EXPECT_EQ(tpair_recv(&p, b, 4, &tickets), 4);
	EXPECT_EQ(tickets, 2);
	ASSERT(SSL_new_session_ticket(p.s) == 1);
	ASSERT(SSL_do_handshake(p.s) == 1);	/* sends it now */
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT_EQ(tlsrec_ctrl(&p.r, &m), KTLS_CTRL_SESSION_TICKET);
	ASSERT(tpair_send(&p, KTLS_REC_DATA, "request", 7) > 0);
	EXPECT(tpair_peer_reads(&p, (const uint8_t *)"request", 7));
	tpair_close(&p);
}

/* ---- what cannot be taken over ---- */

TEST(refuses_cbc_suite)
{
	struct ktls_status st;
	struct tlsrec r;
	struct tpair p;

	ASSERT(tpair_open(&p, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", ""));
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_CIPHER);
	EXPECT_STR_CONTAINS(st.reason, "AES128-SHA256");
	EXPECT(!r.rx.aead && !r.tx.aead);
	tpair_close(&p);
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
	struct tpair p;

	if (!tpair_open(&p, TLS1_1_VERSION, "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", "")) {
		tpair_close(&p);
		t_skip("this OpenSSL will not negotiate TLS 1.1");
		return;
	}
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_VERSION);
	EXPECT_STR_CONTAINS(st.reason, "TLSv1.1");
	tpair_close(&p);
}

TEST(refuses_untracked_session)
{
	struct ktls_status st;
	struct tlsrec r;
	struct tpair p;

	tpair_untracked = true;
	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	tpair_untracked = false;
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_NO_KEYS);
	tpair_close(&p);
}

TEST(refuses_record_held_inside_openssl_but_takes_bio_bytes)
{
	struct ktls_status st;
	struct tlsrec_msg m;
	struct tpair p;
	uint8_t b;

	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(SSL_write(p.c, "0123456789", 10) == 10);
	ASSERT(SSL_write(p.c, "abc", 3) == 3);
	EXPECT_EQ(SSL_read(p.s, &b, 1), 1);	/* 9 bytes now held by OpenSSL */
	EXPECT_EQ(tlsrec_init(&p.r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_PENDING);
	EXPECT_STR_CONTAINS(st.reason, "inside OpenSSL");
	EXPECT_EQ(SSL_read(p.s, p.in, sizeof(p.in)), 9);
	/* the second record is still in the BIO: ours to open */
	ASSERT(tpair_take(&p, true) == 0);
	EXPECT_EQ(p.r.rx.seq, 1);
	ASSERT(tpair_next(&p, &m) > 0);
	EXPECT(m.len == 3 && !memcmp(m.data, "abc", 3));
	tpair_close(&p);
}

TEST(refuses_after_key_update_seen_by_openssl)
{
	struct ktls_status st;
	struct tlsrec r;
	struct tpair p;
	uint8_t b[4];

	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(SSL_key_update(p.c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1);
	ASSERT(SSL_do_handshake(p.c) == 1);
	EXPECT(SSL_read(p.s, b, sizeof(b)) < 0);
	EXPECT_EQ(tlsrec_init(&r, p.s, &st), -EOPNOTSUPP);
	EXPECT_EQ(st.rx_why, KTLS_WHY_REKEYED);
	tpair_close(&p);
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
	struct tpair p, q;

	ASSERT(tpair_open(&p, version, c12, c13));
	EXPECT(SSL_read(p.c, b, sizeof(b)) <= 0);	/* takes the 1.3 tickets */
	tpair_resume = SSL_get1_session(p.c);
	tpair_sctx = p.sctx;
	ASSERT(tpair_open(&q, version, c12, c13));
	tpair_resume = (SSL_SESSION_free(tpair_resume), NULL);
	tpair_sctx = NULL;
	EXPECT(SSL_session_reused(q.s));
	ASSERT(tpair_take(&q, server) == 0);
	ASSERT(tpair_send(&q, KTLS_REC_DATA, "resumed", 7) > 0);
	EXPECT(tpair_peer_reads(&q, (const uint8_t *)"resumed", 7));
	ASSERT(SSL_write(tpair_peer(&q), "again", 5) == 5);
	EXPECT_EQ(tpair_recv(&q, b, 5, &tickets), 5);
	EXPECT(!memcmp(b, "again", 5));
	tpair_close(&q);
	tpair_close(&p);
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

