/* SPDX-License-Identifier: MIT */
/* config_files.c and path handling: certificate, key, CA, CRL and internal
 * TLS rules against tcert.c fixtures; relative paths; TLS version and ALPN
 * defaults; the shipped conf/ examples load. */
#include "t.h"
#include "tcert.h"
#include "tconfig.h"
#include "config.h"
#include "diag.h"

#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

#define load tconfig_load

/* Lines 6-12 after L0: tls paths (values at column 18, 18, 14), tlsMode 1
 * (value at 12:14). */
#define TLS_FILES(pem, key)                  \
	"tls:\n"                             \
	"  serverPemPath: " pem "\n"         \
	"  serverKeyPath: " key "\n"         \
	"  caPemPath: ca.pem\n"
#define MODE(m) "common:\n  security:\n    tlsMode: " m "\n"
#define T1 L0 TLS_FILES("server.pem", "server.key") MODE("1")

/* Fixtures in the test's scratch dir, named after what is wrong with them. */
static void make_fixtures(void)
{
	const char *dir = t_tmpdir();
	struct tcert_opts good = { 0 }, expired = { .name = "expired", .expired = true };
	struct tcert_opts soon = { .name = "soon", .days = 10 };
	struct tcert_opts wrong = { .name = "wrong", .wrong_key = true };
	struct tcert_opts open = { .name = "open", .key_mode = 0644 };

	if (tcert_make_ca(dir) || tcert_make_leaf(dir, &good) || tcert_make_leaf(dir, &expired) ||
	    tcert_make_leaf(dir, &soon) || tcert_make_leaf(dir, &wrong) ||
	    tcert_make_leaf(dir, &open) || tcert_make_crl(dir) ||
	    tcert_write_file(dir, "junk.pem", "not a pem file\n", 0600))
		t_fail(__FILE__, __LINE__, "fixtures");
}

