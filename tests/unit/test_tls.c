/* SPDX-License-Identifier: MIT */
/* tls.c: plaintext-HTTP sniffing, refusal reason mapping, ALPN selection
 * by server preference, ALPN routes, and real in-memory handshakes through
 * the side BIO (mode 1 and 2: good cert, no cert, serverAuth-only cert). */
#include "t.h"

#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "bufpool.h"
#include "certcache.h"
#include "certgen.h"
#include "conn.h"
#include "relay.h"
#include "tls.h"
#include "upstream.h"
#include "worker.h"

#define SN(s) ((const unsigned char *)(s)), (sizeof(s) - 1)

TEST(sniff_tells_tls_http_and_garbage_apart)
{
	EXPECT_EQ(tls_sniff(SN("\x16\x03\x01\x02\x00")), SNIFF_TLS);
	EXPECT_EQ(tls_sniff(SN("\x16")), SNIFF_TLS);
	EXPECT_EQ(tls_sniff(SN("GET / HTTP/1.1\r\n")), SNIFF_HTTP);
	EXPECT_EQ(tls_sniff(SN("POST /v2/vectordb/collections/list HTTP/1.1")), SNIFF_HTTP);
	EXPECT_EQ(tls_sniff(SN("PRI * HTTP/2.0\r\n")), SNIFF_HTTP);
	EXPECT_EQ(tls_sniff(SN("OPTIONS * HTTP/1.1")), SNIFF_HTTP);
	EXPECT_EQ(tls_sniff(SN("")), SNIFF_MORE);
	EXPECT_EQ(tls_sniff(SN("GE")), SNIFF_MORE);	/* maybe a method: wait */
	EXPECT_EQ(tls_sniff(SN("DELE")), SNIFF_MORE);
	EXPECT_EQ(tls_sniff(SN("GETX")), SNIFF_OTHER);
	EXPECT_EQ(tls_sniff(SN("get / HTTP/1.1")), SNIFF_OTHER);	/* methods are case-sensitive */
	EXPECT_EQ(tls_sniff(SN("\x00\xff\x13")), SNIFF_OTHER);
	EXPECT_EQ(tls_sniff(SN("SSH-2.0-OpenSSH")), SNIFF_OTHER);
}

TEST(http_400_answer_is_well_formed)
{
	const char *body = strstr(tls_http_400, "\r\n\r\n");
	const char *cl = strstr(tls_http_400, "Content-Length: ");

	ASSERT(body && cl);
	EXPECT(!strncmp(tls_http_400, "HTTP/1.1 400 Bad Request\r\n", 26));
	EXPECT_EQ(strtol(cl + 16, NULL, 10), (long)strlen(body + 4));
	EXPECT_STR_CONTAINS(body, "expects TLS");
}

TEST(refusal_reasons_map_from_openssl)
{
	static const struct {
		int reason;
		long verify;
		enum tls_fail want;
	} cases[] = {
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_INVALID_PURPOSE, TLS_FAIL_WRONG_PURPOSE },
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
		  TLS_FAIL_UNKNOWN_CA },
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
		  TLS_FAIL_UNKNOWN_CA },
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_CERT_HAS_EXPIRED, TLS_FAIL_EXPIRED },
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_CERT_NOT_YET_VALID, TLS_FAIL_EXPIRED },
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_CERT_REVOKED, TLS_FAIL_REVOKED },
		{ SSL_R_CERTIFICATE_VERIFY_FAILED, X509_V_ERR_UNABLE_TO_GET_CRL, TLS_FAIL_BAD_CERT },
		{ SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, 0, TLS_FAIL_NO_CERT },
		{ SSL_R_UNSUPPORTED_PROTOCOL, 0, TLS_FAIL_PROTOCOL_VERSION },
		{ SSL_R_VERSION_TOO_LOW, 0, TLS_FAIL_PROTOCOL_VERSION },
		{ SSL_R_NO_SHARED_CIPHER, 0, TLS_FAIL_NO_SHARED_CIPHER },
		{ SSL_R_WRONG_VERSION_NUMBER, 0, TLS_FAIL_NOT_TLS },
		{ SSL_R_HTTP_REQUEST, 0, TLS_FAIL_NOT_TLS },
		{ SSL_R_UNEXPECTED_EOF_WHILE_READING, 0, TLS_FAIL_PEER_CLOSED },
		{ 0, 0, TLS_FAIL_OTHER },
		{ 0, X509_V_ERR_INVALID_PURPOSE, TLS_FAIL_WRONG_PURPOSE },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (tls_classify(cases[i].reason, cases[i].verify) != cases[i].want)
			t_fail(__FILE__, __LINE__, "case %u: got %s, want %s", i,
			       tls_fail_name(tls_classify(cases[i].reason, cases[i].verify)),
			       tls_fail_name(cases[i].want));
}

