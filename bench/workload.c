/* SPDX-License-Identifier: MIT */
/* One loadgen thread: an epoll loop over its connection slots. Each slot
 * walks CONNECTING -> HANDSHAKE (TLS) -> SEND/RECV (rr, connect, resume) or
 * STREAM (bulk, idle); a failed slot is counted, closed and reopened, so the
 * offered load stays constant. Counters are per thread, merged at the end. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

#define CONNECTS_IN_FLIGHT 128	/* slots opened ahead of established ones */
#define PRINT_ERRORS 5

int lg_phase;
unsigned int lg_established;
unsigned int lg_failures;

static const char *const wl_names[WL__COUNT] = {
	[WL_BULK_UP] = "bulk-up",   [WL_BULK_DOWN] = "bulk-down", [WL_RR] = "rr",
	[WL_CONNECT] = "connect",   [WL_RESUME] = "resume",	      [WL_IDLE] = "idle",
};

/* Bulk upload payload: constant, so what is measured is the relay, not us. */
static unsigned char upbuf[65536];

void lg_workload_init(void)
{
	memset(upbuf, 'x', sizeof(upbuf));
}

const char *lg_workload_name(enum lg_workload wl)
{
	return wl < WL__COUNT ? wl_names[wl] : "?";
}

int lg_workload_parse(const char *s)
{
	int i;

	for (i = 0; i < WL__COUNT; i++)
		if (!strcmp(s, wl_names[i]))
			return i;
	return -EINVAL;
}

uint64_t lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int conn_is_oneshot(const struct lg_conn *c)
{
	return c->th->o->wl == WL_CONNECT || c->th->o->wl == WL_RESUME;
}

static __must_check int arm(struct lg_conn *c, unsigned int ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

	if (ev == c->events)
		return 0;
	if (epoll_ctl(c->th->ep, op, c->fd, &e) < 0)
		return -errno;
	c->events = ev;
	return 0;
}

/* Closes the slot; @graceful sends close_notify first. */
static void conn_close(struct lg_conn *c, int graceful)
{
	if (c->ssl) {
		if (graceful)
			lgtls_shutdown(c);
		lgtls_free(c);
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->events = 0;
	c->state = CS_CLOSED;
}

static __must_check int conn_open(struct lg_conn *c)
{
	const struct lg_opts *o = c->th->o;
	int one = 1;

	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t0 = lg_now_ns();
	c->state = CS_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) < 0 &&
	    errno != EINPROGRESS)
		return -errno;
	return arm(c, EPOLLOUT);
}

static void conn_fail(struct lg_conn *c, int err)
{
	struct lg_thread *th = c->th;

	__atomic_add_fetch(&lg_failures, 1, __ATOMIC_RELAXED);
	if (th->st.errors++ < PRINT_ERRORS &&
	    __atomic_load_n(&lg_phase, __ATOMIC_RELAXED) != PH_STOP)
		fprintf(stderr, "loadgen: connection error in state %d: %s\n", c->state,
			strerror(-err));
	conn_close(c, 0);
	if (__atomic_load_n(&lg_phase, __ATOMIC_RELAXED) == PH_STOP)
		return;
	err = conn_open(c);
	if (err < 0) {	/* out of fds or ports: the slot stays closed */
		th->st.errors++;
		conn_close(c, 0);
	}
}

static long io_read(struct lg_conn *c, void *buf, size_t n, unsigned int *want)
{
	ssize_t r;

	if (c->ssl)
		return lgtls_read(c, buf, n, want);
	r = read(c->fd, buf, n);
	if (r >= 0)
		return r;
	*want = EPOLLIN;
	return errno == EAGAIN ? -EAGAIN : -errno;
}