static const struct ccase tls_cases[] = {
	{ "mode 1 ok", T1, true, { NULL }, 0 },
	{ "mode 2 ok", L0 TLS_FILES("server.pem", "server.key") MODE("2"), true, { NULL }, 0 },
	{ "mode 2 quoted ok", L0 TLS_FILES("server.pem", "server.key") MODE("\"2\""), true,
	  { NULL }, 0 },
	{ "mode 1 without files", L0 MODE("1"), false,
	  { "t.yaml:8:14: tls.serverPemPath: missing (required: listener 'grpc' uses TLS)",
	    "t.yaml:8:14: tls.serverKeyPath: missing (required: listener 'grpc' uses TLS)" }, 2 },
	{ "listener mode 1 without files", L0 "      tlsMode: 1\n", false,
	  { "t.yaml:6:16: tls.serverPemPath: missing (required: listener 'grpc' uses TLS)" }, 2 },
	{ "listener mode 0 overrides", L0 "      tlsMode: 0\n" MODE("2"), true, { NULL }, 0 },
	{ "mode 0 ignores stale paths", L0 TLS_FILES("/nonexistent/a.pem", "b.key"), true,
	  { NULL }, 0 },
	{ "cert missing", L0 TLS_FILES("nope.pem", "server.key") MODE("1"), false,
	  { "t.yaml:7:18: tls.serverPemPath: cannot read '",
	    "/nope.pem': No such file or directory" }, 1 },
	{ "cert junk", L0 TLS_FILES("junk.pem", "server.key") MODE("1"), false,
	  { "t.yaml:7:18: tls.serverPemPath: no PEM certificate in '", "/junk.pem'" }, 1 },
	{ "cert expired", L0 TLS_FILES("expired.pem", "expired.key") MODE("1"), false,
	  { "t.yaml:7:18: tls.serverPemPath: certificate '", "/expired.pem' expired on " }, 1 },
	{ "cert expiring", L0 TLS_FILES("soon.pem", "soon.key") MODE("1"), true,
	  { "t.yaml:7:18: warning: tls.serverPemPath: certificate '",
	    "/soon.pem' expires in ", " days (20" }, 0 },
	{ "key missing", L0 TLS_FILES("server.pem", "nokey.key") MODE("1"), false,
	  { "t.yaml:8:18: tls.serverKeyPath: cannot read '",
	    "/nokey.key': No such file or directory" }, 1 },
	{ "key mismatch", L0 TLS_FILES("wrong.pem", "wrong.key") MODE("1"), false,
	  { "t.yaml:8:18: tls.serverKeyPath: private key '",
	    "/wrong.key' does not match certificate '" }, 1 },
	{ "key not a key", L0 TLS_FILES("server.pem", "junk.pem") MODE("1"), false,
	  { "t.yaml:8:18: tls.serverKeyPath: no usable PEM private key in '" }, 1 },
	{ "key group readable", L0 TLS_FILES("open.pem", "open.key") MODE("1"), false,
	  { "t.yaml:8:18: tls.serverKeyPath: private key '",
	    "/open.key' has mode 0644 and is readable by group/other; run 'chmod 600 ",
	    "open.key' (or set gateway.allowInsecureKeyPerms: true)" }, 1 },
	{ "key group readable allowed",
	  L0 "  allowInsecureKeyPerms: true\n" TLS_FILES("open.pem", "open.key") MODE("1"), true,
	  { NULL }, 0 },
	{ "mode 2 without ca", L0 "tls:\n  serverPemPath: server.pem\n  serverKeyPath: server.key\n"
	  MODE("2"), false,
	  { "t.yaml:11:14: tls.caPemPath: missing (required: listener 'grpc' uses tlsMode 2)" },
	  1 },
	{ "mode 1 without ca ok", L0 "tls:\n  serverPemPath: server.pem\n  serverKeyPath: "
	  "server.key\n" MODE("1"), true, { NULL }, 0 },
	{ "mode 2 junk ca", L0 "tls:\n  serverPemPath: server.pem\n  serverKeyPath: server.key\n"
	  "  caPemPath: junk.pem\n" MODE("2"), false,
	  { "t.yaml:9:14: tls.caPemPath: no PEM certificate in '" }, 1 },
	{ "crl ok", T1 "tls_extra: 0\n", true, { NULL }, 0 },
	{ "crl junk", L0 "tls:\n  serverPemPath: server.pem\n  serverKeyPath: server.key\n"
	  "  crlPemPath: junk.pem\n" MODE("1"), false,
	  { "t.yaml:9:15: tls.crlPemPath: no PEM CRL in '" }, 1 },
	{ "crl parses", L0 "tls:\n  serverPemPath: server.pem\n  serverKeyPath: server.key\n"
	  "  crlPemPath: ca.crl\n" MODE("1"), true, { NULL }, 0 },
	{ "internal TLS without ca and sni",
	  L0 "common:\n  security:\n    internaltlsEnabled: true\n", false,
	  { "t.yaml:8:25: internaltls.caPemPath: missing (required: listener 'grpc' has internal "
	    "TLS on)",
	    "t.yaml:8:25: internaltls.sni: missing (required: listener 'grpc' has internal TLS "
	    "on)" }, 2 },
	{ "listener internal TLS without ca", L0 "      internaltlsEnabled: true\n"
	  "internaltls:\n  sni: localhost\n", false,
	  { "t.yaml:6:27: internaltls.caPemPath: missing (required: listener 'grpc' has "
	    "internal TLS on)" }, 1 },
	{ "internal TLS junk ca", L0 "      internaltlsEnabled: true\n"
	  "internaltls:\n  sni: localhost\n  caPemPath: junk.pem\n", false,
	  { "t.yaml:9:14: internaltls.caPemPath: no PEM certificate in '" }, 1 },
	{ "internal TLS ok", L0 "internaltls:\n  caPemPath: ca.pem\n  sni: localhost\n"
	  "common:\n  security:\n    internaltlsEnabled: \"true\"\n", true, { NULL }, 0 },
	{ "alpnUpstreams unknown proto", L0 "      alpnUpstreams:\n        h3: 127.0.0.1:1\n"
	  TLS_FILES("server.pem", "server.key") MODE("1"), false,
	  { "t.yaml:7:9: gateway.listeners[0].alpnUpstreams.h3: protocol 'h3' is not in alpn" },
	  1 },
	{ "alpnUpstreams loop", L0 "      alpnUpstreams:\n        h2: 127.0.0.1:19530\n"
	  TLS_FILES("server.pem", "server.key") MODE("1"), false,
	  { "t.yaml:7:13: gateway.listeners[0].alpnUpstreams.h2: 127.0.0.1:19530 is this "
	    "listener's own bind address (a loop)" }, 1 },
	{ "alpnUpstreams bad address", L0 "      alpnUpstreams:\n        h2: nowhere\n"
	  TLS_FILES("server.pem", "server.key") MODE("1"), false,
	  { "t.yaml:7:13: gateway.listeners[0].alpnUpstreams.h2: invalid address 'nowhere'" }, 1 },
	{ "alpnUpstreams list", L0 "      alpnUpstreams: [h2]\n"
	  TLS_FILES("server.pem", "server.key") MODE("1"), false,
	  { "t.yaml:6:22: gateway.listeners[0].alpnUpstreams: expected a mapping, got a list" },
	  1 },
};

