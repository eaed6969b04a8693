/* SPDX-License-Identifier: MIT */
/* config.c, config_value.c, config_gateway.c: one case per rule, good and
 * bad, each bad case asserting the exact "file:line:col: key: reason" text;
 * defaults, durations, addresses, binds, typo warnings. Certificate rules
 * and the conf/ examples are in test_config_tls.c. */
#include "t.h"
#include "tconfig.h"
#include "config.h"
#include "diag.h"

#include <stdlib.h>

static const struct ccase structure_cases[] = {
	{ "minimal", L0, true, { NULL }, 0 },
	{ "no gateway", "proxy:\n  port: 19530\n", false,
	  { "t.yaml: gateway: missing (required: the gateway section with its listeners)" }, 1 },
	{ "gateway scalar", "gateway: 1\n", false,
	  { "t.yaml:1:10: gateway: expected a mapping, got a scalar" }, 1 },
	{ "top level list", "- a\n", false,
	  { "t.yaml:1:1: expected a mapping at the top of the file, got a list" }, 1 },
	{ "unknown gateway key, near", L0 "  ktsl: on\n", false,
	  { "t.yaml:6:3: gateway.ktsl: unknown key; did you mean 'ktls'?" }, 1 },
	{ "unknown gateway key, far", L0 "  colour: blue\n", false,
	  { "t.yaml:6:3: gateway.colour: unknown key" }, 1 },
	{ "unknown listener key", L0 "      upstrem: 1.2.3.4:5\n", false,
	  { "t.yaml:6:7: gateway.listeners[0].upstrem: unknown key; did you mean 'upstream'?" },
	  1 },
	{ "no listeners", "gateway:\n  ktls: auto\n", false,
	  { "t.yaml:2:3: gateway.listeners: missing (required: at least one listener)" }, 1 },
	{ "listeners empty", "gateway:\n  listeners: []\n", false,
	  { "t.yaml:2:14: gateway.listeners: must list 1 to 64 listeners, got 0" }, 1 },
	{ "listeners scalar", "gateway:\n  listeners: grpc\n", false,
	  { "t.yaml:2:14: gateway.listeners: expected a list, got a scalar" }, 1 },
	{ "listener scalar", "gateway:\n  listeners:\n    - grpc\n", false,
	  { "t.yaml:3:7: gateway.listeners[0]: expected a mapping, got a scalar" }, 1 },
	{ "name missing",
	  "gateway:\n  listeners:\n    - bind: 127.0.0.1:1\n      upstream: 127.0.0.1:2\n", false, { "t.yaml:3:7: gateway.listeners[0].name: missing (required)" }, 1 },
	{ "name bad chars", "gateway:\n  listeners:\n    - name: a b\n      bind: 127.0.0.1:1\n"
			    "      upstream: 127.0.0.1:2\n", false,
	  { "t.yaml:3:13: gateway.listeners[0].name: must be 1 to 63 characters from "
	    "A-Z a-z 0-9 _ . -, got 'a b'" }, 1 },
	{ "name too long", "gateway:\n  listeners:\n    - name: "
	  "a123456789012345678901234567890123456789012345678901234567890123\n"
	  "      bind: 127.0.0.1:1\n      upstream: 127.0.0.1:2\n", false,
	  { "t.yaml:3:13: gateway.listeners[0].name: must be 1 to 63 characters" }, 1 },
	{ "name 63 ok", "gateway:\n  listeners:\n    - name: "
	  "a12345678901234567890123456789012345678901234567890123456789012\n"
	  "      bind: 127.0.0.1:1\n      upstream: 127.0.0.1:2\n", true, { NULL }, 0 },
	{ "duplicate names", L0 "    - name: grpc\n      bind: 127.0.0.1:8080\n"
			       "      upstream: 127.0.0.1:8081\n", false,
	  { "t.yaml:6:13: gateway.listeners[1].name: duplicate listener name 'grpc' "
	    "(first at line 3:7)" }, 1 },
	{ "bind missing", "gateway:\n  listeners:\n    - name: a\n      upstream: 127.0.0.1:2\n",
	  false, { "t.yaml:3:7: gateway.listeners[0].bind: missing (required)" }, 1 },
	{ "bind map", "gateway:\n  listeners:\n    - name: a\n      bind: {port: 1}\n"
		      "      upstream: 127.0.0.1:2\n", false,
	  { "t.yaml:4:13: gateway.listeners[0].bind: expected a scalar, got a mapping" }, 1 },
	{ "upstream missing", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:1\n",
	  false, { "t.yaml:3:7: gateway.listeners[0].upstream: missing (required unless "
		   "milvus: grpc|rest is set)" }, 1 },
	{ "all errors reported", "gateway:\n  listeners:\n    - name: a b\n      bind: 1\n"
				 "  workers: many\n", false,
	  { "gateway.listeners[0].name:", "gateway.listeners[0].bind:", "gateway.workers:" }, 4 },
};

