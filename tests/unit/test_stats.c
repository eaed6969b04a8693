/* SPDX-License-Identifier: MIT */
/* `ktlsgw stats` against an in-process endpoint fed known counts: the
 * figures of each tlsMode row (bytes, overhead, p50/p99 from the buckets,
 * failures, kTLS share), -c with gateway.metrics, --watch, and the exits:
 * 1 when unreachable or metrics are off, 2 on usage errors. */
#include "../lib/t.h"
#include "../../src/cmd_stats.c"	/* white-box: quantile, watch_rounds */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "httpd.h"
#include "metrics.h"

static const struct listener_cfg lst3[3] = {
	{ .name = "grpc", .tls_mode = TLS_MODE_ONEWAY },
	{ .name = "rest", .tls_mode = TLS_MODE_PLAIN },
	{ .name = "mtls", .tls_mode = TLS_MODE_MUTUAL },
};

static char out[1 << 16], err[1 << 14];

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/* Runs `stats ARGS...` (NULL-terminated) with stdout and stderr captured in
 * out[] and err[]; returns its exit status. */
static int run(const char *arg0, ...)
{
	char *argv[16] = { "stats", (char *)arg0 };
	int argc = arg0 ? 2 : 1, ret, so, se, fo, fe;
	char path[512];
	va_list ap;

	va_start(ap, arg0);
	while (arg0 && argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	snprintf(path, sizeof(path), "%s/out", t_tmpdir());
	fo = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	snprintf(path, sizeof(path), "%s/err", t_tmpdir());
	fe = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	BUG_ON(fo < 0 || fe < 0);
	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	dup2(fo, 1);
	dup2(fe, 2);
	ret = cmd_stats(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	slurp(fo, out, sizeof(out));
	slurp(fe, err, sizeof(err));
	return ret;
}

static struct metrics *feed(void)
{
	struct metrics *m = metrics_new(1);
	struct metrics_counters *s;
	struct metrics_close_info cc = { .bytes_in = 1100, .bytes_out = 2200 };
	struct metrics_close_info uc = { .bytes_in = 2000, .bytes_out = 1000 };
	struct metrics_close_info none = { 0 };
	int i;

	BUG_ON(!m);
	s = metrics_shard(m, 0);
	for (i = 0; i < 4; i++) {	/* mode 1: 4 connections, one closed */
		metrics_conn_open(s, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT);
		metrics_conn_open(s, TLS_MODE_ONEWAY, 0, METRICS_LEG_UPSTREAM);
		metrics_handshake_done(s, TLS_MODE_ONEWAY, 0, METRICS_OFFLOAD_USERSPACE,
				       i < 2 ? 300 : 3000);
	}
	metrics_conn_close(s, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT, &cc);
	metrics_conn_close(s, TLS_MODE_ONEWAY, 0, METRICS_LEG_UPSTREAM, &uc);
	metrics_handshake_failed(s, TLS_MODE_ONEWAY, 0, METRICS_HS_NO_CERT);
	metrics_handshake_failed(s, TLS_MODE_ONEWAY, 0, METRICS_HS_TIMEOUT);
	for (i = 0; i < 2; i++) {	/* mode 0: 2 open, live bytes */
		metrics_conn_open(s, TLS_MODE_PLAIN, 1, METRICS_LEG_CLIENT);
		metrics_conn_open(s, TLS_MODE_PLAIN, 1, METRICS_LEG_UPSTREAM);
	}
	metrics_conn_bytes(s, TLS_MODE_PLAIN, 1, METRICS_LEG_CLIENT, 500, 700);
	metrics_conn_bytes(s, TLS_MODE_PLAIN, 1, METRICS_LEG_UPSTREAM, 700, 500);
	metrics_conn_open(s, TLS_MODE_MUTUAL, 2, METRICS_LEG_CLIENT);	/* mode 2 */
	metrics_conn_close(s, TLS_MODE_MUTUAL, 2, METRICS_LEG_CLIENT, &none);
	for (i = 0; i < 4; i++)
		metrics_handshake_done(s, TLS_MODE_MUTUAL, 2,
				       i ? METRICS_OFFLOAD_USERSPACE : METRICS_OFFLOAD_KTLS, 20000);
	return m;
}

static int start(struct metrics *m, struct httpd **h, char *url, size_t len)
{
	struct endpoint ep = { .addrlen = sizeof(struct sockaddr_in), .text = "127.0.0.1:0" };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ep.addr;
	int ret;

	s4->sin_family = AF_INET;
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ret = httpd_start(&ep, m, NULL, lst3, 3, h);
	if (!ret)
		snprintf(url, len, "http://%s/metrics", httpd_addr(*h));
	return ret;
}

static void want_row(const char *mode, const char *conns, const char *active, const char *b0,
		     const char *b1, const char *b2, const char *b3, const char *over,
		     const char *p50, const char *p99, const char *failed, const char *share)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%-16s %8s %7s %10s %10s %10s %10s %9s %9s %9s %7s %6s\n",
		 mode, conns, active, b0, b1, b2, b3, over, p50, p99, failed, share);
	EXPECT_STR_CONTAINS(out, want);
}

