/* SPDX-License-Identifier: MIT */
/* Metrics: shard sums, histogram accumulation, label escaping, exact text of
 * the Prometheus rendering, snprintf-like truncation, and the exposition
 * checked by promtool (Debian's prometheus package) when it is installed. */
#include "../lib/t.h"
#include "../../src/metrics.c"	/* white-box: escape_label, fmt_seconds */

#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

static struct metrics_counters snap;

static struct listener_cfg lst2[2] = {
	{ .name = "grpc", .tls_mode = TLS_MODE_ONEWAY },
	{ .name = "rest", .tls_mode = TLS_MODE_PLAIN },
};

static char *render(const struct metrics_view *v)
{
	size_t need = metrics_render(v, NULL, 0);
	char *buf = malloc(need + 1);

	BUG_ON(!buf);
	BUG_ON(metrics_render(v, buf, need + 1) != need);
	return buf;
}

/* True when @text holds @line as a whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
		p++;
	}
	return false;
}

TEST(fmt_seconds_is_exact_decimal)
{
	static const struct {
		uint64_t us;
		const char *want;
	} cases[] = {
		{ 0, "0" },	     { 50, "0.00005" },	     { 2500, "0.0025" }, { 1000000, "1" },
		{ 1234567, "1.234567" }, { 10000000, "10" }, { 100, "0.0001" },
	};
	char buf[32];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		fmt_seconds(buf, sizeof(buf), cases[i].us);
		EXPECT_STR_EQ(buf, cases[i].want);
	}
}

TEST(label_values_are_escaped)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "grpc", "grpc" },
		{ "a\"b", "a\\\"b" },
		{ "a\\b", "a\\\\b" },
		{ "a\nb", "a\\nb" },
		{ "\"\\\n", "\\\"\\\\\\n" },
	};
	char buf[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		escape_label(buf, sizeof(buf), cases[i].in);
		EXPECT_STR_EQ(buf, cases[i].want);
	}
	escape_label(buf, 4, "\"\"\"");	/* never overruns, always terminated */
	EXPECT_STR_EQ(buf, "\\\"");
}

TEST(escaped_listener_name_in_output)
{
	struct listener_cfg l = { .name = "we\"ird\\na\nme", .tls_mode = TLS_MODE_MUTUAL };
	struct metrics_view v = { .c = &snap, .listeners = &l, .n_listeners = 1 };
	char *txt;

	memset(&snap, 0, sizeof(snap));
	txt = render(&v);
	EXPECT(has_line(txt, "ktlsgw_upstream_connect_failures_total{tls_mode=\"2\","
			     "listener=\"we\\\"ird\\\\na\\nme\"} 0"));
	free(txt);
}

TEST(shards_sum_at_collect)
{
	struct metrics *m = metrics_new(2);
	struct metrics_close_info ci = { .bytes_in = 5, .bytes_out = 7, .srtt_us = 80, .retrans = 2 };

	ASSERT(m);
	metrics_conn_open(metrics_shard(m, 0), TLS_MODE_ONEWAY, 3, METRICS_LEG_CLIENT);
	metrics_conn_open(metrics_shard(m, 1), TLS_MODE_ONEWAY, 3, METRICS_LEG_CLIENT);
	metrics_conn_bytes(metrics_shard(m, 1), TLS_MODE_ONEWAY, 3, METRICS_LEG_CLIENT, 100, 200);
	metrics_conn_close(metrics_shard(m, 0), TLS_MODE_ONEWAY, 3, METRICS_LEG_CLIENT, &ci);
	metrics_reload(metrics_shard(m, 2), METRICS_RELOAD_FAILED);
	metrics_collect(m, &snap);
	EXPECT_EQ(snap.conn[1][3][0].opened, 2);
	EXPECT_EQ(snap.conn[1][3][0].closed, 1);
	EXPECT_EQ(snap.conn[1][3][0].bytes_in, 105);
	EXPECT_EQ(snap.conn[1][3][0].bytes_out, 207);
	EXPECT_EQ(snap.conn[1][3][0].retrans, 2);
	EXPECT_EQ(snap.conn[1][3][0].rtt.slot[1], 1);	/* 80 us <= 100 us */
	EXPECT_EQ(snap.conn[1][3][0].rtt.sum_us, 80);
	EXPECT_EQ(snap.conn[1][3][1].opened, 0);
	EXPECT_EQ(snap.reloads[METRICS_RELOAD_FAILED], 1);
	metrics_free(m);
	metrics_free(NULL);
}