TEST(structure)
{
	RUN_CASES(structure_cases);
}

static const struct ccase address_cases[] = {
	{ "no port", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1\n"
		     "      upstream: 127.0.0.1:2\n", false,
	  { "t.yaml:4:13: gateway.listeners[0].bind: invalid address '127.0.0.1': "
	    "expected host:port or [IPv6]:port" }, 1 },
	{ "port 0", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:0\n"
		    "      upstream: 127.0.0.1:2\n", false,
	  { "t.yaml:4:13: gateway.listeners[0].bind: invalid address '127.0.0.1:0': port must "
	    "be a number from 1 to 65535" }, 1 },
	{ "port 65536", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:1\n"
			"      upstream: 127.0.0.1:65536\n", false,
	  { "t.yaml:5:17: gateway.listeners[0].upstream: invalid address '127.0.0.1:65536': "
	    "port must be a number from 1 to 65535" }, 1 },
	{ "port text", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:http\n"
		       "      upstream: 127.0.0.1:2\n", false,
	  { "invalid address '127.0.0.1:http': port must be a number from 1 to 65535" }, 1 },
	{ "bad ipv4", "gateway:\n  listeners:\n    - name: a\n      bind: 300.1.1.1:80\n"
		      "      upstream: 127.0.0.1:2\n", false,
	  { "invalid address '300.1.1.1:80': bad IPv4 address (expected a.b.c.d or "
	    "a host name)" }, 1 },
	/* RFC 6761: .invalid never resolves */
	{ "unknown host name", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:80\n"
		      "      upstream: milvus.invalid:19530\n", false,
	  { "t.yaml:5:17: gateway.listeners[0].upstream: invalid address "
	    "'milvus.invalid:19530': cannot resolve host name 'milvus.invalid': " }, 1 },
	{ "not a host name", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:80\n"
		      "      upstream: milvus_1:19530\n", false,
	  { "invalid address 'milvus_1:19530': bad IPv4 address" }, 1 },
	{ "missing host", "gateway:\n  listeners:\n    - name: a\n      bind: ':80'\n"
			  "      upstream: 127.0.0.1:2\n", false,
	  { "invalid address ':80': missing host" }, 1 },
	{ "ipv6 no brackets", "gateway:\n  listeners:\n    - name: a\n      bind: ::1:8443\n"
			      "      upstream: 127.0.0.1:2\n", false,
	  { "t.yaml:4:13: gateway.listeners[0].bind: invalid address '::1:8443': write IPv6 "
	    "addresses in brackets, e.g. [::1]:8443" }, 1 },
	{ "bad ipv6", "gateway:\n  listeners:\n    - name: a\n      bind: '[::g]:80'\n"
		      "      upstream: 127.0.0.1:2\n", false,
	  { "invalid address '[::g]:80': bad IPv6 address" }, 1 },
	{ "ipv6 no port", "gateway:\n  listeners:\n    - name: a\n      bind: '[::1]'\n"
			  "      upstream: 127.0.0.1:2\n", false,
	  { "invalid address '[::1]': expected host:port or [IPv6]:port" }, 1 },
	{ "ipv6 ok", "gateway:\n  listeners:\n    - name: a\n      bind: '[::1]:8443'\n"
		     "      upstream: '[::1]:19530'\n", true, { NULL }, 0 },
	{ "localhost ok", "gateway:\n  listeners:\n    - name: a\n      bind: localhost:8443\n"
			  "      upstream: 127.0.0.1:19530\n", true, { NULL }, 0 },
	{ "same bind", L0 L1("127.0.0.1:19530"), false,
	  { "t.yaml:7:13: gateway.listeners[1].bind: 127.0.0.1:19530 overlaps "
	    "gateway.listeners[0].bind 127.0.0.1:19530 (line 4:13)" }, 1 },
	{ "wildcard v4 overlap", L0 L1("0.0.0.0:19530"), false,
	  { "t.yaml:7:13: gateway.listeners[1].bind: 0.0.0.0:19530 overlaps "
	    "gateway.listeners[0].bind 127.0.0.1:19530 (line 4:13)" }, 1 },
	{ "wildcard v6 overlap", "gateway:\n  listeners:\n    - name: a\n      bind: '[::1]:9'\n"
				 "      upstream: 127.0.0.1:2\n" L1("'[::]:9'"), false,
	  { "t.yaml:7:13: gateway.listeners[1].bind: [::]:9 overlaps gateway.listeners[0].bind "
	    "[::1]:9 (line 4:13)" }, 1 },
	{ "v4 and v6 same port ok", L0 L1("'[::1]:19530'"), true, { NULL }, 0 },
	{ "other port ok", L0 L1("127.0.0.1:8080"), true, { NULL }, 0 },
	{ "other v4 address ok", L0 L1("127.0.0.2:19530"), true, { NULL }, 0 },
	{ "metrics overlap", L0 "  metrics: 0.0.0.0:19530\n", false,
	  { "t.yaml:6:12: gateway.metrics: 0.0.0.0:19530 overlaps gateway.listeners[0].bind "
	    "127.0.0.1:19530 (line 4:13)" }, 1 },
	{ "metrics bad", L0 "  metrics: 9464\n", false,
	  { "t.yaml:6:12: gateway.metrics: invalid address '9464': expected host:port or "
	    "[IPv6]:port" }, 1 },
	{ "upstream is own bind", "gateway:\n  listeners:\n    - name: a\n      bind: 0.0.0.0:9\n"
				  "      upstream: 127.0.0.1:9\n", false,
	  { "t.yaml:5:17: gateway.listeners[0].upstream: 127.0.0.1:9 is this listener's own "
	    "bind address (a loop)" }, 1 },
	{ "remote upstream on the same port ok", "gateway:\n  listeners:\n    - name: a\n"
	  "      bind: 0.0.0.0:19530\n      upstream: 192.0.2.10:19530\n", true, { NULL }, 0 },
	{ "milvus grpc default loops", "gateway:\n  listeners:\n    - name: a\n"
				       "      bind: 127.0.0.1:19530\n      milvus: grpc\n", false,
	  { "t.yaml:5:15: gateway.listeners[0].milvus: 127.0.0.1:19530 is this listener's own "
	    "bind address (a loop)" }, 1 },
	{ "milvus bad", "gateway:\n  listeners:\n    - name: a\n      bind: 127.0.0.1:1\n"
			"      milvus: http\n", false,
	  { "t.yaml:5:15: gateway.listeners[0].milvus: must be grpc or rest, got 'http'" }, 1 },
};

