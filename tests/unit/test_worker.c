/* SPDX-License-Identifier: MIT */
/* The gateway on a real ring, driven from a struct config built here (no
 * YAML): a mode-0 relay with half-close, maxConnections, an upstream that
 * refuses, the idle timeout, and no fd left behind after gateway_stop(). */
#include "t.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "certgen.h"
#include "worker.h"

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void set_ep(struct endpoint *ep, int port)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&ep->addr;

	memset(ep, 0, sizeof(*ep));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ep->addrlen = sizeof(*a);
	snprintf(ep->text, sizeof(ep->text), "127.0.0.1:%d", port);
}

struct rig {
	struct config cfg;
	struct listener_cfg lc;
	struct gateway *gw;
	int up_fd;		/* upstream listening socket, -1 when none */
	int port;		/* the gateway's */
};

static int tcp_listen(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int rig_start(struct rig *r, bool upstream_up)
{
	int up_port = free_port();

	memset(r, 0, sizeof(*r));
	log_set_level(getenv("T_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	r->up_fd = upstream_up ? tcp_listen(up_port) : -1;
	r->port = free_port();
	snprintf(r->lc.name, sizeof(r->lc.name), "t");
	set_ep(&r->lc.bind, r->port);
	set_ep(&r->lc.upstream, up_port);
	r->lc.tls_mode = TLS_MODE_PLAIN;
	r->cfg.listeners = &r->lc;
	r->cfg.n_listeners = 1;
	r->cfg.workers = 1;
	r->cfg.handshake_timeout_ms = 2000;
	r->cfg.connect_timeout_ms = 1000;
	return 0;
}

static int rig_go(struct rig *r)
{
	r->gw = gateway_start(&r->cfg, NULL);
	return r->gw ? 0 : -1;
}

static void rig_stop(struct rig *r)
{
	EXPECT_EQ(gateway_stop(r->gw), 0);
	if (r->up_fd >= 0)
		close(r->up_fd);
}

static long read_all(int fd, unsigned char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t k;

	while (n < cap && ((k = read(fd, buf + n, cap - n)) > 0 || (k < 0 && errno == EINTR)))
		n += k > 0 ? (size_t)k : 0;
	return k < 0 ? -1 : (long)n;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

#define N 32768

TEST(mode0_relays_both_ways_with_half_close)
{
	static unsigned char up[N], down[N], got[N + 1];
	struct rig r;
	int cli, srv, i;

	for (i = 0; i < N; i++) {
		up[i] = (unsigned char)(i * 7);
		down[i] = (unsigned char)(i * 13 + 1);
	}
	ASSERT(rig_start(&r, true) == 0 && r.up_fd >= 0 && rig_go(&r) == 0);
	cli = tcp_connect(r.port);
	ASSERT(cli >= 0);
	EXPECT_EQ(write(cli, up, N), N);
	shutdown(cli, SHUT_WR);	/* must reach the upstream as EOF */
	srv = accept(r.up_fd, NULL, NULL);
	ASSERT(srv >= 0);
	EXPECT_EQ(read_all(srv, got, sizeof(got)), N);
	EXPECT(!memcmp(got, up, N));
	EXPECT_EQ(write(srv, down, N), N);
	close(srv);
	EXPECT_EQ(read_all(cli, got, sizeof(got)), N);
	EXPECT(!memcmp(got, down, N));
	close(cli);
	EXPECT_EQ(atomic_load(&r.gw->n_accepted), 1);
	rig_stop(&r);
}

static void expect_limit(bool per_listener)
{
	struct rig r;
	struct timespec t0;
	unsigned char b[8];
	int a, c;

	ASSERT(rig_start(&r, true) == 0);
	if (per_listener)
		r.lc.max_conns = 1;
	else
		r.cfg.max_conns = 1;
	ASSERT(rig_go(&r) == 0);
	a = tcp_connect(r.port);
	ASSERT(a >= 0);
	usleep(100000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = tcp_connect(r.port);
	ASSERT(c >= 0);
	EXPECT(read_all(c, b, sizeof(b)) <= 0);
	EXPECT(ms_since(&t0) < 500);
	EXPECT_EQ(atomic_load(&r.gw->n_conns), 1);
	EXPECT_EQ(atomic_load(&r.gw->lst_conns[0]), 1);
	close(c);
	close(a);
	rig_stop(&r);
}

TEST(over_max_connections_is_closed_at_once)
{
	expect_limit(false);
}

TEST(over_listener_max_connections_is_closed_at_once)
{
	expect_limit(true);
}

TEST(upstream_refusing_closes_the_client_promptly)
{
	struct rig r;
	struct timespec t0;
	unsigned char b[8];
	int c;

	ASSERT(rig_start(&r, false) == 0 && rig_go(&r) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = tcp_connect(r.port);
	ASSERT(c >= 0);
	EXPECT(read_all(c, b, sizeof(b)) <= 0);
	EXPECT(ms_since(&t0) < 500);
	close(c);
	/* and it recovers once the upstream is back */
	r.up_fd = tcp_listen(ntohs(((struct sockaddr_in *)&r.lc.upstream.addr)->sin_port));
	ASSERT(r.up_fd >= 0);
	c = tcp_connect(r.port);
	ASSERT(c >= 0);
	EXPECT_EQ(write(c, "ping", 4), 4);
	shutdown(c, SHUT_WR);
	close(c);
	rig_stop(&r);
}

TEST(idle_timeout_closes_a_silent_relay)
{
	struct rig r;
	struct timespec t0;
	unsigned char b[8];
	double ms;
	ssize_t k;
	int c, srv;

	ASSERT(rig_start(&r, true) == 0);
	r.cfg.idle_timeout_ms = 300;
	ASSERT(rig_go(&r) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = tcp_connect(r.port);
	ASSERT(c >= 0);
	srv = accept(r.up_fd, NULL, NULL);
	ASSERT(srv >= 0);
	/* a blocking read with SO_RCVTIMEO can see EINTR from task_work */
	while ((k = read(c, b, sizeof(b))) < 0 && errno == EINTR)
		;
	ms = ms_since(&t0);
	if (k != 0)
		t_fail(__FILE__, __LINE__, "read: %zd (%s) after %.0f ms", k, strerror(errno), ms);
	EXPECT(ms >= 250 && ms < 1500);
	close(srv);
	close(c);
	rig_stop(&r);
}

TEST(stop_with_open_conns_leaves_no_fd)
{
	struct rig r;
	int before = count_fds(), c[4], srv[4], i;

	ASSERT(rig_start(&r, true) == 0 && rig_go(&r) == 0);
	for (i = 0; i < 4; i++) {
		c[i] = tcp_connect(r.port);
		srv[i] = accept(r.up_fd, NULL, NULL);
	}
	EXPECT_EQ(gateway_stop(r.gw), 0);
	close(r.up_fd);
	for (i = 0; i < 4; i++) {
		close(c[i]);
		close(srv[i]);
	}
	EXPECT_EQ(count_fds(), before);
}

TEST(connect_timeout_closes_the_client)
{
	struct rig r;
	struct timespec t0;
	unsigned char b[8];
	double ms;
	int c[3], i;

	ASSERT(rig_start(&r, true) == 0);
	listen(r.up_fd, 0);	/* never accepted: later SYNs are dropped */
	r.cfg.connect_timeout_ms = 300;
	ASSERT(rig_go(&r) == 0);
	for (i = 0; i < 3; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		c[i] = tcp_connect(r.port);
		ASSERT(c[i] >= 0);
		usleep(50000);
	}
	/* the last one's upstream connect hangs: closed by connectTimeout */
	EXPECT(read_all(c[2], b, sizeof(b)) <= 0);
	ms = ms_since(&t0);
	if (ms < 250 || ms > 1500)
		t_fail(__FILE__, __LINE__, "closed after %.0f ms, want ~300", ms);
	for (i = 0; i < 3; i++)
		close(c[i]);
	rig_stop(&r);
}

/* ---- a TLS listener: what arrives before (or instead of) a ClientHello ---- */

static int tls_rig(struct rig *r, struct certgen_report *rep)
{
	static char pem[512], key[512];
	struct certgen_opts o;

	certgen_opts_init(&o);
	o.dir = t_tmpdir();
	if (certgen_gen(&o, rep) < 0)
		return -1;
	snprintf(pem, sizeof(pem), "%s/server.pem", o.dir);
	snprintf(key, sizeof(key), "%s/server.key", o.dir);
	if (rig_start(r, true) < 0)
		return -1;
	r->cfg.tls.server_pem = pem;
	r->cfg.tls.server_key = key;
	r->lc.tls_mode = TLS_MODE_ONEWAY;
	r->cfg.handshake_timeout_ms = 400;
	return rig_go(r);
}

static double closed_after(int fd, const void *msg, size_t len, bool fin, char *got, size_t cap)
{
	struct timespec t0;
	long n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (len && write(fd, msg, len) != (ssize_t)len)
		return -1;
	if (fin)
		shutdown(fd, SHUT_WR);
	n = read_all(fd, (unsigned char *)got, cap - 1);
	got[n > 0 ? n : 0] = 0;
	return ms_since(&t0);
}

TEST(tls_port_answers_plain_http_and_drops_bad_starts)
{
	struct certgen_report rep;
	struct rig r;
	char got[1024];
	double ms;
	int c;

	ASSERT(tls_rig(&r, &rep) == 0);
	c = tcp_connect(r.port);
	ms = closed_after(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, false, got, sizeof(got));
	EXPECT(!strncmp(got, "HTTP/1.1 400 ", 13));
	EXPECT_STR_CONTAINS(got, "expects TLS");
	EXPECT(ms < 300);
	close(c);
	c = tcp_connect(r.port);	/* a method prefix, then FIN: no wait */
	ms = closed_after(c, "GE", 2, true, got, sizeof(got));
	EXPECT(ms < 300);
	close(c);
	c = tcp_connect(r.port);	/* random bytes: refused at once */
	ms = closed_after(c, "\x01\x02\x03\x04\x05\x06\x07\x08", 8, false, got, sizeof(got));
	EXPECT(ms < 300);
	close(c);
	c = tcp_connect(r.port);	/* silence: the handshake timeout */
	ms = closed_after(c, NULL, 0, false, got, sizeof(got));
	if (ms < 350 || ms > 1500)
		t_fail(__FILE__, __LINE__, "silent client closed after %.0f ms, want ~400", ms);
	close(c);
	rig_stop(&r);
}