TEST(refusal_texts_say_why)
{
	int i;

	for (i = 1; i < TLS_FAIL__COUNT; i++) {
		EXPECT(strcmp(tls_fail_name(i), "?") && tls_fail_name(i)[0]);
		EXPECT(strlen(tls_fail_text(i)) > 10);
	}
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_WRONG_PURPOSE), "serverAuth");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_WRONG_PURPOSE), "clientAuth");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_WRONG_PURPOSE), "ktlsgw cert gen");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_NO_CERT), "no cert");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_UNKNOWN_CA), "unknown CA");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_EXPIRED), "expired");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_PROTOCOL_VERSION), "protocol version");
	EXPECT_STR_CONTAINS(tls_fail_text(TLS_FAIL_NO_SHARED_CIPHER), "no shared cipher");
}

static void set_alpn(struct listener_cfg *lc, const char *const *protos, unsigned int n)
{
	unsigned int i;

	memset(lc, 0, sizeof(*lc));
	for (i = 0; i < n; i++)
		snprintf(lc->alpn[i].proto, sizeof(lc->alpn[i].proto), "%s", protos[i]);
	lc->n_alpn = n;
}

#define PICK(lc, wire) tls_alpn_pick(lc, SN(wire))

TEST(alpn_uses_server_preference)
{
	static const char *const rest_first[] = { "http/1.1", "h2" };
	static const char *const grpc[] = { "h2" };
	struct listener_cfg lc;

	set_alpn(&lc, rest_first, 2);
	EXPECT_EQ(PICK(&lc, "\x02h2\x08http/1.1"), 3);	/* curl's order, ours wins */
	EXPECT_EQ(PICK(&lc, "\x02h2"), 0);			/* grpcio */
	EXPECT_EQ(PICK(&lc, "\x03foo"), -1);
	EXPECT_EQ(PICK(&lc, ""), -1);
	set_alpn(&lc, grpc, 1);
	EXPECT_EQ(PICK(&lc, "\x08http/1.1\x02h2"), 9);
	EXPECT_EQ(PICK(&lc, "\x08http/1.1"), -1);
	set_alpn(&lc, NULL, 0);					/* default http/1.1,h2 */
	EXPECT_EQ(PICK(&lc, "\x02h2\x08http/1.1"), 3);
}

TEST(alpn_never_reads_past_a_truncated_list)
{
	static const char *const grpc[] = { "h2" };
	struct listener_cfg lc;
	unsigned char *p = malloc(3);

	ASSERT(p);
	memcpy(p, "\x09h2", 3);	/* claims 9 bytes, has 2 */
	set_alpn(&lc, grpc, 1);
	EXPECT_EQ(tls_alpn_pick(&lc, p, 3), -1);
	memcpy(p, "\x01h\x05", 3);
	EXPECT_EQ(tls_alpn_pick(&lc, p, 3), -1);
	free(p);
}

TEST(alpn_route_picks_the_upstream)
{
	static const char *const both[] = { "h2", "http/1.1" };
	struct listener_cfg lc;

	set_alpn(&lc, both, 2);
	snprintf(lc.upstream.text, sizeof(lc.upstream.text), "grpc");
	lc.alpn[1].has_upstream = true;
	snprintf(lc.alpn[1].upstream.text, sizeof(lc.alpn[1].upstream.text), "rest");
	EXPECT_STR_EQ(upstream_pick(&lc, "http/1.1")->text, "rest");
	EXPECT_STR_EQ(upstream_pick(&lc, "h2")->text, "grpc");	/* no route: listener's */
	EXPECT_STR_EQ(upstream_pick(&lc, "")->text, "grpc");
	EXPECT_STR_EQ(upstream_pick(&lc, "spdy/3")->text, "grpc");
}