TEST(addresses_and_binds)
{
	RUN_CASES(address_cases);
}

static const struct ccase value_cases[] = {
	{ "listener tlsMode 3", L0 "      tlsMode: 3\n", false,
	  { "t.yaml:6:16: gateway.listeners[0].tlsMode: must be 0 (plain), 1 (one-way TLS) or "
	    "2 (mutual TLS), got '3'" }, 1 },
	{ "common tlsMode text", L0 "common:\n  security:\n    tlsMode: one\n", false,
	  { "t.yaml:8:14: common.security.tlsMode: must be 0 (plain), 1 (one-way TLS) or 2 "
	    "(mutual TLS), got 'one'" }, 1 },
	{ "tlsMode list", L0 "common:\n  security:\n    tlsMode: [1]\n", false,
	  { "t.yaml:8:14: common.security.tlsMode: expected a scalar, got a list" }, 1 },
	{ "minVersion 1.1", L0 "      minVersion: '1.1'\n", false,
	  { "t.yaml:6:19: gateway.listeners[0].minVersion: must be \"1.2\" or \"1.3\", got "
	    "'1.1'" }, 1 },
	{ "tls.minVersion bad", L0 "tls:\n  minVersion: 1.0\n", false,
	  { "t.yaml:7:15: tls.minVersion: must be \"1.2\" or \"1.3\", got '1.0'" }, 1 },
	{ "internaltlsEnabled yes", L0 "      internaltlsEnabled: yes\n", false,
	  { "t.yaml:6:27: gateway.listeners[0].internaltlsEnabled: expected true or false, "
	    "got 'yes'" }, 1 },
	{ "common internaltlsEnabled bad", L0 "common:\n  security:\n    internaltlsEnabled: 1\n",
	  false, { "t.yaml:8:25: common.security.internaltlsEnabled: expected true or false, "
		   "got '1'" }, 1 },
	{ "alpn empty", L0 "      alpn: []\n", false,
	  { "t.yaml:6:13: gateway.listeners[0].alpn: must list 1 to 8 protocols, got 0" }, 1 },
	{ "alpn scalar", L0 "      alpn: h2\n", false,
	  { "t.yaml:6:13: gateway.listeners[0].alpn: expected a list, got a scalar" }, 1 },
	{ "alpn too many", L0 "      alpn: [a, b, c, d, e, f, g, h, i]\n", false,
	  { "gateway.listeners[0].alpn: must list 1 to 8 protocols, got 9" }, 1 },
	{ "alpn duplicate", L0 "      alpn: [h2, http/1.1, h2]\n", false,
	  { "t.yaml:6:28: gateway.listeners[0].alpn[2]: duplicate protocol 'h2'" }, 1 },
	{ "alpn space", L0 "      alpn: ['h 2']\n", false,
	  { "t.yaml:6:14: gateway.listeners[0].alpn[0]: protocol names are 1 to 31 printable "
	    "characters, got 'h 2'" }, 1 },
	{ "alpn too long", L0 "      alpn: [abcdefghijabcdefghijabcdefghijab]\n", false,
	  { "gateway.listeners[0].alpn[0]: protocol names are 1 to 31 printable characters" },
	  1 },
	{ "alpnUpstreams in mode 0", L0 "      alpnUpstreams:\n        h2: 127.0.0.1:19532\n",
	  false, { "t.yaml:7:9: gateway.listeners[0].alpnUpstreams: needs TLS (ALPN is "
		   "negotiated in the handshake) but this listener has tlsMode 0" }, 1 },
	{ "listener maxConnections bad", L0 "      maxConnections: -1\n", false,
	  { "t.yaml:6:23: gateway.listeners[0].maxConnections: expected a whole number, got "
	    "'-1'" }, 1 },
	{ "workers 257", L0 "  workers: 257\n", false,
	  { "t.yaml:6:12: gateway.workers: must be between 0 and 256, got 257" }, 1 },
	{ "workers 0 ok", L0 "  workers: 0\n", true, { NULL }, 0 },
	{ "maxConnections 0", L0 "  maxConnections: 0\n", false,
	  { "t.yaml:6:19: gateway.maxConnections: must be between 1 and 10000000, got 0" }, 1 },
	{ "maxConnections huge", L0 "  maxConnections: 99999999999999999999999\n", false,
	  { "gateway.maxConnections: must be between 1 and 10000000, got 9999999" }, 1 },
	{ "ktls bad", L0 "  ktls: yes\n", false,
	  { "t.yaml:6:9: gateway.ktls: must be auto, on or off, got 'yes'" }, 1 },
	{ "bpf bad", L0 "  bpf: true\n", false,
	  { "t.yaml:6:8: gateway.bpf: must be auto, on or off, got 'true'" }, 1 },
	{ "logLevel bad", L0 "  logLevel: verbose\n", false,
	  { "t.yaml:6:13: gateway.logLevel: must be error, warn, info or debug, got 'verbose'" },
	  1 },
	{ "accessLog bad", L0 "  accessLog: sometimes\n", false,
	  { "t.yaml:6:14: gateway.accessLog: expected true or false, got 'sometimes'" }, 1 },
	{ "allowInsecureKeyPerms bad", L0 "  allowInsecureKeyPerms: [true]\n", false,
	  { "t.yaml:6:26: gateway.allowInsecureKeyPerms: expected a scalar, got a list" }, 1 },
	{ "user map", L0 "  user: {name: x}\n", false,
	  { "t.yaml:6:9: gateway.user: expected a scalar, got a mapping" }, 1 },
	{ "proxy.port bad", L0 "proxy:\n  port: 70000\n", false,
	  { "t.yaml:7:9: proxy.port: must be between 1 and 65535, got 70000" }, 1 },
	{ "proxy.http.port bad", L0 "proxy:\n  http:\n    port: abc\n", false,
	  { "t.yaml:8:11: proxy.http.port: expected a whole number, got 'abc'" }, 1 },
	{ "tls scalar", L0 "tls: on\n", false,
	  { "t.yaml:6:6: tls: expected a mapping, got a scalar" }, 1 },
};