/* Known counters in, exact lines out. */
TEST(render_exact_lines)
{
	static const char *const want[] = {
		"# HELP ktlsgw_bpf_enabled 1 when connection figures come from the eBPF program, "
		"0 when from userspace.",
		"# TYPE ktlsgw_bpf_enabled gauge",
		"ktlsgw_bpf_enabled 1",
		"# TYPE ktlsgw_connections_total counter",
		"ktlsgw_connections_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 10",
		"ktlsgw_connections_total{tls_mode=\"1\",listener=\"grpc\",leg=\"upstream\"} 9",
		"ktlsgw_connections_closed_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 4",
		"# TYPE ktlsgw_active_connections gauge",
		"ktlsgw_active_connections{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 6",
		"ktlsgw_active_connections{tls_mode=\"0\",listener=\"rest\",leg=\"client\"} 0",
		"ktlsgw_bytes_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\","
		"direction=\"client_to_upstream\"} 1000",
		"ktlsgw_bytes_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\","
		"direction=\"upstream_to_client\"} 2000",
		"ktlsgw_bytes_total{tls_mode=\"1\",listener=\"grpc\",leg=\"upstream\","
		"direction=\"client_to_upstream\"} 900",
		"ktlsgw_bytes_total{tls_mode=\"1\",listener=\"grpc\",leg=\"upstream\","
		"direction=\"upstream_to_client\"} 1800",
		"ktlsgw_retransmits_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 3",
		"ktlsgw_handshakes_total{tls_mode=\"1\",listener=\"grpc\",offload=\"ktls\"} 7",
		"ktlsgw_handshakes_total{tls_mode=\"1\",listener=\"grpc\",offload=\"userspace\"} 2",
		"ktlsgw_handshake_failures_total{tls_mode=\"1\",listener=\"grpc\","
		"reason=\"wrong_purpose\"} 5",
		"ktlsgw_handshake_failures_total{tls_mode=\"1\",listener=\"grpc\",reason=\"timeout\"} 0",
		"ktlsgw_upstream_connect_failures_total{tls_mode=\"1\",listener=\"grpc\"} 1",
		"ktlsgw_reloads_total{result=\"ok\"} 4",
		"ktlsgw_reloads_total{result=\"failed\"} 0",
	};
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 2,
				  .bpf_enabled = true };
	struct metrics_conn *c = snap.conn[1][0];
	struct metrics_tls *t = &snap.tls[1][0];
	unsigned int i;
	char *txt;

	memset(&snap, 0, sizeof(snap));
	c[0] = (struct metrics_conn){ .opened = 10, .closed = 4, .bytes_in = 1000,
				      .bytes_out = 2000, .retrans = 3 };
	c[1] = (struct metrics_conn){ .opened = 9, .closed = 4, .bytes_in = 1800, .bytes_out = 900 };
	t->handshakes[METRICS_OFFLOAD_KTLS] = 7;
	t->handshakes[METRICS_OFFLOAD_USERSPACE] = 2;
	t->failures[METRICS_HS_WRONG_PURPOSE] = 5;
	t->upstream_connect_failures = 1;
	snap.reloads[METRICS_RELOAD_OK] = 4;
	txt = render(&v);
	for (i = 0; i < ARRAY_SIZE(want); i++)
		if (!has_line(txt, want[i]))
			t_fail(__FILE__, __LINE__, "missing line: %s", want[i]);
	/* Only the configured mode of each listener is shown while others are 0. */
	EXPECT(!strstr(txt, "tls_mode=\"2\""));
	EXPECT(!strstr(txt, "tls_mode=\"0\",listener=\"grpc\""));
	free(txt);
}

TEST(other_mode_shown_once_it_has_counts)
{
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 2 };
	char *txt;

	memset(&snap, 0, sizeof(snap));
	snap.tls[2][0].failures[METRICS_HS_NO_CERT] = 1;
	txt = render(&v);
	EXPECT(has_line(txt, "ktlsgw_handshake_failures_total{tls_mode=\"2\",listener=\"grpc\","
			     "reason=\"no_cert\"} 1"));
	EXPECT(has_line(txt, "ktlsgw_connections_total{tls_mode=\"2\",listener=\"grpc\","
			     "leg=\"client\"} 0"));
	EXPECT(has_line(txt, "ktlsgw_bpf_enabled 0"));
	free(txt);
}

