/* SPDX-License-Identifier: MIT */
/* upstream: the plaintext server behind every proxy in the benchmark. One
 * epoll thread, any number of listeners, each in one mode: sink (read and
 * drop), source (write as fast as the socket takes), rr (for every --req
 * bytes read, send --resp bytes). Prints "READY mode:port..." when up. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

enum up_mode {
	UP_SINK = 0,
	UP_SOURCE,
	UP_RR,
	UP__COUNT
};

#define MAX_LISTENERS 8

struct up_conn {
	int fd;			/* owned */
	int listener;		/* 1 for a listening socket */
	enum up_mode mode;
	unsigned int events;	/* epoll interest registered */
	size_t got;		/* rr: bytes of the current request read */
	size_t owed;		/* rr: reply bytes still to send */
};

static const char *const mode_names[UP__COUNT] = { "sink", "source", "rr" };
static size_t req_size = 3100, resp_size = 1500;
static unsigned char outbuf[65536], inbuf[65536];
static int ep = -1;
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static __must_check int arm(struct up_conn *c, unsigned int ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (ev == c->events)
		return 0;
	if (epoll_ctl(ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) < 0)
		return -errno;
	c->events = ev;
	return 0;
}

static void conn_free(struct up_conn *c)
{
	close(c->fd);
	free(c);
}

/* Writes what is owed (rr) or as much as fits (source); arms EPOLLOUT if blocked. */
static __must_check int flush(struct up_conn *c)
{
	size_t n;
	ssize_t w;

	while (c->mode == UP_SOURCE || c->owed) {
		n = c->mode == UP_SOURCE ? sizeof(outbuf) : c->owed;
		if (n > sizeof(outbuf))
			n = sizeof(outbuf);
		w = send(c->fd, outbuf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			return arm(c, EPOLLIN | EPOLLOUT);
		if (w < 0)
			return -errno;
		if (c->mode == UP_RR)
			c->owed -= (size_t)w;
	}
	return arm(c, EPOLLIN);
}

/* Reads what is there: 0, or -ECONNRESET at EOF so the caller closes. */
static __must_check int drain(struct up_conn *c)
{
	ssize_t r;

	for (;;) {
		r = read(c->fd, inbuf, sizeof(inbuf));
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (c->mode != UP_RR)
			continue;
		c->got += (size_t)r;
		while (c->got >= req_size) {
			c->got -= req_size;
			c->owed += resp_size;
		}
	}
}

static __must_check int on_accept(struct up_conn *l)
{
	struct up_conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return errno == EAGAIN || errno == ECONNABORTED ? 0 : -errno;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return -ENOMEM;
		}
		*c = (struct up_conn){ .fd = fd, .mode = l->mode };
		if ((c->mode == UP_SOURCE ? flush(c) : arm(c, EPOLLIN)) < 0)
			conn_free(c);
	}
}

static void on_event(struct up_conn *c, unsigned int ev)
{
	int ret = 0;

	if (c->listener) {
		ret = on_accept(c);
		if (ret < 0)
			fprintf(stderr, "upstream: accept: %s\n", strerror(-ret));
		return;
	}
	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ret = drain(c);
	if (ret == 0 && (ev & EPOLLOUT || c->owed))
		ret = flush(c);
	if (ret < 0)
		conn_free(c);
}

/* "mode:port" or "mode:addr:port" -> a listening socket; prints the bound port. */
static __must_check int add_listener(const char *spec, const char *bind_addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct up_conn *l;
	const char *colon = strchr(spec, ':');
	int m, one = 1;

	for (m = 0; m < UP__COUNT; m++)
		if (colon && strlen(mode_names[m]) == (size_t)(colon - spec) &&
		    !strncmp(spec, mode_names[m], (size_t)(colon - spec)))
			break;
	if (m == UP__COUNT || inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((unsigned short)atoi(colon + 1));
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = (struct up_conn){ .listener = 1, .mode = (enum up_mode)m };
	l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(l->fd, 65535) ||
	    getsockname(l->fd, (struct sockaddr *)&sa, &len) || arm(l, EPOLLIN)) {
		fprintf(stderr, "upstream: %s: %s\n", spec, strerror(errno));
		conn_free(l);
		return -EADDRINUSE;
	}
	printf(" %s:%u", mode_names[m], ntohs(sa.sin_port));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: upstream -l MODE:PORT [-l MODE:PORT]... [--req N] [--resp N]\n"
		   "                [--bind ADDR] [--cpu N]\n"
		   "  MODE: sink | source | rr; PORT 0 picks a free port (printed in READY)\n");
}

static __must_check int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static const struct option longopts[] = {
	{ "listen", required_argument, NULL, 'l' }, { "req", required_argument, NULL, 'q' },
	{ "resp", required_argument, NULL, 'r' },   { "bind", required_argument, NULL, 'b' },
	{ "cpu", required_argument, NULL, 'p' },    { "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void loop(void)
{
	struct epoll_event evs[256];
	int n, i;

	while (!stopping) {
		n = epoll_wait(ep, evs, ARRAY_SIZE(evs), 200);
		for (i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
	}
}

int main(int argc, char **argv)
{
	const char *specs[MAX_LISTENERS], *bind_addr = "127.0.0.1";
	int ch, nspec = 0, cpu = -1, i;

	while ((ch = getopt_long(argc, argv, "l:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			if (nspec == MAX_LISTENERS)
				return 2;
			specs[nspec++] = optarg;
			break;
		case 'q': req_size = (size_t)atol(optarg); break;
		case 'r': resp_size = (size_t)atol(optarg); break;
		case 'b': bind_addr = optarg; break;
		case 'p': cpu = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!nspec || !req_size || !resp_size || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cpu >= 0 && pin(cpu) < 0)
		fprintf(stderr, "upstream: cannot pin to CPU %d\n", cpu);
	memset(outbuf, 'r', sizeof(outbuf));
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	printf("READY");
	for (i = 0; i < nspec; i++)
		if (ep < 0 || add_listener(specs[i], bind_addr) < 0)
			return 1;
	printf("\n");
	fflush(stdout);
	loop();
	return 0;
}