TEST(values)
{
	RUN_CASES(value_cases);
}

static const struct ccase duration_cases[] = {
	{ "negative", L0 "  idleTimeout: -1s\n", false,
	  { "t.yaml:6:16: gateway.idleTimeout: invalid duration '-1s': expected a number with "
	    "an optional unit ms, s, m or h (\"10s\", \"500ms\")" }, 1 },
	{ "garbage", L0 "  handshakeTimeout: soon\n", false,
	  { "t.yaml:6:21: gateway.handshakeTimeout: invalid duration 'soon'" }, 1 },
	{ "bad unit", L0 "  connectTimeout: 10x\n", false,
	  { "gateway.connectTimeout: invalid duration '10x'" }, 1 },
	{ "fraction", L0 "  drainTimeout: 1.5s\n", false,
	  { "gateway.drainTimeout: invalid duration '1.5s'" }, 1 },
	{ "overflow", L0 "  drainTimeout: 5000000s\n", false,
	  { "gateway.drainTimeout: invalid duration '5000000s': too large" }, 1 },
	{ "overflow digits", L0 "  drainTimeout: 99999999999999999999999999h\n", false,
	  { "gateway.drainTimeout: invalid duration" }, 1 },
	{ "space", L0 "  drainTimeout: 10 s\n", false,
	  { "gateway.drainTimeout: invalid duration '10 s'" }, 1 },
	{ "ticketRotation too short", L0 "  ticketRotation: 500ms\n", false,
	  { "t.yaml:6:19: gateway.ticketRotation: must be between 1000ms and 259200000ms, got "
	    "'500ms'" }, 1 },
	{ "ticketRotation too long", L0 "  ticketRotation: 73h\n", false,
	  { "t.yaml:6:19: gateway.ticketRotation: must be between 1000ms and 259200000ms, got "
	    "'73h'" }, 1 },
	{ "ticketRotation garbage", L0 "  ticketRotation: hourly\n", false,
	  { "t.yaml:6:19: gateway.ticketRotation: invalid duration 'hourly'" }, 1 },
	{ "sessionTickets too many", L0 "  sessionTickets: 9\n", false,
	  { "t.yaml:6:19: gateway.sessionTickets: must be between 0 and 8, got 9" }, 1 },
	{ "reloadDebounce too long", L0 "  reloadDebounce: 2m\n", false,
	  { "t.yaml:6:19: gateway.reloadDebounce: must be between 0ms and 60000ms, got '2m'" },
	  1 },
};

