/* SPDX-License-Identifier: MIT */
/* The Prometheus endpoint: one thread with its own epoll loop answers
 * GET/HEAD /metrics with a fresh render of the counters. Scrapers are few and
 * untrusted: a fixed table of them, a cap on the request head, a deadline
 * per connection, and every malformed request answered 4xx and closed. */
#include "httpd.h"

#include "ebpf.h"
#include "httpreq.h"
#include "log.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define TAG_LISTEN 0
#define TAG_STOP 1
#define TAG_CLIENT0 2		/* epoll data of client i is TAG_CLIENT0 + i */
#define ACCEPT_PAUSE_MS 100	/* out of fds: retry accepting after this */

/* HTTPD_TIMEOUT_MS; a variable so that the unit test need not wait 5 s. */
static int64_t timeout_ms = HTTPD_TIMEOUT_MS;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ep_ctl(struct httpd *h, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(h->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/* ---- scraper connections ---- */

static void client_close(struct httpd_client *c)
{
	if (c->fd >= 0)
		close(c->fd);	/* also leaves the epoll set */
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = HTTPD_C_FREE;
	c->in_len = c->out_len = c->out_pos = 0;
}

static uint64_t tag_of(const struct httpd *h, const struct httpd_client *c)
{
	return TAG_CLIENT0 + (uint64_t)(c - h->clients);
}

/* Answer sent: shut our side and read until the peer closes, so unread
 * request bytes never turn our close into a reset that loses the answer. */
static void client_finish(struct httpd *h, struct httpd_client *c)
{
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = HTTPD_C_LINGER;
	c->deadline_ms = now_ms() + timeout_ms;
	if (ep_ctl(h, EPOLL_CTL_MOD, c->fd, EPOLLIN, tag_of(h, c)) < 0)
		client_close(c);
}

static ssize_t write_iov(int fd, struct iovec *iov, int n)
{
	ssize_t w;

	do
		w = writev(fd, iov, n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno == EAGAIN)
		return 0;
	return w;
}

/* Keeps what the socket did not take in c->out, sent on EPOLLOUT. */
static void client_keep_rest(struct httpd *h, struct httpd_client *c, const struct iovec *iov,
			     size_t sent)
{
	size_t total = iov[0].iov_len + iov[1].iov_len, h0 = iov[0].iov_len;

	c->out_len = total - sent;
	c->out_pos = 0;
	c->out = malloc(c->out_len);
	if (!c->out) {
		client_close(c);
		return;
	}
	if (sent < h0) {
		memcpy(c->out, (const char *)iov[0].iov_base + sent, h0 - sent);
		memcpy(c->out + h0 - sent, iov[1].iov_base, iov[1].iov_len);
	} else {
		memcpy(c->out, (const char *)iov[1].iov_base + (sent - h0), total - sent);
	}
	c->state = HTTPD_C_WRITE;
	c->deadline_ms = now_ms() + timeout_ms;
	if (ep_ctl(h, EPOLL_CTL_MOD, c->fd, EPOLLOUT, tag_of(h, c)) < 0)
		client_close(c);
}

/* Sends head + body: at once when the socket takes it (the usual case),
 * else from a copy of the rest. @body is borrowed for this call only. */
static void client_send(struct httpd *h, struct httpd_client *c, const char *head, size_t hlen,
			const char *body, size_t blen)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)head, .iov_len = hlen },
		{ .iov_base = (void *)body, .iov_len = blen },
	};
	ssize_t w = write_iov(c->fd, iov, 2);

	if (w < 0) {
		client_close(c);
		return;
	}
	if ((size_t)w == hlen + blen)
		client_finish(h, c);
	else
		client_keep_rest(h, c, iov, (size_t)w);
}

static void client_flush(struct httpd *h, struct httpd_client *c)
{
	struct iovec iov = { .iov_base = c->out + c->out_pos, .iov_len = c->out_len - c->out_pos };
	ssize_t w = write_iov(c->fd, &iov, 1);

	if (w < 0) {
		client_close(c);
		return;
	}
	c->out_pos += (size_t)w;
	if (w > 0)	/* a slow reader is fine; a stalled one is not */
		c->deadline_ms = now_ms() + timeout_ms;
	if (c->out_pos == c->out_len)
		client_finish(h, c);
}