/* Buckets are cumulative, +Inf equals _count, _sum is exact seconds. */
TEST(histogram_buckets_cumulative)
{
	static const uint64_t obs_us[] = { 100, 250, 251, 700, 3000, 20000000, 250 };
	static const char *const want[] = {
		"ktlsgw_handshake_duration_seconds_bucket{tls_mode=\"1\",listener=\"grpc\","
		"le=\"0.00025\"} 3",
		"ktlsgw_handshake_duration_seconds_bucket{tls_mode=\"1\",listener=\"grpc\","
		"le=\"0.0005\"} 4",
		"ktlsgw_handshake_duration_seconds_bucket{tls_mode=\"1\",listener=\"grpc\","
		"le=\"0.001\"} 5",
		"ktlsgw_handshake_duration_seconds_bucket{tls_mode=\"1\",listener=\"grpc\","
		"le=\"0.005\"} 6",
		"ktlsgw_handshake_duration_seconds_bucket{tls_mode=\"1\",listener=\"grpc\","
		"le=\"10\"} 6",
		"ktlsgw_handshake_duration_seconds_bucket{tls_mode=\"1\",listener=\"grpc\","
		"le=\"+Inf\"} 7",
		"ktlsgw_handshake_duration_seconds_sum{tls_mode=\"1\",listener=\"grpc\"} 20.004551",
		"ktlsgw_handshake_duration_seconds_count{tls_mode=\"1\",listener=\"grpc\"} 7",
		"ktlsgw_rtt_seconds_bucket{tls_mode=\"1\",listener=\"grpc\",leg=\"upstream\","
		"le=\"+Inf\"} 0",
	};
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 1 };
	struct metrics *m = metrics_new(1);
	unsigned int i;
	char *txt;

	ASSERT(m);
	for (i = 0; i < ARRAY_SIZE(obs_us); i++)
		metrics_handshake_done(metrics_shard(m, 0), TLS_MODE_ONEWAY, 0,
				       METRICS_OFFLOAD_USERSPACE, obs_us[i]);
	metrics_collect(m, &snap);
	txt = render(&v);
	for (i = 0; i < ARRAY_SIZE(want); i++)
		if (!has_line(txt, want[i]))
			t_fail(__FILE__, __LINE__, "missing line: %s", want[i]);
	free(txt);
	metrics_free(m);
}

/* Like snprintf: the return value is the full length, the buffer holds a
 * NUL-terminated prefix of the full text. */
TEST(render_truncates_like_snprintf)
{
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 2 };
	char small[100], *full;
	size_t need;

	memset(&snap, 0, sizeof(snap));
	full = render(&v);
	need = metrics_render(&v, small, sizeof(small));
	EXPECT_EQ(need, strlen(full));
	EXPECT_EQ(strlen(small), sizeof(small) - 1);
	EXPECT(!strncmp(small, full, sizeof(small) - 1));
	free(full);
}

/* Every sample line belongs to the family announced by the last TYPE line,
 * and no series appears twice: the grouping rule of the text format. */
TEST(families_grouped_series_unique)
{
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 2 };
	char family[128] = "", *txt, *line, *save, *keys[2048];
	unsigned int n = 0, i;

	memset(&snap, 0, sizeof(snap));
	txt = render(&v);
	for (line = strtok_r(txt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# TYPE ", 7)) {
			snprintf(family, sizeof(family), "%.*s", (int)strcspn(line + 7, " "),
				 line + 7);
			continue;
		}
		if (line[0] == '#')
			continue;
		if (strncmp(line, family, strlen(family)))
			t_fail(__FILE__, __LINE__, "%s outside family %s", line, family);
		*strrchr(line, ' ') = '\0';	/* series key without the value */
		for (i = 0; i < n; i++)
			if (!strcmp(keys[i], line))
				t_fail(__FILE__, __LINE__, "duplicate series %s", line);
		ASSERT(n < ARRAY_SIZE(keys));
		keys[n++] = line;
	}
	EXPECT(n > 100);
	free(txt);
}

static int run_promtool(const char *path, char *out, size_t len)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

TEST(promtool_accepts_exposition)
{
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 2 };
	char path[256], out[4096], *txt;
	FILE *f;
	int rc;

	if (system("command -v promtool >/dev/null 2>&1")) {
		t_skip("promtool not installed (Debian package prometheus)");
		return;
	}
	memset(&snap, 0, sizeof(snap));
	snap.conn[1][0][0].opened = 3;
	snap.tls[1][0].hs_duration.slot[2] = 3;
	txt = render(&v);
	snprintf(path, sizeof(path), "%s/metrics.txt", t_tmpdir());
	f = fopen(path, "w");
	ASSERT(f);
	fputs(txt, f);
	fclose(f);
	rc = run_promtool(path, out, sizeof(out));
	EXPECT_EQ(WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, 0);
	EXPECT_STR_EQ(out, "");	/* no lint complaint either */
	free(txt);
}

/* The userspace fallback for RTT and retransmits reads TCP_INFO. */
TEST(tcp_info_fallback_reads_rtt)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct metrics_close_info ci = { 0 };
	socklen_t al = sizeof(a);
	int l, c, s;
	char b = 'x';

	l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(l >= 0);
	ASSERT(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 1) == 0);
	ASSERT(getsockname(l, (struct sockaddr *)&a, &al) == 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(connect(c, (struct sockaddr *)&a, sizeof(a)) == 0);
	s = accept(l, NULL, NULL);
	ASSERT(s >= 0);
	ASSERT(write(c, &b, 1) == 1 && read(s, &b, 1) == 1);
	EXPECT_EQ(metrics_tcp_info(c, &ci), 0);
	EXPECT(ci.srtt_us > 0);
	EXPECT_EQ(ci.retrans, 0);
	EXPECT_EQ(metrics_tcp_info(-1, &ci), -EBADF);
	close(s);
	close(c);
	close(l);
}