static long io_write(struct lg_conn *c, const void *buf, size_t n, unsigned int *want)
{
	ssize_t r;

	if (c->ssl)
		return lgtls_write(c, buf, n, want);
	r = send(c->fd, buf, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	*want = EPOLLOUT;
	return errno == EAGAIN ? -EAGAIN : -errno;
}

static __must_check int do_send(struct lg_conn *c);

static __must_check int start_request(struct lg_conn *c)
{
	c->state = CS_SEND;
	c->done = 0;
	if (!conn_is_oneshot(c))
		c->t0 = lg_now_ns();
	return do_send(c);
}

/* Reply complete: count it, then the next request or (oneshot) a new connection. */
static __must_check int finish_request(struct lg_conn *c)
{
	struct lg_stats *st = &c->th->st;

	st->reqs++;
	hist_record(&st->lat, lg_now_ns() - c->t0);
	if (!conn_is_oneshot(c))
		return start_request(c);
	conn_close(c, 1);
	return conn_open(c);
}

static __must_check int do_recv(struct lg_conn *c)
{
	static __thread unsigned char buf[65536];
	const struct lg_opts *o = c->th->o;
	unsigned int want = EPOLLIN;
	size_t left;
	long n;

	while (c->done < o->resp) {
		left = o->resp - c->done;
		n = io_read(c, buf, left < sizeof(buf) ? left : sizeof(buf), &want);
		if (n == -EAGAIN)
			return arm(c, want);
		if (n <= 0)
			return n ? (int)n : -ECONNRESET;
		c->done += (size_t)n;
		c->th->st.bytes_down += (uint64_t)n;
	}
	return finish_request(c);
}

static __must_check int do_send(struct lg_conn *c)
{
	const struct lg_opts *o = c->th->o;
	unsigned int want = EPOLLOUT;
	long n;

	while (c->done < o->req) {
		n = io_write(c, o->req_buf + c->done, o->req - c->done, &want);
		if (n == -EAGAIN)
			return arm(c, want);
		if (n <= 0)
			return n ? (int)n : -ECONNRESET;
		c->done += (size_t)n;
		c->th->st.bytes_up += (uint64_t)n;
	}
	c->state = CS_RECV;
	c->done = 0;
	return do_recv(c);
}

/* Bytes one bulk conn moves per wake-up. A proxy faster than this client
 * never lets the socket block, and a loop "until it would block" then keeps
 * the thread from seeing the window open or close: it counted bytes moved
 * after the window (throughput too high, CPU per GB too low). */
#define STREAM_SLICE (1u << 20)

/* Bulk and idle: move what the socket takes or gives, until it would block
 * or a slice is done (level-triggered epoll calls again if more is ready). */
static __must_check int do_stream(struct lg_conn *c)
{
	static __thread unsigned char buf[65536];
	const struct lg_opts *o = c->th->o;
	size_t chunk = c->ssl ? 16384 : sizeof(upbuf);
	unsigned int want = o->wl == WL_BULK_UP ? EPOLLOUT : EPOLLIN;
	size_t moved = 0;
	long n;

	while (moved < STREAM_SLICE) {
		if (o->wl == WL_BULK_UP)
			n = io_write(c, upbuf, chunk, &want);
		else
			n = io_read(c, buf, sizeof(buf), &want);
		if (n == -EAGAIN)
			return arm(c, want);
		if (n <= 0)
			return n ? (int)n : -ECONNRESET;
		moved += (size_t)n;
		if (o->wl == WL_BULK_UP)
			c->th->st.bytes_up += (uint64_t)n;
		else if (o->wl == WL_BULK_DOWN)
			c->th->st.bytes_down += (uint64_t)n;
		else
			return -EPROTO;	/* idle: the peer must stay silent */
	}
	return arm(c, want);
}

static __must_check int established(struct lg_conn *c)
{
	struct lg_thread *th = c->th;

	th->st.handshakes++;
	if (c->ssl) {
		lgtls_note(c);
		th->st.resumed += lgtls_is_resumed(c) ? 1 : 0;
	}
	if (!c->counted) {
		c->counted = 1;
		__atomic_add_fetch(&lg_established, 1, __ATOMIC_RELAXED);
	}
	switch (th->o->wl) {
	case WL_BULK_UP:
	case WL_BULK_DOWN:
	case WL_IDLE:
		c->state = CS_STREAM;
		return do_stream(c);
	default:
		return start_request(c);
	}
}

static __must_check int step_handshake(struct lg_conn *c)
{
	unsigned int want = EPOLLIN;
	int ret = lgtls_handshake(c, &want);

	if (ret == -EAGAIN)
		return arm(c, want);
	return ret < 0 ? ret : established(c);
}

static __must_check int on_connected(struct lg_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	if (!c->th->ctx)
		return established(c);
	c->ssl = lgtls_new(c->th->ctx, c->th->o, c);
	if (!c->ssl)
		return -EPROTO;
	c->state = CS_HANDSHAKE;
	return step_handshake(c);
}

static void handle(struct lg_conn *c)
{
	int ret;

	switch (c->state) {
	case CS_CONNECTING:
		ret = on_connected(c);
		break;
	case CS_HANDSHAKE:
		ret = step_handshake(c);
		break;
	case CS_SEND:
		ret = do_send(c);
		break;
	case CS_RECV:
		ret = do_recv(c);
		break;
	case CS_STREAM:
		ret = do_stream(c);
		break;
	default:
		ret = 0;
		break;
	}
	if (ret < 0)
		conn_fail(c, ret);
}

/* Opens slots up to CONNECTS_IN_FLIGHT ahead of the established count, so
 * ten thousand idle connections do not overflow the peer's SYN queue. */
static void open_more(struct lg_thread *th, unsigned int *next)
{
	unsigned int up = 0, i;
	int ret;

	for (i = 0; i < *next; i++)
		up += th->conns[i].counted;
	while (*next < th->nconns && *next - up < CONNECTS_IN_FLIGHT) {
		ret = conn_open(&th->conns[*next]);
		if (ret < 0)
			conn_fail(&th->conns[*next], ret);
		(*next)++;
	}
}

static void on_phase(struct lg_thread *th, enum lg_phase ph)
{
	uint64_t errors = th->st.errors;

	if (ph == PH_MEASURE) {
		memset(&th->st, 0, sizeof(th->st) - sizeof(th->st.lat));
		hist_reset(&th->st.lat);
		th->st.errors = errors;
	}
	th->seen = ph;
}

void *lg_thread_run(void *arg)
{
	struct lg_thread *th = arg;
	struct epoll_event evs[256];
	unsigned int next = 0, i;
	enum lg_phase ph;
	int n;

	for (;;) {
		ph = __atomic_load_n(&lg_phase, __ATOMIC_ACQUIRE);
		if (ph != th->seen)
			on_phase(th, ph);
		if (ph == PH_STOP)
			break;
		if (next < th->nconns)
			open_more(th, &next);
		n = epoll_wait(th->ep, evs, ARRAY_SIZE(evs), 20);
		for (i = 0; n > 0 && i < (unsigned int)n; i++)
			handle(evs[i].data.ptr);
	}
	for (i = 0; i < th->nconns; i++) {
		conn_close(&th->conns[i], 0);
		lgtls_forget(&th->conns[i]);
	}
	return NULL;
}