/* ---- answers ---- */

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 431: return "Request Header Fields Too Large";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

static size_t format_head(char *buf, size_t len, int status, const char *ctype, size_t blen)
{
	int n = snprintf(buf, len,
			 "HTTP/1.1 %d %s\r\nServer: ktlsgw/" KTLSGW_VERSION "\r\n"
			 "Content-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
			 status, status_text(status), ctype, blen,
			 status == 405 ? "Allow: GET, HEAD\r\n" : "");

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

/* An error answer: a one-line text body, then close. */
static void reply_error(struct httpd *h, struct httpd_client *c, int status)
{
	char head[512], body[64];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
	size_t hlen = format_head(head, sizeof(head), status, "text/plain; charset=utf-8",
				  (size_t)blen);

	client_send(h, c, head, hlen, body, (size_t)blen);
}

/* The kernel's connection figures over the userspace ones; after a failed
 * (maybe partial) read, the userspace figures whole, and ktlsgw_bpf_enabled 0
 * for this scrape. */
static bool read_kernel(struct httpd *h)
{
	int ret = ebpf_read(h->e, h->n_listeners, h->snap);

	if (!ret)
		return true;
	if (!h->bpf_read_logged)
		log_warn("metrics endpoint: reading the BPF counters: %s; serving the userspace "
			 "figures (logged once)", strerror(-ret));
	h->bpf_read_logged = true;
	metrics_collect(h->m, h->snap);
	return false;
}

/* Sums the shards (the kernel's figures when BPF is on) and renders into
 * h->body, grown once when the text outgrew it. Returns the length, or -ENOMEM. */
static ssize_t render(struct httpd *h)
{
	struct metrics_view v = { .c = h->snap };
	size_t need;
	char *nb;

	pthread_mutex_lock(&h->lst_lock);
	metrics_collect(h->m, h->snap);
	v.listeners = h->listeners;
	v.n_listeners = h->n_listeners;
	if (h->e && ebpf_is_enabled(h->e))
		v.bpf_enabled = read_kernel(h);
	need = metrics_render(&v, h->body, h->body_cap);
	if (need >= h->body_cap) {
		nb = realloc(h->body, need + need / 4 + 1);
		if (!nb) {
			pthread_mutex_unlock(&h->lst_lock);
			return -ENOMEM;
		}
		h->body = nb;
		h->body_cap = need + need / 4 + 1;
		need = metrics_render(&v, h->body, h->body_cap);
	}
	pthread_mutex_unlock(&h->lst_lock);
	return (ssize_t)need;
}

static void reply_metrics(struct httpd *h, struct httpd_client *c, bool with_body)
{
	static const char ctype[] = "text/plain; version=0.0.4; charset=utf-8";
	ssize_t blen = render(h);
	char head[512];
	size_t hlen;

	if (blen < 0) {
		reply_error(h, c, 500);
		return;
	}
	h->scrapes++;
	hlen = format_head(head, sizeof(head), 200, ctype, (size_t)blen);
	client_send(h, c, head, hlen, h->body, with_body ? (size_t)blen : 0);
}

/* ---- requests ---- */

static void client_read(struct httpd *h, struct httpd_client *c)
{
	bool head_only = false;
	ssize_t n;
	int status;

	n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	status = httpreq_parse(c->in, c->in_len, sizeof(c->in), &head_only);
	if (status == 200)
		reply_metrics(h, c, !head_only);
	else if (status)
		reply_error(h, c, status);
}

/* After the answer: discard whatever comes until EOF. */
static void client_drain(struct httpd_client *c)
{
	ssize_t n = read(c->fd, c->in, sizeof(c->in));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		client_close(c);
}

static void on_client(struct httpd *h, struct httpd_client *c, uint32_t events)
{
	if (c->state == HTTPD_C_READ)
		client_read(h, c);
	else if (c->state == HTTPD_C_WRITE)
		client_flush(h, c);
	else if (c->state == HTTPD_C_LINGER)
		client_drain(c);
	/* peer gone: nothing more can be read or sent */
	if (c->state != HTTPD_C_FREE && (events & (EPOLLERR | EPOLLHUP)))
		client_close(c);
}

/* ---- accepting, deadlines, the loop ---- */

static struct httpd_client *slot_get(struct httpd *h)
{
	unsigned int i;

	for (i = 0; i < HTTPD_CLIENTS_MAX; i++)
		if (h->clients[i].state == HTTPD_C_FREE)
			return &h->clients[i];
	return NULL;
}

static void client_add(struct httpd *h, int fd)
{
	struct httpd_client *c = slot_get(h);

	if (!c) {		/* over the cap: refuse at once */
		close(fd);
		return;
	}
	c->fd = fd;
	c->state = HTTPD_C_READ;
	c->in_len = 0;
	c->deadline_ms = now_ms() + timeout_ms;
	if (ep_ctl(h, EPOLL_CTL_ADD, fd, EPOLLIN, tag_of(h, c)) < 0)
		client_close(c);
}

/* Out of descriptors: stop polling the listener for a moment rather than
 * spin on a pending connection that cannot be accepted. */
static void accept_pause(struct httpd *h, int err)
{
	log_warn("metrics endpoint %s: accept: %s; pausing %d ms", h->addr, strerror(err),
		 ACCEPT_PAUSE_MS);
	h->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
	if (ep_ctl(h, EPOLL_CTL_MOD, h->lfd, 0, TAG_LISTEN) < 0)
		h->accept_paused_until = 0;
}

static void on_listen(struct httpd *h)
{
	int fd;

	for (;;) {
		fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			client_add(h, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			accept_pause(h, errno);
		return;
	}
}

/* A slow request gets 408; a stalled answer or linger is just closed. */
static void expire(struct httpd *h, int64_t now)
{
	static const char r408[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct httpd_client *c;
	unsigned int i;

	for (i = 0; i < HTTPD_CLIENTS_MAX; i++) {
		c = &h->clients[i];
		if (c->state == HTTPD_C_FREE || c->deadline_ms > now)
			continue;
		if (c->state == HTTPD_C_READ && write(c->fd, r408, sizeof(r408) - 1) < 0)
			log_debug("metrics endpoint: 408: %s", strerror(errno));
		client_close(c);
	}
	if (h->accept_paused_until && h->accept_paused_until <= now) {
		h->accept_paused_until = 0;
		if (ep_ctl(h, EPOLL_CTL_MOD, h->lfd, EPOLLIN, TAG_LISTEN) < 0)
			h->accept_paused_until = now + ACCEPT_PAUSE_MS;
	}
}

static int next_timeout(const struct httpd *h, int64_t now)
{
	int64_t next = h->accept_paused_until ? h->accept_paused_until : INT64_MAX;
	unsigned int i;

	for (i = 0; i < HTTPD_CLIENTS_MAX; i++)
		if (h->clients[i].state != HTTPD_C_FREE && h->clients[i].deadline_ms < next)
			next = h->clients[i].deadline_ms;
	if (next == INT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

static void *httpd_main(void *arg)
{
	struct epoll_event evs[16];
	struct httpd *h = arg;
	int n, i;

	for (;;) {
		n = epoll_wait(h->epfd, evs, ARRAY_SIZE(evs), next_timeout(h, now_ms()));
		if (n < 0 && errno != EINTR) {
			log_error("metrics endpoint %s: epoll_wait: %s; endpoint stopped", h->addr,
				  strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == TAG_STOP)
				return NULL;
			if (evs[i].data.u64 == TAG_LISTEN)
				on_listen(h);
			else
				on_client(h, &h->clients[evs[i].data.u64 - TAG_CLIENT0],
					  evs[i].events);
		}
		expire(h, now_ms());
	}
}

/* ---- start and stop ---- */

static void addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

static int listen_on(struct httpd *h, const struct endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, ret;

	h->lfd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (h->lfd < 0)
		goto out_err;
	if (setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(h->lfd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0 ||
	    listen(h->lfd, 128) < 0 || getsockname(h->lfd, (struct sockaddr *)&ss, &sl) < 0)
		goto out_err;
	addr_text(&ss, h->addr, sizeof(h->addr));
	return 0;

out_err:
	ret = -errno;
	log_error("gateway.metrics: cannot listen on %s: %s", ep->text, strerror(errno));
	return ret;
}

static int setup_loop(struct httpd *h)
{
	int ret;

	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0)
		return -errno;
	h->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->stopfd < 0)
		return -errno;
	ret = ep_ctl(h, EPOLL_CTL_ADD, h->lfd, EPOLLIN, TAG_LISTEN);
	if (ret < 0)
		return ret;
	return ep_ctl(h, EPOLL_CTL_ADD, h->stopfd, EPOLLIN, TAG_STOP);
}

/* The thread takes no process signal: workers and the main thread own them. */
static int start_thread(struct httpd *h)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&h->thread, NULL, httpd_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void httpd_free(struct httpd *h)
{
	unsigned int i;

	if (!h)
		return;
	for (i = 0; i < HTTPD_CLIENTS_MAX; i++)
		client_close(&h->clients[i]);
	if (h->stopfd >= 0)
		close(h->stopfd);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->lfd >= 0)
		close(h->lfd);
	pthread_mutex_destroy(&h->lst_lock);
	free(h->listeners);
	free(h->snap);
	free(h->body);
	free(h);
}

static struct httpd *httpd_new(struct metrics *m, struct ebpf *e)
{
	struct httpd *h = calloc(1, sizeof(*h));
	unsigned int i;

	if (!h)
		return NULL;
	h->lfd = h->epfd = h->stopfd = -1;
	for (i = 0; i < HTTPD_CLIENTS_MAX; i++)
		h->clients[i].fd = -1;
	pthread_mutex_init(&h->lst_lock, NULL);
	h->m = m;
	h->e = e;
	h->snap = calloc(1, sizeof(*h->snap));
	h->body_cap = 64 * 1024;
	h->body = malloc(h->body_cap);
	if (!h->snap || !h->body) {
		httpd_free(h);
		return NULL;
	}
	return h;
}

int httpd_set_listeners(struct httpd *h, const struct listener_cfg *listeners,
			unsigned int n_listeners)
{
	struct listener_cfg *copy = NULL, *old;

	if (n_listeners > CFG_LISTENERS_MAX)
		n_listeners = CFG_LISTENERS_MAX;
	if (n_listeners) {
		copy = calloc(n_listeners, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, listeners, n_listeners * sizeof(*copy));
	}
	pthread_mutex_lock(&h->lst_lock);
	old = h->listeners;
	h->listeners = copy;
	h->n_listeners = n_listeners;
	pthread_mutex_unlock(&h->lst_lock);
	free(old);
	return 0;
}

int httpd_start(const struct endpoint *ep, struct metrics *m, struct ebpf *e,
		const struct listener_cfg *listeners, unsigned int n_listeners, struct httpd **out)
{
	struct httpd *h = httpd_new(m, e);
	int ret;

	ret = h ? httpd_set_listeners(h, listeners, n_listeners) : -ENOMEM;
	if (ret < 0) {
		log_error("metrics endpoint %s: out of memory", ep->text);
		goto out_free;
	}
	ret = listen_on(h, ep);
	if (ret < 0)
		goto out_free;
	ret = setup_loop(h);
	if (ret < 0)
		goto out_log;
	ret = start_thread(h);
	if (ret < 0)
		goto out_log;
	log_info("metrics endpoint: http://%s/metrics", h->addr);
	*out = h;
	return 0;

out_log:
	log_error("metrics endpoint %s: cannot start: %s", h->addr, strerror(-ret));
out_free:
	httpd_free(h);
	return ret;
}

const char *httpd_addr(const struct httpd *h)
{
	return h->addr;
}

void httpd_stop(struct httpd *h)
{
	uint64_t one = 1;

	if (!h)
		return;
	if (write(h->stopfd, &one, sizeof(one)) != sizeof(one))
		log_warn("metrics endpoint: stop: %s", strerror(errno));	/* cannot happen */
	pthread_join(h->thread, NULL);
	httpd_free(h);
}