/* ---- in-memory handshakes: OpenSSL client <-> tls.c server side ---- */

struct hs {
	struct gateway gw;
	struct config cfg;
	struct listener_cfg lc;
	struct worker *w;
	struct lsock ls;
	struct conn c;
	SSL_CTX *cctx, *sctx;
	SSL *cli;
	BIO *cin, *cout;	/* client's network side */
	char dir[256];
};

static int make_certs(struct hs *h)
{
	struct certgen_opts o;
	struct certgen_report r;
	char cmd[1024];

	certgen_opts_init(&o);
	o.dir = h->dir;
	if (certgen_gen(&o, &r) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/other", h->dir);
	o.dir = cmd;	/* a second CA and its client certificate */
	if (certgen_gen(&o, &r) < 0)
		return -1;
	/* What the documented gen.sh makes: a client cert for serverAuth only. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout bad.key -subj /CN=bad -out bad.csr 2>/dev/null && "
		 "printf 'extendedKeyUsage=serverAuth\\n' > bad.ext && openssl x509 -req -in bad.csr "
		 "-CA ca.pem -CAkey ca.key -set_serial 77 -days 30 -extfile bad.ext -out bad.pem "
		 ">/dev/null 2>&1",
		 h->dir);
	return system(cmd) == 0 ? 0 : -2;
}

static char *path(struct hs *h, const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", h->dir, name);
	return buf[i];
}

static int hs_init(struct hs *h, enum tls_mode mode)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s", t_tmpdir());
	if (make_certs(h) < 0)
		return -1;
	h->cfg.tls.server_pem = strdup(path(h, "server.pem"));
	h->cfg.tls.server_key = strdup(path(h, "server.key"));
	h->cfg.tls.ca_pem = strdup(path(h, "ca.pem"));
	snprintf(h->lc.name, sizeof(h->lc.name), "t");
	h->lc.tls_mode = mode;
	h->w = calloc(1, sizeof(*h->w));
	h->w->cfg = &h->cfg;
	h->w->gw = &h->gw;
	h->ls = (struct lsock){ .cfg = &h->lc, .w = h->w };
	h->sctx = tls_ctx_server(&h->cfg, &h->lc);
	if (!h->sctx)
		return -1;
	h->c.w = h->w;
	h->c.ls = &h->ls;
	h->c.side[0].fd = h->c.side[1].fd = -1;
	h->c.side[0].pool = h->c.side[1].pool = &h->w->bufs;
	/* rx from the pool (no ring here); tx appears on OpenSSL's first write */
	if (bufpool_want(&h->w->bufs, &h->c.side[SIDE_CLIENT].rx) < 0)
		return -1;
	/* Armed ops make relay_flush/arm_recv no-ops: this test moves the bytes. */
	h->c.ops[SLOT_RECV_C].armed = h->c.ops[SLOT_SEND_C].armed = true;
	return tls_attach(&h->c, SIDE_CLIENT, h->sctx);
}

static int client_init(struct hs *h, const char *cert, const char *key, const char *alpn)
{
	h->cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_load_verify_locations(h->cctx, path(h, "ca.pem"), NULL);
	SSL_CTX_set_verify(h->cctx, SSL_VERIFY_PEER, NULL);
	if (cert && (SSL_CTX_use_certificate_file(h->cctx, path(h, cert), SSL_FILETYPE_PEM) != 1 ||
		     SSL_CTX_use_PrivateKey_file(h->cctx, path(h, key), SSL_FILETYPE_PEM) != 1))
		return -1;
	h->cli = SSL_new(h->cctx);
	h->cin = BIO_new(BIO_s_mem());
	h->cout = BIO_new(BIO_s_mem());
	SSL_set_bio(h->cli, h->cin, h->cout);
	SSL_set_tlsext_host_name(h->cli, "localhost");
	if (alpn)
		SSL_set_alpn_protos(h->cli, (const unsigned char *)alpn, strlen(alpn));
	SSL_set_connect_state(h->cli);
	return 0;
}

/* Moves bytes both ways until both sides stop: returns the server step's
 * last result (0 done, -EPROTO refused). */
static int run_handshake(struct hs *h)
{
	struct side *s = &h->c.side[SIDE_CLIENT];
	int i, ret = -EAGAIN, n;

	for (i = 0; i < 20 && ret == -EAGAIN; i++) {
		SSL_do_handshake(h->cli);
		n = BIO_read(h->cout, s->rx.base + s->rx.tail, (int)(s->rx.cap - s->rx.tail));
		if (n > 0)
			s->rx.tail += (uint32_t)n;
		ret = tls_handshake_step(&h->c, SIDE_CLIENT);
		if (s->tx.tail > s->tx.head)
			BIO_write(h->cin, s->tx.base + s->tx.head, (int)(s->tx.tail - s->tx.head));
		s->tx.head = s->tx.tail = 0;
		if (s->rx.head == s->rx.tail)
			s->rx.head = s->rx.tail = 0;
	}
	SSL_do_handshake(h->cli);	/* read the server's last flight (or its alert) */
	return ret;
}

static void hs_free(struct hs *h)
{
	tls_detach(&h->c, SIDE_CLIENT);
	SSL_free(h->cli);
	SSL_CTX_free(h->cctx);
	tls_ctx_free(h->sctx);
	relay_release_buffers(&h->c);
	bufpool_exit(&h->w->bufs);
	free(h->w);
	free(h->cfg.tls.server_pem);
	free(h->cfg.tls.server_key);
	free(h->cfg.tls.ca_pem);
	ERR_clear_error();
}

TEST(mode1_handshake_with_alpn_server_preference)
{
	struct hs h;
	struct tls_info ti;
	char alpn[32];

	if (hs_init(&h, TLS_MODE_ONEWAY) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	ASSERT(client_init(&h, NULL, NULL, "\x02h2\x08http/1.1") == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT(SSL_is_init_finished(h.cli));
	tls_alpn(&h.c, SIDE_CLIENT, alpn, sizeof(alpn));
	EXPECT_STR_EQ(alpn, "http/1.1");
	tls_info(&h.c, SIDE_CLIENT, &ti);
	EXPECT_STR_EQ(ti.version, "TLSv1.3");
	EXPECT_STR_EQ(ti.subject, "");
	EXPECT_EQ(sk_X509_num(SSL_get_peer_cert_chain(h.cli)), 1);	/* no CA store */
	hs_free(&h);
}

/* gateway.sessionTickets reaches the context (TLS 1.3 tickets per full
 * handshake; tickets.c renews one per resumption). */
TEST(ctx_sends_the_configured_number_of_tickets)
{
	struct hs h;
	SSL_CTX *ctx;

	if (hs_init(&h, TLS_MODE_ONEWAY) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	EXPECT_EQ(SSL_CTX_get_num_tickets(h.sctx), 0);
	h.cfg.session_tickets = 3;
	ctx = tls_ctx_server(&h.cfg, &h.lc);
	ASSERT(ctx);
	EXPECT_EQ(SSL_CTX_get_num_tickets(ctx), 3);
	tls_ctx_free(ctx);
	hs_free(&h);
}

TEST(mode2_accepts_a_clientauth_cert)
{
	struct hs h;
	struct tls_info ti;

	if (hs_init(&h, TLS_MODE_MUTUAL) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	ASSERT(client_init(&h, "client.pem", "client.key", NULL) == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT_EQ(h.c.fail, TLS_FAIL_NONE);
	tls_info(&h.c, SIDE_CLIENT, &ti);
	EXPECT_STR_CONTAINS(ti.subject, "CN=");
	/* The chain OpenSSL used to build per handshake from the CA bundle,
	 * now built once: leaf + CA, as before. */
	EXPECT_EQ(sk_X509_num(SSL_get_peer_cert_chain(h.cli)), 2);
	hs_free(&h);
}

static void expect_refusal(const char *cert, const char *key, enum tls_fail want)
{
	struct hs h;

	if (hs_init(&h, TLS_MODE_MUTUAL) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	if (client_init(&h, cert, key, NULL) < 0) {
		t_fail(__FILE__, __LINE__, "client setup");
		hs_free(&h);
		return;
	}
	EXPECT_EQ(run_handshake(&h), -EPROTO);
	EXPECT_STR_EQ(tls_fail_name(h.c.fail), tls_fail_name(want));
	EXPECT_STR_EQ(h.c.end, tls_fail_name(want));
	hs_free(&h);
}

TEST(mode2_refuses_a_client_without_cert)
{
	expect_refusal(NULL, NULL, TLS_FAIL_NO_CERT);
}

TEST(mode2_refuses_a_serverauth_only_cert)
{
	expect_refusal("bad.pem", "bad.key", TLS_FAIL_WRONG_PURPOSE);
}

TEST(mode2_refuses_a_cert_from_another_ca)
{
	expect_refusal("other/client.pem", "other/client.key", TLS_FAIL_UNKNOWN_CA);
}

/* ---- the verified client certificate cache (certcache.c) ---- */

/* A new client connection on the same server context. */
static int hs_again(struct hs *h, const char *cert, const char *key)
{
	struct side *s = &h->c.side[SIDE_CLIENT];

	tls_detach(&h->c, SIDE_CLIENT);
	SSL_free(h->cli);
	SSL_CTX_free(h->cctx);
	h->cli = NULL;
	h->cctx = NULL;
	s->rx.head = s->rx.tail = s->tx.head = s->tx.tail = 0;
	h->c.fail = TLS_FAIL_NONE;
	h->c.verify_err = 0;
	h->c.end = NULL;
	if (tls_attach(&h->c, SIDE_CLIENT, h->sctx) < 0)
		return -1;
	return client_init(h, cert, key, NULL);
}

static int64_t fake_now;

static time_t fake_clock(void)
{
	return (time_t)fake_now;
}

TEST(mode2_cache_answers_a_returning_certificate)
{
	struct tls_info ti;
	struct hs h;

	if (hs_init(&h, TLS_MODE_MUTUAL) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	ASSERT(client_init(&h, "client.pem", "client.key", NULL) == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT_EQ(certcache_hits(h.sctx), 0);
	ASSERT(hs_again(&h, "client.pem", "client.key") == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT_EQ(h.c.fail, TLS_FAIL_NONE);
	EXPECT_EQ(certcache_hits(h.sctx), 1);
	EXPECT_EQ(SSL_get_verify_result(h.c.side[SIDE_CLIENT].ssl), X509_V_OK);
	tls_info(&h.c, SIDE_CLIENT, &ti);
	EXPECT_STR_CONTAINS(ti.subject, "CN=");
	hs_free(&h);
}

/* Outside the certificate's validity the entry is not used: the full
 * verification runs (against the real time, so it passes here). */
TEST(mode2_cache_entry_only_within_validity)
{
	time_t (*saved)(void) = certcache_clock;
	struct hs h;

	if (hs_init(&h, TLS_MODE_MUTUAL) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	ASSERT(client_init(&h, "client.pem", "client.key", NULL) == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	certcache_clock = fake_clock;
	fake_now = (int64_t)time(NULL) + 200LL * 365 * 86400;	/* past notAfter */
	ASSERT(hs_again(&h, "client.pem", "client.key") == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT_EQ(certcache_hits(h.sctx), 0);
	fake_now = (int64_t)time(NULL) - 2LL * 86400;	/* before notBefore */
	ASSERT(hs_again(&h, "client.pem", "client.key") == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT_EQ(certcache_hits(h.sctx), 0);
	certcache_clock = saved;
	ASSERT(hs_again(&h, "client.pem", "client.key") == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	EXPECT_EQ(certcache_hits(h.sctx), 1);
	hs_free(&h);
}

/* Refusals are never cached: each attempt gets the full check and its reason. */
TEST(mode2_cache_keeps_refusing)
{
	static const char *const certs[][3] = {
		{ "other/client.pem", "other/client.key", "unknown CA" },
		{ "bad.pem", "bad.key", "wrong certificate purpose" },
	};
	struct hs h;
	int i, round;

	if (hs_init(&h, TLS_MODE_MUTUAL) < 0) {
		t_skip("cannot make test certificates (openssl CLI?)");
		hs_free(&h);
		return;
	}
	ASSERT(client_init(&h, "client.pem", "client.key", NULL) == 0);
	EXPECT_EQ(run_handshake(&h), 0);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 2; i++) {
			ASSERT(hs_again(&h, certs[i][0], certs[i][1]) == 0);
			EXPECT_EQ(run_handshake(&h), -EPROTO);
			EXPECT_STR_EQ(tls_fail_name(h.c.fail), certs[i][2]);
		}
	}
	EXPECT_EQ(certcache_hits(h.sctx), 0);
	hs_free(&h);
}