TEST(tls_files)
{
	make_fixtures();
	RUN_CASES(tls_cases);
}

TEST(tls_paths_resolved)
{
	struct config *c;
	struct diag d;
	char want[PATH_MAX];

	make_fixtures();
	c = load(L0 "tls:\n  serverPemPath: server.pem\n  serverKeyPath: ./server.key\n"
		    "  caPemPath: /nonexistent/ca.pem\n", &d);
	ASSERT(c);
	snprintf(want, sizeof(want), "%s/server.pem", t_tmpdir());
	EXPECT_STR_EQ(c->tls.server_pem, want);
	snprintf(want, sizeof(want), "%s/./server.key", t_tmpdir());
	EXPECT_STR_EQ(c->tls.server_key, want);
	EXPECT_STR_EQ(c->tls.ca_pem, "/nonexistent/ca.pem");
	EXPECT_EQ(c->tls.server_pem_pos.line, 7);
	config_free(c);
	diag_free(&d);
}

/* config_load(): relative paths resolve against the file's own directory,
 * not the working directory. */
TEST(relative_to_config_file)
{
	char sub[PATH_MAX / 2], file[PATH_MAX], want[PATH_MAX];
	struct tcert_opts o = { 0 };
	struct config *c;
	struct diag d;
	FILE *f;

	snprintf(sub, sizeof(sub), "%s/etc", t_tmpdir());
	ASSERT(mkdir(sub, 0755) == 0);
	snprintf(file, sizeof(file), "%s/etc/cert", t_tmpdir());
	ASSERT(mkdir(file, 0755) == 0);
	ASSERT(tcert_make_leaf(file, &o) == 0);
	snprintf(file, sizeof(file), "%s/gw.yaml", sub);
	f = fopen(file, "w");
	ASSERT(f);
	fputs(L0 TLS_FILES("cert/server.pem", "cert/server.key") MODE("1"), f);
	fclose(f);
	diag_init(&d, NULL);
	c = config_load(file, &d);
	ASSERT(c);
	snprintf(want, sizeof(want), "%s/cert/server.pem", sub);
	EXPECT_STR_EQ(c->tls.server_pem, want);
	EXPECT_STR_EQ(c->dir, sub);
	EXPECT_STR_EQ(c->path, file);
	config_free(c);
	diag_free(&d);
}

TEST(missing_config_file)
{
	struct diag d;

	diag_init(&d, NULL);
	EXPECT(config_load("/nonexistent/gw.yaml", &d) == NULL);
	EXPECT_STR_EQ(d.text, "/nonexistent/gw.yaml: cannot read: No such file or directory\n");
	diag_free(&d);
}

