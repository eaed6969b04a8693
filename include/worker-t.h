/* SPDX-License-Identifier: MIT */
/* A worker thread and what it owns: its ring, its listening sockets, its
 * conn pool and buffer pool; and the gateway that holds the workers and the
 * connection counters they share (atomics, no locks). */
#ifndef KTLSGW_WORKER_T_H
#define KTLSGW_WORKER_T_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bufpool-t.h"
#include "config-t.h"
#include "conn-t.h"
#include "loop-t.h"

struct ssl_ctx_st;
struct tickets;
struct tlsset;
struct metrics_counters;
struct observe;
struct gateway;
struct worker;

/* Log lines that bad input can cause, rate-limited per worker and reason. */
enum rl_reason {
	RL_HANDSHAKE = 0,	/* refused or failed TLS handshake */
	RL_PLAIN_HTTP,		/* plaintext HTTP on a TLS port */
	RL_TIMEOUT,		/* handshake, connect or idle timeout */
	RL_UPSTREAM,		/* upstream connect failure */
	RL_LIMIT,		/* over maxConnections */
	RL_RESET,		/* peer reset mid-stream */
	RL__COUNT
};

#define RL_PER_SEC 10		/* lines per reason per second per worker */

struct ratelimit {
	uint64_t window;		/* second (ms / 1000) of the counts */
	unsigned int count[RL__COUNT];
	unsigned int dropped[RL__COUNT];	/* suppressed in earlier windows */
};

/* One listener as one worker runs it. */
struct lsock {
	struct op accept_op;
	int fd;					/* owned; -1 when closed */
	unsigned int idx;			/* index in cfg->listeners */
	bool rearm;				/* accept failed: re-arm on the next tick */
	const struct listener_cfg *cfg;		/* borrowed: the config */
	struct ssl_ctx_st *ctx;			/* owned: server ctx, NULL in mode 0 */
	struct ssl_ctx_st *up_ctx;		/* owned: internal TLS client ctx or NULL */
	struct worker *w;			/* borrowed */
};

/* Idle, empty pipes for splice legs: a leg holds a pipe only while bytes
 * move through it (splice.c). */
#define PIPEPOOL_MAX 64

struct pipepool {
	int fds[PIPEPOOL_MAX][2];	/* owned: [0, n) are empty pipes */
	unsigned int n;
	unsigned int n_low;		/* fewest idle since the last trim */
	unsigned int n_conns;		/* conns on the splice path: the pool never holds more */
};

struct conn_pool {
	struct conn *free;	/* owned: linked through conn->next */
	void **chunks;		/* owned: every chunk allocated */
	unsigned int n_chunks, n_free, n_total;
};

struct worker {
	unsigned int id;
	struct gateway *gw;		/* borrowed */
	const struct config *cfg;	/* borrowed: the gateway's */
	struct loop loop;
	pthread_t thread;
	bool started, stopping;
	bool tick_due;			/* deadline scan after this batch */
	int wake_fd;			/* owned: eventfd, written to stop */
	uint64_t wake_val;		/* OP_WAKE reads here */
	struct op wake_op, tick_op;
	struct loop_ts tick_ts;
	struct lsock *ls;		/* owned: n_ls entries */
	unsigned int n_ls;
	struct conn_pool pool;
	struct bufpool bufs;
	struct pipepool pipes;
	struct conn *active;		/* borrowed from the pool: conns in use */
	unsigned int n_active;
	uint64_t next_id;
	uint64_t tick_id, trim_id;	/* next_id at the last tick, at the last heap trim */
	uint64_t trim_ms;		/* when the last heap trim ran */
	struct ratelimit rl;
	struct metrics_counters *mx;	/* borrowed: gw->obs's shard; NULL = no metrics */
	_Atomic(struct tlsset *) tls_next;	/* owned: contexts a reload hands over (reload.c) */
	bool draining;			/* listeners closed, open conns finishing (drain.c) */
	uint64_t drain_at;		/* ms: close what is left with close_notify */
	atomic_bool exited;		/* worker_main returned */
	int exit_code;
	unsigned char scratch[16384];	/* plaintext between two TLS sides */
};

enum { GW_PHASE_RUN = 0, GW_PHASE_DRAIN, GW_PHASE_STOP };

struct gateway {
	const struct config *cfg;	/* borrowed: the caller's */
	unsigned int n_workers;
	struct worker *workers;		/* owned */
	atomic_uint n_conns;		/* open client conns, all workers */
	atomic_uint *lst_conns;		/* owned: per listener */
	atomic_ullong n_accepted;	/* for tests and stats */
	atomic_ullong n_closed;
	bool ktls;			/* offload.c: kernel TLS usable, offload after handshakes */
	unsigned int ktls_ciphers;	/* bit per enum ktls_cipher the kernel takes both ways */
	bool track_keys;		/* offload.c: capture session keys (kTLS or tlsrec) */
	const char *ktls_off;		/* static: why not (for the access log), NULL when usable */
	const struct observe *obs;	/* borrowed: the caller's; NULL = no metrics */
	struct tickets *tickets;	/* owned: ticket keys of every server ctx, all reloads */
	atomic_int phase;		/* GW_PHASE_*: what a wake-up asks the workers */
};

#endif
