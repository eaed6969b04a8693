/* SPDX-License-Identifier: MIT */
/* tickets.c: real in-memory TLS 1.3 and 1.2 handshakes over BIO pairs. A
 * ticket issued by one SSL_CTX resumes on another sharing the ring (another
 * worker, or the context a reload builds); rotation renews, a second one
 * expires; an unrelated ring never resumes; the key page is MADV_DONTDUMP. */
#include "t.h"
#include "tcert.h"
#include "tickets.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define PERIOD_MS 3600000ull

struct hs {
	bool reused_c, reused_s;	/* client's and server's view */
	SSL_SESSION *sess;		/* owned: the client's session afterwards */
};

static SSL_CTX *server_ctx(struct tickets *t, const char *stem)
{
	char pem[512], key[512];
	SSL_CTX *ctx;

	snprintf(pem, sizeof(pem), "%s/%s.pem", t_tmpdir(), stem);
	snprintf(key, sizeof(key), "%s/%s.key", t_tmpdir(), stem);
	if (access(pem, F_OK) && tcert_make_leaf(t_tmpdir(), &(struct tcert_opts){ .name = stem }))
		return NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return NULL;
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"grpc", 4);
	if (SSL_CTX_use_certificate_chain_file(ctx, pem) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    tickets_install(t, ctx) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static SSL_CTX *client_ctx(int version, bool no_ticket)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	if (no_ticket)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static bool step(SSL *ssl, bool *done)
{
	int r, why;

	if (*done)
		return true;
	r = SSL_do_handshake(ssl);
	if (r == 1) {
		*done = true;
		return true;
	}
	why = SSL_get_error(ssl, r);
	return why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE;
}

/* A full exchange: handshake, one byte server -> client so the client
 * processes TLS 1.3 NewSessionTickets, then the client's session. */
static int handshake(SSL_CTX *cctx, SSL_CTX *sctx, SSL_SESSION *resume, struct hs *out)
{
	SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
	BIO *bc = NULL, *bs = NULL;
	bool cdone = false, sdone = false;
	int i, ret = -1;
	char byte;

	memset(out, 0, sizeof(*out));
	if (!c || !s || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
		goto out;
	SSL_set_bio(c, bc, bc);
	SSL_set_bio(s, bs, bs);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	if (resume && SSL_set_session(c, resume) != 1)
		goto out;
	for (i = 0; i < 64 && !(cdone && sdone); i++)
		if (!step(c, &cdone) || !step(s, &sdone))
			goto out;
	if (!cdone || !sdone || SSL_write(s, "x", 1) != 1 || SSL_read(c, &byte, 1) != 1)
		goto out;
	out->reused_c = SSL_session_reused(c);
	out->reused_s = SSL_session_reused(s);
	/* a session is only resumable after an orderly close */
	SSL_shutdown(c);
	out->sess = SSL_get1_session(c);
	ret = out->sess ? 0 : -1;
out:
	if (ret < 0)
		ERR_print_errors_fp(stderr);
	SSL_free(c);
	SSL_free(s);
	return ret;
}

/* The key name a session's ticket was sealed with (its first 16 bytes). */
static const unsigned char *ticket_name(const SSL_SESSION *sess)
{
	const unsigned char *tick = NULL;
	size_t len = 0;

	SSL_SESSION_get0_ticket(sess, &tick, &len);
	return len > TICKET_NAME_LEN ? tick : NULL;
}

static bool sealed_with(const SSL_SESSION *sess, const struct ticket_key *k)
{
	const unsigned char *name = ticket_name(sess);

	return name && !memcmp(name, k->name, TICKET_NAME_LEN);
}

static const struct ticket_key *current(const struct tickets *t)
{
	return &t->ring->keys[t->ring->cur];
}

struct fixture {
	struct tickets *t;
	SSL_CTX *a, *b, *cli;	/* two servers sharing t, one client */
};

static bool setup(struct fixture *f, int version)
{
	f->t = tickets_new(PERIOD_MS);
	f->a = f->t ? server_ctx(f->t, "server") : NULL;
	f->b = f->t ? server_ctx(f->t, "server") : NULL;
	f->cli = client_ctx(version, false);
	return f->a && f->b && f->cli;
}

static void teardown(struct fixture *f)
{
	SSL_CTX_free(f->a);
	SSL_CTX_free(f->b);
	SSL_CTX_free(f->cli);
	tickets_put(f->t);
}

static void resumes_on_other_ctx(int version)
{
	struct fixture f;
	struct hs full, again;

	ASSERT(setup(&f, version));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	EXPECT(!full.reused_c && !full.reused_s);
	EXPECT(sealed_with(full.sess, current(f.t)));
	ASSERT(handshake(f.cli, f.b, full.sess, &again) == 0);
	EXPECT(again.reused_c);
	EXPECT(again.reused_s);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	teardown(&f);
}

TEST(tls13_ticket_from_one_ctx_resumes_on_another)
{
	resumes_on_other_ctx(TLS1_3_VERSION);
}

TEST(tls12_ticket_from_one_ctx_resumes_on_another)
{
	resumes_on_other_ctx(TLS1_2_VERSION);
}

/* After one rotation the old ticket resumes and a ticket sealed with the
 * new key replaces it; after a second one it is refused. */
static void rotation(int version)
{
	struct fixture f;
	struct hs full, one, two;
	struct ticket_key first;

	ASSERT(setup(&f, version));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	first = *current(f.t);
	ASSERT(tickets_rotate(f.t) == 0);
	EXPECT(memcmp(current(f.t)->name, first.name, TICKET_NAME_LEN));
	ASSERT(handshake(f.cli, f.b, full.sess, &one) == 0);
	EXPECT(one.reused_c && one.reused_s);
	EXPECT(sealed_with(one.sess, current(f.t)));	/* renewed */
	EXPECT(!sealed_with(one.sess, &first));
	ASSERT(tickets_rotate(f.t) == 0);
	ASSERT(tickets_rotate(f.t) == 0);
	ASSERT(handshake(f.cli, f.b, full.sess, &two) == 0);
	EXPECT(!two.reused_c && !two.reused_s);		/* full handshake */
	EXPECT(sealed_with(two.sess, current(f.t)));
	EXPECT_EQ(f.t->rotations, 3);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(one.sess);
	SSL_SESSION_free(two.sess);
	teardown(&f);
}

TEST(tls13_rotation_renews_then_expires)
{
	rotation(TLS1_3_VERSION);
}

TEST(tls12_rotation_renews_then_expires)
{
	rotation(TLS1_2_VERSION);
}

/* TLS 1.2 keeps a ticket sealed with the current key: renewal is only for
 * old keys (each renewal costs a NewSessionTicket). */
TEST(tls12_current_key_ticket_not_renewed)
{
	struct fixture f;
	struct hs full, again;

	ASSERT(setup(&f, TLS1_2_VERSION));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	ASSERT(handshake(f.cli, f.b, full.sess, &again) == 0);
	EXPECT(again.reused_s);
	EXPECT(!memcmp(ticket_name(full.sess), ticket_name(again.sess), TICKET_NAME_LEN));
	EXPECT(again.sess == full.sess);	/* the client kept its session */
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	teardown(&f);
}

/* TLS 1.3 clients use a ticket once: a resumption with the current key
 * must still bring a fresh ticket, or the client's next connection is a
 * full handshake (every other connection of OpenSSL's and Go's clients). */
TEST(tls13_resumption_brings_a_fresh_ticket)
{
	const unsigned char *t1 = NULL, *t2 = NULL;
	struct fixture f;
	struct hs full, again, third;
	size_t n1 = 0, n2 = 0;

	ASSERT(setup(&f, TLS1_3_VERSION));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	ASSERT(handshake(f.cli, f.b, full.sess, &again) == 0);
	EXPECT(again.reused_c && again.reused_s);
	SSL_SESSION_get0_ticket(full.sess, &t1, &n1);
	SSL_SESSION_get0_ticket(again.sess, &t2, &n2);
	ASSERT(t1 && t2);
	EXPECT(n1 != n2 || memcmp(t1, t2, n1));		/* a new ticket arrived */
	EXPECT(sealed_with(again.sess, current(f.t)));
	ASSERT(handshake(f.cli, f.a, again.sess, &third) == 0);
	EXPECT(third.reused_c && third.reused_s);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	SSL_SESSION_free(third.sess);
	teardown(&f);
}

TEST(two_rotations_mean_a_full_handshake_tls12)
{
	struct fixture f;
	struct hs full, again;

	ASSERT(setup(&f, TLS1_2_VERSION));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	ASSERT(tickets_rotate(f.t) == 0 && tickets_rotate(f.t) == 0);
	ASSERT(handshake(f.cli, f.a, full.sess, &again) == 0);
	EXPECT(!again.reused_c && !again.reused_s);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	teardown(&f);
}

static void unrelated_ring(int version)
{
	struct fixture f;
	struct tickets *other = tickets_new(PERIOD_MS);
	SSL_CTX *alien = other ? server_ctx(other, "server") : NULL;
	struct hs full, again;

	ASSERT(alien);
	ASSERT(setup(&f, version));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	ASSERT(handshake(f.cli, alien, full.sess, &again) == 0);
	EXPECT(!again.reused_c && !again.reused_s);
	EXPECT(sealed_with(again.sess, current(other)));
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	SSL_CTX_free(alien);
	tickets_put(other);
	teardown(&f);
}

TEST(tls13_unrelated_ring_does_not_resume)
{
	unrelated_ring(TLS1_3_VERSION);
}

TEST(tls12_unrelated_ring_does_not_resume)
{
	unrelated_ring(TLS1_2_VERSION);
}

/* A reload: the issuing context and the creator's reference are gone, a
 * context with another certificate takes over with the same ring. */
TEST(ring_outlives_contexts_across_a_reload)
{
	struct fixture f;
	SSL_CTX *reloaded;
	struct hs full, again;

	ASSERT(setup(&f, TLS1_3_VERSION));
	EXPECT_EQ(f.t->refs, 3);
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	SSL_CTX_free(f.a);
	SSL_CTX_free(f.b);
	f.a = f.b = NULL;
	EXPECT_EQ(f.t->refs, 1);
	reloaded = server_ctx(f.t, "server2");
	ASSERT(reloaded);
	tickets_put(f.t);		/* only the new context holds the ring now */
	EXPECT_EQ(f.t->refs, 1);
	ASSERT(handshake(f.cli, reloaded, full.sess, &again) == 0);
	EXPECT(again.reused_c && again.reused_s);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	SSL_CTX_free(reloaded);	/* frees the ring: ASan checks the rest */
	SSL_CTX_free(f.cli);
}

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
	return fake_now;
}

/* No timer: the callback rotates once a period has passed, and after a
 * long idle spell no stale key survives. */
TEST(scheduled_rotation_by_the_callback)
{
	uint64_t (*saved)(void) = tickets_clock_ms;
	struct fixture f;
	struct hs full, one, later;

	tickets_clock_ms = fake_clock;
	fake_now = 1000000;
	ASSERT(setup(&f, TLS1_3_VERSION));
	ASSERT(handshake(f.cli, f.a, NULL, &full) == 0);
	fake_now += PERIOD_MS - 1;
	ASSERT(handshake(f.cli, f.b, full.sess, &one) == 0);
	EXPECT_EQ(f.t->rotations, 0);
	SSL_SESSION_free(one.sess);
	fake_now += 1;
	ASSERT(handshake(f.cli, f.b, full.sess, &one) == 0);
	EXPECT_EQ(f.t->rotations, 1);
	EXPECT(one.reused_s);
	EXPECT(sealed_with(one.sess, current(f.t)));
	fake_now += 10 * PERIOD_MS;
	ASSERT(handshake(f.cli, f.b, one.sess, &later) == 0);
	EXPECT_EQ(f.t->rotations, 1 + TICKET_KEYS);
	EXPECT(!later.reused_s);
	EXPECT_EQ(f.t->next_ms, 1000000 + 12 * PERIOD_MS);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(one.sess);
	SSL_SESSION_free(later.sess);
	teardown(&f);
	tickets_clock_ms = saved;
}

/* The chosen policy: no stateful session-ID cache, tickets only. */
TEST(tls12_ticketless_client_gets_full_handshakes)
{
	struct fixture f;
	SSL_CTX *plain = client_ctx(TLS1_2_VERSION, true);
	struct hs full, again;

	ASSERT(plain);
	ASSERT(setup(&f, TLS1_2_VERSION));
	ASSERT(handshake(plain, f.a, NULL, &full) == 0);
	EXPECT(ticket_name(full.sess) == NULL);
	ASSERT(handshake(plain, f.a, full.sess, &again) == 0);
	EXPECT(!again.reused_s);
	SSL_SESSION_free(full.sess);
	SSL_SESSION_free(again.sess);
	SSL_CTX_free(plain);
	teardown(&f);
}

/* The ring's mapping carries VmFlags "dd" (MADV_DONTDUMP). */
TEST(key_page_is_excluded_from_core_dumps)
{
	struct tickets *t = tickets_new(PERIOD_MS);
	unsigned long lo, hi, addr;
	bool in = false, found = false;
	char line[512];
	FILE *f;

	ASSERT(t);
	addr = (unsigned long)t->ring;
	EXPECT_EQ(addr % (unsigned long)sysconf(_SC_PAGESIZE), 0);
	f = fopen("/proc/self/smaps", "r");
	ASSERT(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = addr >= lo && addr < hi;
		else if (in && !strncmp(line, "VmFlags:", 8))
			found = strstr(line, " dd") != NULL;
	}
	fclose(f);
	EXPECT(found);
	tickets_put(t);
}
