/* SPDX-License-Identifier: MIT */
/* The Prometheus endpoint's state: one listening socket, a fixed table of
 * scraper connections, and the buffers its own thread renders into. */
#ifndef KTLSGW_HTTPD_T_H
#define KTLSGW_HTTPD_T_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config-t.h"
#include "metrics-t.h"

struct ebpf;

#define HTTPD_CLIENTS_MAX 64		/* concurrent scrapers; more are closed at once */
#define HTTPD_HEAD_MAX 8192		/* request line + headers */
#define HTTPD_TIMEOUT_MS 5000		/* to send the head, and to take the answer */

enum httpd_cstate {
	HTTPD_C_FREE = 0,
	HTTPD_C_READ,			/* reading the request head */
	HTTPD_C_WRITE,			/* sending what the socket did not take at once */
	HTTPD_C_LINGER,			/* answer sent, write side shut: wait for the peer's EOF */
	HTTPD_C__COUNT
};

struct httpd_client {
	enum httpd_cstate state;
	int fd;				/* owned; -1 when free */
	int64_t deadline_ms;		/* CLOCK_MONOTONIC; closed when passed */
	size_t in_len;
	char in[HTTPD_HEAD_MAX];
	char *out;			/* owned: unsent rest of the answer, or NULL */
	size_t out_len, out_pos;
};

struct httpd {
	int lfd;			/* owned: listening socket */
	int epfd;			/* owned */
	int stopfd;			/* owned: eventfd, written by httpd_stop() */
	pthread_t thread;
	char addr[CFG_ADDR_TEXT_MAX];	/* bound address, "host:port" (port 0 resolved) */
	int64_t accept_paused_until;	/* out of fds: accept again after this, ms */

	struct metrics *m;		/* borrowed: the gateway's counters */
	struct ebpf *e;			/* borrowed: NULL or the loaded program */

	pthread_mutex_t lst_lock;	/* guards the two fields below (reload vs scrape) */
	unsigned int n_listeners;
	struct listener_cfg *listeners;	/* owned copy: the config may be swapped */

	struct metrics_counters *snap;	/* owned: scrape-time sum */
	char *body;			/* owned: rendered text */
	size_t body_cap;
	unsigned long long scrapes;	/* answered GET/HEAD /metrics, for tests */
	bool bpf_read_logged;		/* an ebpf_read() failure was logged once */
	struct httpd_client clients[HTTPD_CLIENTS_MAX];
};

#endif