TEST(durations_rejected)
{
	RUN_CASES(duration_cases);
}

TEST(durations_parsed)
{
	struct config *c;
	struct diag d;

	c = tconfig_load(L0 "  handshakeTimeout: 500ms\n  connectTimeout: 3\n  idleTimeout: 2m\n"
		    "  drainTimeout: 1h\n", &d);
	ASSERT(c);
	EXPECT_EQ(c->handshake_timeout_ms, 500);
	EXPECT_EQ(c->connect_timeout_ms, 3000);
	EXPECT_EQ(c->idle_timeout_ms, 120000);
	EXPECT_EQ(c->drain_timeout_ms, 3600000);
	config_free(c);
	diag_free(&d);
	c = tconfig_load(L0 "  idleTimeout: 0\n  connectTimeout: 10s\n", &d);
	ASSERT(c);
	EXPECT_EQ(c->idle_timeout_ms, 0);
	EXPECT_EQ(c->connect_timeout_ms, 10000);
	config_free(c);
	diag_free(&d);
	c = tconfig_load(L0 "  ticketRotation: 12h\n  reloadDebounce: 0\n  sessionTickets: 0\n", &d);
	ASSERT(c);
	EXPECT_EQ(c->ticket_rotation_ms, 12 * 3600000);
	EXPECT_EQ(c->session_tickets, 0);
	EXPECT_EQ(c->reload_debounce_ms, 0);
	config_free(c);
	diag_free(&d);
}

