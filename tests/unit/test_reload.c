/* SPDX-License-Identifier: MIT */
/* reload.c: which config changes a reload reports instead of applying, the
 * worker-side swap of contexts (old SSLs keep their SSL_CTX), and a set not
 * yet taken being replaced by a newer one. */
#include "../lib/t.h"
#include "../../src/reload.c"

#include <openssl/ssl.h>

#define YAML(port, workers, up)                                            \
	"gateway:\n"                                                       \
	"  listeners:\n"                                                   \
	"    - {name: a, bind: '127.0.0.1:" port "', upstream: '127.0.0.2:" up "'}\n" \
	"  workers: " workers "\n"                                         \
	"common:\n"                                                        \
	"  security:\n"                                                    \
	"    tlsMode: 0\n"

static struct config *load(const char *y)
{
	struct config *c;
	struct diag d;

	diag_init(&d, "t.yaml");
	c = config_load_buffer("t.yaml", t_tmpdir(), y, strlen(y), &d);
	if (!c)
		t_fail(__FILE__, __LINE__, "config: %s", d.text ? d.text : "?");
	diag_free(&d);
	return c;
}

TEST(static_changes_are_named)
{
	struct config *a = load(YAML("1000", "2", "1")), *b = load(YAML("1001", "3", "1"));
	struct config *same = load(YAML("1000", "2", "1")), *up = load(YAML("1000", "2", "2"));
	char buf[512];

	ASSERT(a && b && same && up);
	diff_static(a, b, buf, sizeof(buf));
	EXPECT_STR_CONTAINS(buf, "listener a bind");
	EXPECT_STR_CONTAINS(buf, "gateway.workers");
	EXPECT(!strstr(buf, "upstream"));
	diff_static(a, same, buf, sizeof(buf));
	EXPECT_EQ(buf[0], 0);
	diff_static(a, up, buf, sizeof(buf));
	EXPECT_STR_CONTAINS(buf, "listener a upstream");
	config_free(a);
	config_free(b);
	config_free(same);
	config_free(up);
}

TEST(tls_file_paths_compared)
{
	struct tls_files x = { .server_pem = "/a/s.pem", .server_key = "/a/s.key" };
	struct tls_files y = x;

	EXPECT(files_are_same(&x, &y));
	y.crl_pem = "/a/crl.pem";
	EXPECT(!files_are_same(&x, &y));
	y = x;
	y.server_pem = "/b/s.pem";
	EXPECT(!files_are_same(&x, &y));
}

static struct tlsset *one_set(SSL_CTX *ctx)
{
	struct tlsset *s = calloc(1, sizeof(*s));

	s->n = 1;
	s->ctx = calloc(1, sizeof(*s->ctx));
	s->up_ctx = calloc(1, sizeof(*s->up_ctx));
	s->ctx[0] = ctx;
	return s;
}

TEST(adopt_swaps_and_old_ssl_keeps_old_ctx)
{
	struct gateway gw = { 0 };
	struct lsock ls = { .fd = -1 };
	struct worker w = { .gw = &gw, .ls = &ls, .n_ls = 1 };
	SSL_CTX *old = SSL_CTX_new(TLS_server_method()), *neu = SSL_CTX_new(TLS_server_method());
	SSL *ssl;

	ASSERT(old && neu);
	ls.ctx = old;
	ssl = SSL_new(old);	/* a conn opened before the reload */
	ASSERT(ssl);
	reload_adopt(&w);	/* nothing handed over: no change */
	EXPECT(ls.ctx == old);
	atomic_store(&w.tls_next, one_set(neu));
	reload_adopt(&w);
	EXPECT(ls.ctx == neu);
	EXPECT(atomic_load(&w.tls_next) == NULL);
	/* The worker's reference to old is gone; the SSL still holds its own. */
	EXPECT(SSL_get_SSL_CTX(ssl) == old);
	EXPECT(SSL_set_cipher_list(ssl, "HIGH") == 1);
	SSL_free(ssl);	/* frees old: ASan would see a leak or a double free */
	SSL_CTX_free(ls.ctx);
}

TEST(newer_set_replaces_one_not_yet_taken)
{
	struct gateway gw = { 0 };
	struct worker w = { .gw = &gw };
	struct reloader r;
	struct tlsset *sets[1];

	gw.workers = &w;
	gw.n_workers = 1;
	atomic_store(&w.exited, true);	/* nobody adopts: hand_over must not wait */
	reload_init(&r, &gw, NULL, NULL);
	sets[0] = one_set(SSL_CTX_new(TLS_server_method()));
	EXPECT_EQ(hand_over(&r, sets), 1);
	EXPECT(sets[0] == NULL);
	sets[0] = one_set(SSL_CTX_new(TLS_server_method()));
	ASSERT(sets[0]);
	{
		struct tlsset *second = sets[0];

		hand_over(&r, sets);
		EXPECT(atomic_load(&w.tls_next) == second);
	}
	reload_set_free(atomic_exchange(&w.tls_next, NULL));
}