static void check_table(void)
{
	want_row("0 (plain)", "2", "2", "500 B", "700 B", "700 B", "500 B", "+0.0%", "-", "-", "0",
		 "-");
	want_row("1 (one-way TLS)", "4", "3", "1.1 KiB", "2.1 KiB", "2.0 KiB", "1000 B", "+10.0%",
		 "0.50 ms", "4.95 ms", "2", "0%");
	want_row("2 (mutual TLS)", "1", "0", "0 B", "0 B", "0 B", "0 B", "-", "17.50 ms",
		 "24.85 ms", "0", "25%");
	EXPECT_STR_CONTAINS(out, "connection figures from userspace counters (ktlsgw_bpf_enabled 0)");
}

TEST(table_figures)
{
	struct metrics *m = feed();
	struct httpd *h;
	char url[128];

	ASSERT(start(m, &h, url, sizeof(url)) == 0);
	EXPECT_EQ(run("--url", url, NULL), 0);
	check_table();
	EXPECT_STR_EQ(err, "");
	httpd_stop(h);
	metrics_free(m);
}

static void write_config(const char *metrics_addr, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/gw.yaml", t_tmpdir());
	f = fopen(path, "w");
	BUG_ON(!f);
	fprintf(f, "gateway:\n%s%s%s  listeners:\n    - name: grpc\n      bind: 127.0.0.1:19530\n"
		   "      upstream: 127.0.0.1:19531\n", metrics_addr ? "  metrics: " : "",
		metrics_addr ? metrics_addr : "", metrics_addr ? "\n" : "");
	fclose(f);
}

/* -c reads gateway.metrics; a wildcard address is read on loopback. */
TEST(config_endpoint)
{
	struct metrics *m = feed();
	char url[128], addr[64], path[512];
	struct httpd *h;

	ASSERT(start(m, &h, url, sizeof(url)) == 0);
	snprintf(addr, sizeof(addr), "0.0.0.0:%s", strrchr(httpd_addr(h), ':') + 1);
	write_config(addr, path, sizeof(path));
	EXPECT_EQ(run("-c", path, NULL), 0);
	check_table();
	EXPECT_STR_CONTAINS(out, "gateway http://127.0.0.1:");
	httpd_stop(h);
	metrics_free(m);
}

TEST(config_without_metrics)
{
	char path[512], want[600];

	write_config(NULL, path, sizeof(path));
	EXPECT_EQ(run("-c", path, NULL), 1);
	snprintf(want, sizeof(want), "gateway.metrics is not set in %s", path);
	EXPECT_STR_CONTAINS(err, want);
	EXPECT_STR_EQ(out, "");
}

