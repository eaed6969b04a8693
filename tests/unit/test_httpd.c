/* SPDX-License-Identifier: MIT */
/* The metrics endpoint over real sockets on 127.0.0.1: the exact text of a
 * scrape, HEAD, 404/405/400/431/408, a stalled client that blocks no one,
 * 200 scrapers at once against the cap, a bind error, a listener update, and
 * no descriptor left behind after stop. */
#include "../lib/t.h"
#include "../../src/httpd.c"	/* white-box: timeout_ms, h->scrapes */

#include <dirent.h>
#include <poll.h>

static const struct listener_cfg lst2[2] = {
	{ .name = "grpc", .tls_mode = TLS_MODE_ONEWAY },
	{ .name = "rest", .tls_mode = TLS_MODE_PLAIN },
};

/* Known counts on two shards (a worker and the main thread). */
static struct metrics *feed(void)
{
	struct metrics *m = metrics_new(1);
	struct metrics_counters *w, *main_s;
	struct metrics_close_info ci = { .bytes_in = 100, .bytes_out = 200, .srtt_us = 80 };

	BUG_ON(!m);
	w = metrics_shard(m, 0);
	main_s = metrics_shard(m, 1);
	metrics_conn_open(w, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT);
	metrics_conn_open(w, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT);
	metrics_conn_open(w, TLS_MODE_ONEWAY, 0, METRICS_LEG_UPSTREAM);
	metrics_conn_close(w, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT, &ci);
	metrics_handshake_done(w, TLS_MODE_ONEWAY, 0, METRICS_OFFLOAD_USERSPACE, 700);
	metrics_handshake_failed(w, TLS_MODE_ONEWAY, 0, METRICS_HS_NO_CERT);
	metrics_reload(main_s, METRICS_RELOAD_OK);
	return m;
}

static struct endpoint loopback(unsigned int port)
{
	struct endpoint ep = { .addrlen = sizeof(struct sockaddr_in) };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ep.addr;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(ep.text, sizeof(ep.text), "127.0.0.1:%u", port);
	return ep;
}

static int start(struct metrics *m, struct httpd **h)
{
	struct endpoint ep = loopback(0);

	return httpd_start(&ep, m, NULL, lst2, 2, h);
}