TEST(min_version_defaults)
{
	struct config *c;
	struct diag d;

	make_fixtures();
	c = load(L0 "      tlsMode: 2\n" L1("127.0.0.1:2") "      tlsMode: 1\n"
		    "    - name: p\n      bind: 127.0.0.1:3\n      upstream: 127.0.0.1:4\n"
		    "      tlsMode: 2\n      minVersion: '1.2'\n"
		    TLS_FILES("server.pem", "server.key"), &d);
	ASSERT(c);
	EXPECT_EQ(c->listeners[0].min_version, 0x0304);
	EXPECT_EQ(c->listeners[1].min_version, 0x0303);
	EXPECT_EQ(c->listeners[2].min_version, 0x0303);
	config_free(c);
	diag_free(&d);
	c = load(L0 TLS_FILES("server.pem", "server.key") "  minVersion: \"1.3\"\n" MODE("1"), &d);
	ASSERT(c);
	EXPECT_EQ(c->min_version, 0x0304);
	EXPECT_EQ(c->listeners[0].min_version, 0x0304);
	config_free(c);
	diag_free(&d);
}

TEST(alpn_routes)
{
	struct config *c;
	struct diag d;
	const struct listener_cfg *l;

	make_fixtures();
	c = load("gateway:\n  listeners:\n    - name: milvus\n      bind: 0.0.0.0:443\n"
		 "      milvus: grpc\n      alpn: [h2, http/1.1]\n      alpnUpstreams:\n"
		 "        http/1.1: 127.0.0.1:9091\n" TLS_FILES("server.pem", "server.key")
		 MODE("1"), &d);
	ASSERT(c);
	l = &c->listeners[0];
	EXPECT_EQ(l->n_alpn, 2);
	EXPECT_STR_EQ(l->alpn[0].proto, "h2");
	EXPECT(!l->alpn[0].has_upstream);
	EXPECT_STR_EQ(l->alpn[1].proto, "http/1.1");
	EXPECT(l->alpn[1].has_upstream);
	EXPECT_STR_EQ(l->alpn[1].upstream.text, "127.0.0.1:9091");
	EXPECT_STR_EQ(l->upstream.text, "127.0.0.1:19530");
	config_free(c);
	diag_free(&d);
}

/* The shipped examples load once their certificates exist. */
static void load_example(const char *name)
{
	char src[PATH_MAX], dst[PATH_MAX], buf[65536], *dir;
	struct config *c;
	struct diag d;
	FILE *in, *out;
	size_t n;

	snprintf(src, sizeof(src), "%s", __FILE__);
	dir = dirname(src);
	snprintf(dst, sizeof(dst), "%s/../../conf/%s", dir, name);
	in = fopen(dst, "r");
	ASSERT(in);
	snprintf(dst, sizeof(dst), "%s/%s", t_tmpdir(), name);
	out = fopen(dst, "w");
	ASSERT(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	diag_init(&d, NULL);
	c = config_load(dst, &d);
	if (!c || d.n_warnings)
		t_fail(__FILE__, __LINE__, "%s: %s", name, d.text);
	if (c)
		EXPECT(c->n_listeners >= 2);
	config_free(c);
	diag_free(&d);
}

static void make_conf_certs(void)
{
	char dir[PATH_MAX];
	struct tcert_opts o = { 0 };

	snprintf(dir, sizeof(dir), "%s/cert", t_tmpdir());
	if (mkdir(dir, 0755) || tcert_make_leaf(dir, &o))
		t_fail(__FILE__, __LINE__, "fixtures");
}

TEST(example_ktlsgw_yaml_loads)
{
	make_conf_certs();
	load_example("ktlsgw.yaml");
}

TEST(example_full_milvus_yaml_loads)
{
	make_conf_certs();
	load_example("milvus.yaml");
}