/* A port that was just free: connect is refused. */
TEST(unreachable)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	char url[128], want[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	ASSERT(getsockname(fd, (struct sockaddr *)&sa, &sl) == 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", ntohs(sa.sin_port));
	EXPECT_EQ(run("--url", url, NULL), 1);
	snprintf(want, sizeof(want), "cannot reach the gateway at 127.0.0.1:%u: Connection refused",
		 ntohs(sa.sin_port));
	EXPECT_STR_CONTAINS(err, want);
}

/* Bare `ktlsgw stats` reads the documented default address. */
TEST(default_endpoint)
{
	int rc = run(NULL);

	/* Nothing of ours listens on 9464 during unit tests: refused, naming it. */
	EXPECT_EQ(rc, 1);
	EXPECT_STR_CONTAINS(err, "127.0.0.1:9464");
}

TEST(not_metrics_path)
{
	struct metrics *m = feed();
	struct httpd *h;
	char url[128];

	ASSERT(start(m, &h, url, sizeof(url)) == 0);
	snprintf(url, sizeof(url), "http://%s/nope", httpd_addr(h));
	EXPECT_EQ(run("--url", url, NULL), 1);
	EXPECT_STR_CONTAINS(err, "answered HTTP 404 for /nope");
	httpd_stop(h);
	metrics_free(m);
}

TEST(watch_redraws)
{
	struct metrics *m = feed();
	struct httpd *h;
	char url[128];
	const char *p;
	int n = 0;

	ASSERT(start(m, &h, url, sizeof(url)) == 0);
	watch_rounds = 2;
	EXPECT_EQ(run("--url", url, "--watch", "1", NULL), 0);
	watch_rounds = 0;
	for (p = out; (p = strstr(p, "\ngateway http://")); p++)
		n++;
	EXPECT_EQ(n, 2);
	EXPECT_STR_CONTAINS(out, "(every 1s, Ctrl-C to stop)");
	EXPECT(!strstr(out, "\033[2J"));	/* not a tty: no clearing */
	httpd_stop(h);
	metrics_free(m);
}

TEST(usage_errors)
{
	EXPECT_EQ(run("-c", "a.yaml", "--url", "http://127.0.0.1:1/", NULL), 2);
	EXPECT_STR_CONTAINS(err, "not both");
	EXPECT_EQ(run("--url", "https://127.0.0.1:1/", NULL), 2);
	EXPECT_EQ(run("--url", "http://127.0.0.1:99999/", NULL), 2);
	EXPECT_EQ(run("--url", "http://[::1/", NULL), 2);
	EXPECT_EQ(run("--url", "http://127.0.0.1:1/", "--watch", "0", NULL), 2);
	EXPECT_EQ(run("--url", "http://127.0.0.1:1/", "extra", NULL), 2);
	EXPECT_EQ(run("--bogus", NULL), 2);
	EXPECT_EQ(run("--help", NULL), 0);
	EXPECT_STR_CONTAINS(out, "With neither, reads http://127.0.0.1:9464/metrics");
}

TEST(url_forms)
{
	static const struct {
		const char *url, *text, *path;
	} cases[] = {
		{ "http://127.0.0.1:9100/metrics", "127.0.0.1:9100", "/metrics" },
		{ "http://127.0.0.1:9100", "127.0.0.1:9100", "/metrics" },
		{ "http://localhost", "localhost:80", "/metrics" },
		{ "http://[::1]:9100/m?x=1", "[::1]:9100", "/m?x=1" },
	};
	struct http_target t;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		EXPECT_EQ(httpget_parse_url(cases[i].url, &t), 0);
		EXPECT_STR_EQ(t.text, cases[i].text);
		EXPECT_STR_EQ(t.path, cases[i].path);
	}
}

/* histogram_quantile on hand-made buckets (cumulative, unsorted input). */
TEST(quantiles)
{
	struct mode_stats m = { 0 };

	EXPECT(isnan(quantile(&m, 0.5)));
	add_bucket(&m, INFINITY, 10);
	add_bucket(&m, 0.1, 4);
	add_bucket(&m, 0.2, 8);
	add_bucket(&m, 0.4, 9);
	sort_buckets(&m);
	EXPECT(fabs(quantile(&m, 0.5) - 0.125) < 1e-12);	/* rank 5 in (0.1, 0.2]: 1/4 in */
	EXPECT(fabs(quantile(&m, 0.2) - 0.05) < 1e-12);	/* rank 2 in [0, 0.1] */
	EXPECT(fabs(quantile(&m, 0.85) - 0.3) < 1e-12);	/* rank 8.5 in (0.2, 0.4]: half */
	EXPECT(quantile(&m, 0.99) == 0.4);		/* +Inf bucket: its lower bound */
	add_bucket(&m, 0.1, 0);				/* same bound sums, no new bucket */
	EXPECT_EQ(m.n_le, 4);
}
