/* SPDX-License-Identifier: MIT */
/* A blocking HTTP/1.1 GET over plain TCP with one deadline for connect,
 * request and answer: enough to read a metrics endpoint, nothing more (no
 * TLS, no redirects, no chunked bodies: the request says Connection: close). */
#include "httpget.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTPGET_BODY_MAX (64u << 20)

static void target_text(struct http_target *t)
{
	bool v6 = strchr(t->host, ':');

	snprintf(t->text, sizeof(t->text), "%s%s%s:%s", v6 ? "[" : "", t->host, v6 ? "]" : "",
		 t->port);
}

/* Splits "HOST[:PORT]" off @h; returns where the path starts, or NULL. */
static const char *split_host(const char *h, struct http_target *t)
{
	const char *hend, *p;
	size_t n;

	if (*h == '[') {
		hend = strchr(++h, ']');
		p = hend ? hend + 1 : NULL;
	} else {
		hend = h + strcspn(h, ":/");
		p = hend;
	}
	n = hend ? (size_t)(hend - h) : 0;
	if (!p || !n || n >= sizeof(t->host) || (*p && *p != ':' && *p != '/'))
		return NULL;
	memcpy(t->host, h, n);
	t->host[n] = '\0';
	if (*p != ':') {
		snprintf(t->port, sizeof(t->port), "80");
		return p;
	}
	n = strspn(++p, "0123456789");
	if (n < 1 || n > 5 || (p[n] && p[n] != '/') || atoi(p) < 1 || atoi(p) > 65535)
		return NULL;
	snprintf(t->port, sizeof(t->port), "%d", atoi(p));
	return p + n;
}

int httpget_parse_url(const char *url, struct http_target *t)
{
	const char *p;

	if (strncmp(url, "http://", 7))
		return -EINVAL;
	p = split_host(url + 7, t);
	if (!p)
		return -EINVAL;
	snprintf(t->path, sizeof(t->path), "%s", *p ? p : "/metrics");
	target_text(t);
	return 0;
}

void httpget_target_of(const struct endpoint *ep, struct http_target *t)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ep->addr;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ep->addr;
	struct in_addr lo = { .s_addr = htonl(INADDR_LOOPBACK) };

	if (ep->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6,
			  IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) ? &in6addr_loopback : &s6->sin6_addr,
			  t->host, sizeof(t->host));
		snprintf(t->port, sizeof(t->port), "%u", ntohs(s6->sin6_port));
	} else {
		inet_ntop(AF_INET, s4->sin_addr.s_addr == htonl(INADDR_ANY) ? &lo : &s4->sin_addr,
			  t->host, sizeof(t->host));
		snprintf(t->port, sizeof(t->port), "%u", ntohs(s4->sin_port));
	}
	snprintf(t->path, sizeof(t->path), "/metrics");
	target_text(t);
}

static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	struct timespec ts;
	int64_t now;
	int n;

	do {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)(deadline_ms - now));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n ? 0 : -ETIMEDOUT;
}

static int64_t deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
}

static int connect_ai(const struct addrinfo *ai, int64_t deadline)
{
	socklen_t sl = sizeof(int);
	int fd, err = 0, ret;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	ret = errno == EINPROGRESS ? wait_fd(fd, POLLOUT, deadline) : -errno;
	if (!ret && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
		err = errno;
	if (!ret && !err)
		return fd;
	close(fd);
	return ret ? ret : -err;
}

/* Tries each address of the host; returns a connected fd or -errno. */
static int connect_to(const struct http_target *t, int64_t deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	int fd = -EHOSTUNREACH;

	if (getaddrinfo(t->host, t->port, &hints, &res))
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = connect_ai(ai, deadline);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t w;
	int ret;

	while (len) {
		w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (w < 0) {
			ret = wait_fd(fd, POLLOUT, deadline);
			if (ret < 0)
				return ret;
			continue;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads to EOF into a malloc'ed, NUL-terminated *out (the caller frees). */
static int recv_all(int fd, char **out, size_t *len, int64_t deadline)
{
	size_t cap = 64 * 1024, n = 0;
	char *buf = malloc(cap), *nb;
	ssize_t r;
	int ret = 0;

	while (buf && !ret) {
		if (n + 1 == cap) {
			nb = cap < HTTPGET_BODY_MAX ? realloc(buf, cap * 2) : NULL;
			ret = nb ? 0 : cap < HTTPGET_BODY_MAX ? -ENOMEM : -EFBIG;
			buf = nb ? nb : buf;
			cap *= nb ? 2 : 1;
			continue;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r == 0)
			break;
		if (r > 0)
			n += (size_t)r;
		else if (errno == EAGAIN)
			ret = wait_fd(fd, POLLIN, deadline);
		else if (errno != EINTR)
			ret = -errno;
	}
	if (!buf)
		return -ENOMEM;
	if (ret < 0) {
		free(buf);
		return ret;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Status line and head: fills r->status, r->body, r->body_len. A
 * Content-Length shorter than what came caps the body. */
static int parse_answer(struct http_reply *r)
{
	const char *end = strstr(r->buf, "\r\n\r\n"), *cl;
	unsigned long long n;

	if (r->len < 12 || strncmp(r->buf, "HTTP/1.", 7) || !end ||
	    sscanf(r->buf + 8, " %3d", &r->status) != 1)
		return -EBADMSG;
	r->body = end + 4;
	r->body_len = r->len - (size_t)(r->body - r->buf);
	cl = strcasestr(r->buf, "\r\nContent-Length:");
	if (cl && cl < end) {
		n = strtoull(cl + 17, NULL, 10);
		if (n < r->body_len)
			r->body_len = (size_t)n;
	}
	return 0;
}

static int exchange(int fd, const struct http_target *t, int64_t deadline, struct http_reply *r)
{
	char req[1024];
	int n, ret;

	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ktlsgw/" KTLSGW_VERSION
		     "\r\nAccept: text/plain\r\nConnection: close\r\n\r\n", t->path, t->text);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -ENAMETOOLONG;
	ret = send_all(fd, req, (size_t)n, deadline);
	if (ret < 0)
		return ret;
	return recv_all(fd, &r->buf, &r->len, deadline);
}

int httpget(const struct http_target *t, int timeout_ms, struct http_reply *r)
{
	int64_t deadline = deadline_in(timeout_ms);
	int fd, ret;

	memset(r, 0, sizeof(*r));
	r->failed_at = "connect";
	fd = connect_to(t, deadline);
	if (fd < 0)
		return fd;
	r->failed_at = "exchange";
	ret = exchange(fd, t, deadline, r);
	close(fd);
	if (ret < 0)
		return ret;
	r->failed_at = "answer";
	ret = parse_answer(r);
	if (ret < 0) {
		httpget_reply_free(r);
		r->failed_at = "answer";
		return ret;
	}
	r->failed_at = NULL;
	return 0;
}

void httpget_reply_free(struct http_reply *r)
{
	free(r->buf);
	r->buf = NULL;
	r->body = NULL;
	r->len = r->body_len = 0;
}