TEST(defaults)
{
	struct config *c;
	struct diag d;

	c = tconfig_load(L0, &d);
	ASSERT(c);
	EXPECT_EQ(c->n_listeners, 1);
	EXPECT_EQ(c->handshake_timeout_ms, 10000);
	EXPECT_EQ(c->connect_timeout_ms, 2000);
	EXPECT_EQ(c->idle_timeout_ms, 300000);
	EXPECT_EQ(c->drain_timeout_ms, 30000);
	EXPECT_EQ(c->ticket_rotation_ms, 3600000);
	EXPECT_EQ(c->session_tickets, 1);
	EXPECT_EQ(c->reload_debounce_ms, 250);
	EXPECT_EQ(c->max_conns, 10000);
	EXPECT_EQ(c->workers, 0);
	EXPECT_EQ(c->ktls, FEAT_AUTO);
	EXPECT_EQ(c->bpf, FEAT_AUTO);
	EXPECT_EQ(c->log_level, 2);
	EXPECT(c->access_log);
	EXPECT(!c->allow_insecure_key_perms);
	EXPECT(!c->has_metrics);
	EXPECT(c->user == NULL);
	EXPECT_EQ(c->proxy_port, 19530);
	EXPECT_EQ(c->proxy_http_port, 8080);
	EXPECT_EQ(c->tls_mode, TLS_MODE_PLAIN);
	EXPECT_EQ(c->listeners[0].tls_mode, TLS_MODE_PLAIN);
	EXPECT_STR_EQ(c->listeners[0].name, "grpc");
	EXPECT_STR_EQ(c->listeners[0].bind.text, "127.0.0.1:19530");
	EXPECT_STR_EQ(c->listeners[0].upstream.text, "127.0.0.1:19531");
	EXPECT_EQ(c->listeners[0].bind.pos.line, 4);
	EXPECT_EQ(c->listeners[0].n_alpn, 2);
	EXPECT_STR_EQ(c->listeners[0].alpn[0].proto, "http/1.1");
	EXPECT_STR_EQ(c->listeners[0].alpn[1].proto, "h2");
	EXPECT(!c->listeners[0].internal_tls);
	config_free(c);
	diag_free(&d);
}

TEST(globals_parsed)
{
	struct config *c;
	struct diag d;

	c = tconfig_load(L0 "  metrics: '[::1]:9464'\n  ktls: off\n  bpf: on\n  workers: 4\n"
		    "  maxConnections: 500\n  logLevel: debug\n  accessLog: false\n"
		    "  user: ktlsgw\n  allowInsecureKeyPerms: true\n", &d);
	ASSERT(c);
	EXPECT(c->has_metrics);
	EXPECT_STR_EQ(c->metrics.text, "[::1]:9464");
	EXPECT_EQ(c->ktls, FEAT_OFF);
	EXPECT_EQ(c->bpf, FEAT_ON);
	EXPECT_EQ(c->workers, 4);
	EXPECT_EQ(c->max_conns, 500);
	EXPECT_EQ(c->log_level, 3);
	EXPECT(!c->access_log);
	EXPECT_STR_EQ(c->user, "ktlsgw");
	EXPECT(c->allow_insecure_key_perms);
	config_free(c);
	diag_free(&d);
}