static int dial(const struct httpd *h)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *colon = strrchr(httpd_addr(h), ':');
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads to EOF (or reset) within @ms; returns the bytes read, NUL-terminated. */
static size_t read_all(int fd, char *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	ssize_t r;

	while (n + 1 < len && poll(&p, 1, ms) == 1) {
		r = read(fd, buf + n, len - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

static char resp[1 << 20];

/* Sends @req (@len bytes) on a new connection and reads the whole answer. */
static size_t ask(const struct httpd *h, const char *req, size_t len)
{
	int fd = dial(h);
	size_t n;

	if (fd < 0)
		return 0;
	if (write(fd, req, len) != (ssize_t)len)
		t_fail(__FILE__, __LINE__, "write: %s", strerror(errno));
	n = read_all(fd, resp, sizeof(resp), 3000);
	close(fd);
	return n;
}

#define ASK(h, s) ask(h, s, strlen(s))

static const char *body_of(const char *r)
{
	const char *b = strstr(r, "\r\n\r\n");

	return b ? b + 4 : "";
}

static long content_length(const char *r)
{
	const char *p = strstr(r, "\r\nContent-Length: ");

	return p ? strtol(p + 18, NULL, 10) : -1;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	for (; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

/* What the endpoint should answer: the same render of the same counters. */
static char *expected_text(const struct metrics *m)
{
	static struct metrics_counters snap;
	struct metrics_view v = { .c = &snap, .listeners = lst2, .n_listeners = 2 };
	size_t need;
	char *buf;

	metrics_collect(m, &snap);
	need = metrics_render(&v, NULL, 0);
	buf = malloc(need + 1);
	BUG_ON(!buf);
	metrics_render(&v, buf, need + 1);
	return buf;
}

TEST(get_metrics_exact)
{
	struct metrics *m = feed();
	struct httpd *h;
	char *want;

	ASSERT(start(m, &h) == 0);
	ASSERT(ASK(h, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n") > 0);
	EXPECT(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17));
	EXPECT_STR_CONTAINS(resp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
	EXPECT_STR_CONTAINS(resp, "\r\nConnection: close\r\n");
	EXPECT_EQ(content_length(resp), strlen(body_of(resp)));
	want = expected_text(m);
	EXPECT_STR_EQ(body_of(resp), want);
	free(want);
	EXPECT(has_line(resp, "ktlsgw_bpf_enabled 0"));
	EXPECT(has_line(resp, "ktlsgw_connections_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 2"));
	EXPECT(has_line(resp, "ktlsgw_active_connections{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 1"));
	EXPECT(has_line(resp, "ktlsgw_bytes_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\","
			      "direction=\"upstream_to_client\"} 200"));
	EXPECT(has_line(resp, "ktlsgw_handshakes_total{tls_mode=\"1\",listener=\"grpc\",offload=\"userspace\"} 1"));
	EXPECT(has_line(resp, "ktlsgw_handshake_failures_total{tls_mode=\"1\",listener=\"grpc\",reason=\"no_cert\"} 1"));
	EXPECT(has_line(resp, "ktlsgw_reloads_total{result=\"ok\"} 1"));
	/* counters move: the next scrape is rendered fresh */
	metrics_reload(metrics_shard(m, 1), METRICS_RELOAD_FAILED);
	ASK(h, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	EXPECT(has_line(body_of(resp), "ktlsgw_reloads_total{result=\"failed\"} 1"));
	EXPECT_EQ(h->scrapes, 2);
	httpd_stop(h);
	metrics_free(m);
}

TEST(head_and_errors)
{
	static const char hello[] = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\0\n\n";
	struct metrics *m = feed();
	struct httpd *h;
	long len;

	ASSERT(start(m, &h) == 0);
	ASK(h, "GET /metrics HTTP/1.0\r\n\r\n");
	len = content_length(resp);
	ASK(h, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	EXPECT(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17));
	EXPECT_EQ(content_length(resp), len);
	EXPECT_STR_EQ(body_of(resp), "");
	ASK(h, "GET / HTTP/1.1\r\n\r\n");
	EXPECT(!strncmp(resp, "HTTP/1.1 404 Not Found\r\n", 24));
	EXPECT_STR_EQ(body_of(resp), "404 Not Found\n");
	ASK(h, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	EXPECT(!strncmp(resp, "HTTP/1.1 405 ", 13));
	EXPECT_STR_CONTAINS(resp, "\r\nAllow: GET, HEAD\r\n");
	ask(h, hello, sizeof(hello) - 1);	/* binary, NULs included */
	EXPECT(!strncmp(resp, "HTTP/1.1 400 ", 13));
	ASK(h, "GET /metrics HTTP/3\r\n\r\n");
	EXPECT(!strncmp(resp, "HTTP/1.1 400 ", 13));
	EXPECT_EQ(h->scrapes, 2);
	httpd_stop(h);
	metrics_free(m);
}

TEST(oversized_head_431)
{
	static char big[3 * HTTPD_HEAD_MAX];
	struct metrics *m = feed();
	struct httpd *h;
	size_t n;

	ASSERT(start(m, &h) == 0);
	n = (size_t)snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'a', HTTPD_HEAD_MAX);	/* no end of head within the limit */
	ask(h, big, n + HTTPD_HEAD_MAX);
	EXPECT(!strncmp(resp, "HTTP/1.1 431 ", 13));
	ASK(h, "GET /metrics HTTP/1.1\r\n\r\n");
	EXPECT(!strncmp(resp, "HTTP/1.1 200 ", 13));
	httpd_stop(h);
	metrics_free(m);
}

/* A half-sent request holds a slot, not the thread: others are served
 * meanwhile, and the staller gets 408 once its deadline passes. */
TEST(stalled_request_408)
{
	struct metrics *m = feed();
	struct httpd *h;
	int fd;

	timeout_ms = 300;
	ASSERT(start(m, &h) == 0);
	fd = dial(h);
	ASSERT(fd >= 0);
	EXPECT_EQ(write(fd, "GET /metr", 9), 9);
	ASK(h, "GET /metrics HTTP/1.1\r\n\r\n");
	EXPECT(!strncmp(resp, "HTTP/1.1 200 ", 13));
	read_all(fd, resp, sizeof(resp), 3000);
	EXPECT(!strncmp(resp, "HTTP/1.1 408 ", 13));
	close(fd);
	timeout_ms = HTTPD_TIMEOUT_MS;
	httpd_stop(h);
	metrics_free(m);
}

/* 200 scrapers at once: at most HTTPD_CLIENTS_MAX get an answer (answered
 * ones hold their slot until the client closes), every other one is closed
 * without a byte; nothing half-written; the endpoint answers afterwards. */
TEST(many_scrapers_capped)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
	static char one[1 << 17];
	struct metrics *m = feed();
	unsigned int i, ok = 0, closed = 0, odd = 0;
	struct httpd *h;
	int fds[200];

	ASSERT(start(m, &h) == 0);
	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		fds[i] = dial(h);
		if (fds[i] >= 0)
			(void)!send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL);
	}
	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		size_t n = fds[i] >= 0 ? read_all(fds[i], one, sizeof(one), 3000) : 0;

		if (n && !strncmp(one, "HTTP/1.1 200 ", 13) &&
		    content_length(one) == (long)strlen(body_of(one)))
			ok++;
		else if (!n)
			closed++;
		else
			odd++;
	}
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	EXPECT(ok >= 1 && ok <= HTTPD_CLIENTS_MAX);
	EXPECT_EQ(ok + closed, ARRAY_SIZE(fds));
	EXPECT_EQ(odd, 0);
	printf("# %u answered, %u closed at once\n", ok, closed);
	usleep(100 * 1000);	/* the endpoint sees the closes */
	ASK(h, "GET /metrics HTTP/1.1\r\n\r\n");
	EXPECT(!strncmp(resp, "HTTP/1.1 200 ", 13));
	httpd_stop(h);
	metrics_free(m);
}

TEST(bind_error_reported)
{
	struct metrics *m = feed();
	struct httpd *h, *h2 = NULL;
	struct endpoint ep;

	ASSERT(start(m, &h) == 0);
	ep = loopback((unsigned int)atoi(strrchr(httpd_addr(h), ':') + 1));
	EXPECT_EQ(httpd_start(&ep, m, NULL, lst2, 2, &h2), -EADDRINUSE);
	EXPECT(h2 == NULL);
	httpd_stop(h);
	metrics_free(m);
}

TEST(listeners_update)
{
	static const struct listener_cfg lst1[1] = { { .name = "renamed", .tls_mode = TLS_MODE_MUTUAL } };
	struct metrics *m = feed();
	struct httpd *h;

	ASSERT(start(m, &h) == 0);
	ASSERT(httpd_set_listeners(h, lst1, 1) == 0);
	ASK(h, "GET /metrics HTTP/1.1\r\n\r\n");
	EXPECT_STR_CONTAINS(resp, "listener=\"renamed\"");
	EXPECT(!strstr(resp, "listener=\"rest\""));
	httpd_stop(h);
	metrics_free(m);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Stop with a scraper still connected: joins, closes every descriptor. */
TEST(stop_leaks_no_fd)
{
	struct metrics *m = feed();
	struct httpd *h;
	int before, fd;

	before = count_fds();
	ASSERT(start(m, &h) == 0);
	ASK(h, "GET /metrics HTTP/1.1\r\n\r\n");
	fd = dial(h);
	ASSERT(fd >= 0);
	EXPECT_EQ(write(fd, "GET", 3), 3);
	usleep(50 * 1000);
	httpd_stop(h);
	EXPECT_EQ(read_all(fd, resp, sizeof(resp), 1000), 0);	/* closed by stop */
	close(fd);
	EXPECT_EQ(count_fds(), before);
	metrics_free(m);
}

/* 64 listeners make a text far larger than a socket takes at once: the rest
 * goes out on EPOLLOUT to a reader that starts late, byte-exact. */
TEST(large_body_partial_writes)
{
	static struct listener_cfg many[CFG_LISTENERS_MAX];
	static struct metrics_counters snap;
	struct metrics_view v = { .c = &snap, .listeners = many, .n_listeners = CFG_LISTENERS_MAX };
	struct metrics *m = feed();
	struct endpoint ep = loopback(0);
	struct httpd *h;
	unsigned int i;
	char *want;
	size_t need;
	int fd, snd = 4096;

	for (i = 0; i < CFG_LISTENERS_MAX; i++) {
		snprintf(many[i].name, sizeof(many[i].name), "listener-%u", i);
		many[i].tls_mode = (enum tls_mode)(i % TLS_MODE__COUNT);
	}
	ASSERT(httpd_start(&ep, m, NULL, many, CFG_LISTENERS_MAX, &h) == 0);
	/* accepted sockets inherit the listener's small send buffer */
	ASSERT(setsockopt(h->lfd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) == 0);
	fd = dial(h);
	ASSERT(fd >= 0);
	EXPECT_EQ(write(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25), 25);
	usleep(100 * 1000);	/* the endpoint fills the socket and waits */
	read_all(fd, resp, sizeof(resp), 3000);
	close(fd);
	metrics_collect(m, &snap);
	need = metrics_render(&v, NULL, 0);
	want = malloc(need + 1);
	ASSERT(want);
	metrics_render(&v, want, need + 1);
	EXPECT(need > 256 * 1024);
	EXPECT_EQ(strlen(body_of(resp)), need);
	EXPECT(!strcmp(body_of(resp), want));
	EXPECT_EQ(content_length(resp), need);
	free(want);
	httpd_stop(h);
	metrics_free(m);
}

/* With BPF on (root, kernel support), a scrape serves the kernel's figures:
 * one tagged socket against the two connections the userspace shard says. */
TEST(bpf_figures_served)
{
	struct endpoint ep = loopback(0);
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct metrics *m;
	struct ebpf *e = NULL;
	struct httpd *h;
	int lfd, c, s;

	if (geteuid() != 0) {
		t_skip("needs root to load BPF programs");
		return;
	}
	ASSERT(ebpf_open(FEAT_AUTO, NULL, &e) == 0 && e);
	if (!ebpf_is_enabled(e)) {
		t_skip(e->reason);
		ebpf_close(e);
		return;
	}
	m = feed();
	sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0);
	ASSERT(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(c >= 0 && connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT(s >= 0);
	EXPECT_EQ(ebpf_tag_socket(e, s, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT), 0);
	ASSERT(httpd_start(&ep, m, e, lst2, 2, &h) == 0);
	ASK(h, "GET /metrics HTTP/1.1\r\n\r\n");
	EXPECT(has_line(resp, "ktlsgw_bpf_enabled 1"));
	EXPECT(has_line(resp, "ktlsgw_connections_total{tls_mode=\"1\",listener=\"grpc\",leg=\"client\"} 1"));
	/* what only userspace knows is still the shard's */
	EXPECT(has_line(resp, "ktlsgw_handshakes_total{tls_mode=\"1\",listener=\"grpc\",offload=\"userspace\"} 1"));
	httpd_stop(h);
	close(c);
	close(s);
	close(lfd);
	ebpf_close(e);
	metrics_free(m);
}
