/* SPDX-License-Identifier: MIT */
/* recside_peek(), the relay's room rule for tlsrec sources: a record is
 * opened only once the destination has room for the most plaintext it can
 * hold, so that bound must never be below what the record opens to (the
 * copy would overflow) nor above 2^14 (a full record would never fit the
 * 16 KiB window and the relay would stall), for every version and AEAD. */
#include "../lib/t.h"
#include "../lib/tpair.h"

#include <errno.h>
#include <openssl/ssl.h>

#include "recside.h"
#include "tlsrec.h"

static struct conn *conn_over(struct tpair *p)
{
	static struct conn c;

	memset(&c, 0, sizeof(c));
	c.rec[SIDE_CLIENT] = p->r;
	c.side[SIDE_CLIENT].rx = (struct buf){ p->in, (uint32_t)p->head, (uint32_t)p->tail,
					       TPAIR_BUFSZ };
	return &c;
}

/* A record of @len bytes from the OpenSSL client: peek's bound, checked
 * against the plaintext tlsrec then opens. */
static void check_bound(int version, const char *c12, const char *c13, size_t len)
{
	static uint8_t src[TLSREC_PLAIN_MAX];
	struct tlsrec_msg m;
	struct tpair p;
	struct conn *c;
	int bound;

	ASSERT(tpair_open(&p, version, c12, c13));
	ASSERT(tpair_take(&p, true) == 0);
	tpair_fill(src, len, 7);
	ASSERT(SSL_write(p.c, src, (int)len) == (int)len);
	tpair_pull(&p);
	c = conn_over(&p);
	c->side[SIDE_CLIENT].rx.tail--;
	EXPECT_EQ(recside_peek(c, SIDE_CLIENT), -EAGAIN);	/* one byte short */
	c->side[SIDE_CLIENT].rx.tail++;
	bound = recside_peek(c, SIDE_CLIENT);
	EXPECT(bound >= (int)len);
	EXPECT(bound <= TLSREC_PLAIN_MAX);
	ASSERT(tlsrec_open(&c->rec[SIDE_CLIENT], p.in + p.head, p.tail - p.head, &m) > 0);
	EXPECT(m.type == KTLS_REC_DATA && m.len == len && !memcmp(m.data, src, len));
	EXPECT(m.len <= (uint32_t)bound);
	c->rec[SIDE_CLIENT] = (struct tlsrec){ 0 };	/* a copy: tpair_close() frees p.r */
	tpair_close(&p);
}

TEST(bound_fits_a_full_record_tls12_gcm)
{
	check_bound(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256", "",
		    TLSREC_PLAIN_MAX);
	check_bound(TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", "",
		    100);
}

TEST(bound_fits_a_full_record_tls12_chacha)
{
	check_bound(TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305", "",
		    TLSREC_PLAIN_MAX);
}

TEST(bound_fits_a_full_record_tls13)
{
	check_bound(TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256", TLSREC_PLAIN_MAX);
	check_bound(TLS1_3_VERSION, "", "TLS_CHACHA20_POLY1305_SHA256", 1);
}

TEST(bad_length_gives_zero_so_the_open_reports_it)
{
	static uint8_t rx[TLSREC_HDR] = { KTLS_REC_DATA, 3, 3, 0xff, 0xff };
	struct conn *c;
	struct tpair p;

	ASSERT(tpair_open(&p, TLS1_3_VERSION, "", "TLS_AES_128_GCM_SHA256"));
	ASSERT(tpair_take(&p, true) == 0);
	c = conn_over(&p);
	c->side[SIDE_CLIENT].rx = (struct buf){ rx, 0, sizeof(rx), sizeof(rx) };
	EXPECT_EQ(recside_peek(c, SIDE_CLIENT), 0);
	c->side[SIDE_CLIENT].rx = (struct buf){ NULL, 0, 0, 0 };
	EXPECT_EQ(recside_peek(c, SIDE_CLIENT), -EAGAIN);	/* no buffer yet */
	tpair_close(&p);
}