TEST(ipv6_bind_normalised)
{
	struct config *c;
	struct diag d;

	c = tconfig_load("gateway:\n  listeners:\n    - name: a\n      bind: '[0:0::1]:8443'\n"
		 "      upstream: '[::ffff:127.0.0.1]:19530'\n", &d);
	ASSERT(c);
	EXPECT_STR_EQ(c->listeners[0].bind.text, "[::1]:8443");
	EXPECT_EQ(c->listeners[0].bind.addr.ss_family, AF_INET6);
	EXPECT_STR_EQ(c->listeners[0].upstream.text, "[::ffff:127.0.0.1]:19530");
	config_free(c);
	diag_free(&d);
}

TEST(milvus_default_upstreams)
{
	struct config *c;
	struct diag d;

	c = tconfig_load("proxy:\n  port: 29530\n  http:\n    port: 9091\n"
		 "gateway:\n  listeners:\n    - name: g\n      bind: 0.0.0.0:19530\n"
		 "      milvus: grpc\n    - name: r\n      bind: 0.0.0.0:8080\n"
		 "      milvus: rest\n    - name: x\n      bind: 0.0.0.0:1\n      milvus: rest\n"
		 "      upstream: 127.0.0.9:5\n", &d);
	ASSERT(c);
	EXPECT_STR_EQ(c->listeners[0].upstream.text, "127.0.0.1:29530");
	EXPECT_STR_EQ(c->listeners[1].upstream.text, "127.0.0.1:9091");
	EXPECT_STR_EQ(c->listeners[2].upstream.text, "127.0.0.9:5");
	config_free(c);
	diag_free(&d);
	c = tconfig_load("gateway:\n  listeners:\n    - name: g\n      bind: 0.0.0.0:9\n"
		 "      milvus: grpc\n", &d);
	ASSERT(c);
	EXPECT_STR_EQ(c->listeners[0].upstream.text, "127.0.0.1:19530");
	config_free(c);
	diag_free(&d);
}

TEST(quoted_tls_mode_and_bool)
{
	struct config *c;
	struct diag d;

	c = tconfig_load(L0 "      tlsMode: \"0\"\n    - name: r\n      bind: 127.0.0.1:2\n"
		    "      upstream: 127.0.0.1:3\n      internaltlsEnabled: 'false'\n"
		    "common:\n  security:\n    tlsMode: '0'\n    internaltlsEnabled: \"False\"\n",
		 &d);
	ASSERT(c);
	EXPECT_EQ(c->tls_mode, TLS_MODE_PLAIN);
	EXPECT_EQ(c->listeners[0].tls_mode, TLS_MODE_PLAIN);
	EXPECT(!c->listeners[1].internal_tls);
	config_free(c);
	diag_free(&d);
}

TEST(null_values_mean_unset)
{
	struct config *c;
	struct diag d;

	c = tconfig_load(L0 "tls:\n  serverPemPath:\n  caPemPath: ~\ncommon:\n  security:\n"
		    "    tlsMode:\n", &d);
	ASSERT(c);
	EXPECT(c->tls.server_pem == NULL);
	EXPECT(c->tls.ca_pem == NULL);
	EXPECT_EQ(c->tls_mode, TLS_MODE_PLAIN);
	config_free(c);
	diag_free(&d);
}

static const struct ccase warning_cases[] = {
	{ "tls typo", L0 "tls:\n  serverPemPth: a.pem\n", true,
	  { "t.yaml:7:3: warning: tls.serverPemPth: unknown key ignored; did you mean "
	    "'serverPemPath'?" }, 0 },
	{ "internaltls typo", L0 "internaltls:\n  snii: localhost\n", true,
	  { "t.yaml:7:3: warning: internaltls.snii: unknown key ignored; did you mean 'sni'?" },
	  0 },
	{ "security typo", L0 "common:\n  security:\n    tlsmode: 1\n", true,
	  { "t.yaml:8:5: warning: common.security.tlsmode: unknown key ignored; did you mean "
	    "'tlsMode'?" }, 0 },
	{ "top-level typo", L0 "gatewy:\n  x: 1\n", true,
	  { "t.yaml:6:1: warning: gatewy: unknown key ignored; did you mean 'gateway'?" }, 0 },
	{ "known milvus keys quiet", L0 "common:\n  security:\n    authorizationEnabled: false\n"
	  "    superUsers: root\ntls:\n  other: 1\nmetastore:\n  type: etcd\n", true, { NULL }, 0 },
};

TEST(typo_warnings)
{
	struct diag d;
	size_t i;

	RUN_CASES(warning_cases);
	for (i = 0; i < ARRAY_SIZE(warning_cases); i++) {
		config_free(tconfig_load(warning_cases[i].yaml, &d));
		EXPECT_EQ(d.n_warnings, warning_cases[i].want[0] ? 1 : 0);
		diag_free(&d);
	}
}

TEST(unknown_milvus_sections_ignored)
{
	struct config *c;
	struct diag d;

	c = tconfig_load("etcd:\n  endpoints: localhost:2379\n  rootPath: by-dev\n"
		 "minio:\n  address: localhost\n  port: 9000\n"
		 "queryNode:\n  gracefulTime: 1000\n  segcore:\n    chunkRows: 128\n"
		 "myOwnStuff: [1, 2, {a: b}]\n" L0, &d);
	EXPECT(c != NULL);
	EXPECT_EQ(d.n_warnings, 0);
	config_free(c);
	diag_free(&d);
}

TEST(syntax_error_through_loader)
{
	struct config *c;
	struct diag d;

	c = tconfig_load(L0 "  ktls: [auto\n", &d);
	EXPECT(c == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:7:1: YAML syntax error: did not find expected ',' "
				    "or ']'");
	diag_free(&d);
}

TEST(alias_through_loader)
{
	struct config *c;
	struct diag d;

	c = tconfig_load("x: &b 127.0.0.1:9\ngateway:\n  listeners:\n    - name: a\n"
			 "      bind: *b\n      upstream: 127.0.0.1:2\n", &d);
	EXPECT(c == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:5:13: YAML aliases (*b) are not supported");
	diag_free(&d);
}


TEST(tls_mode_names)
{
	EXPECT_STR_EQ(config_tls_mode_name(TLS_MODE_PLAIN), "0 (plain)");
	EXPECT_STR_EQ(config_tls_mode_name(TLS_MODE_ONEWAY), "1 (one-way TLS)");
	EXPECT_STR_EQ(config_tls_mode_name(TLS_MODE_MUTUAL), "2 (mutual TLS)");
	EXPECT_STR_EQ(config_tls_mode_name(TLS_MODE__COUNT), "?");
}

TEST(listener_limit)
{
	char *y = malloc(65 * 100 + 64), *p = y;
	struct config *c;
	struct diag d;
	int i;

	ASSERT(y);
	p += snprintf(p, 64, "gateway:\n  listeners:\n");
	for (i = 0; i < 65; i++)
		p += snprintf(p, 100,
			      "    - {name: l%d, bind: '127.0.0.1:%d', upstream: '127.0.0.2:1'}\n", i,
			      1000 + i);
	c = tconfig_load(y, &d);
	EXPECT(c == NULL);
	EXPECT_STR_CONTAINS(d.text,
			    "t.yaml:3:5: gateway.listeners: must list 1 to 64 listeners, got 65");
	diag_free(&d);
	free(y);
}

TEST(nul_byte_rejected)
{
	static const char y[] = L0 "  metrics: \"127.0.0.1:9464\\0x\"\n";
	struct config *c;
	struct diag d;

	diag_init(&d, "t.yaml");
	c = config_load_buffer("t.yaml", t_tmpdir(), y, sizeof(y) - 1, &d);
	EXPECT(c == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:6:12: gateway.metrics: contains a NUL byte");
	diag_free(&d);
}
