/* SPDX-License-Identifier: MIT */
/* loadgen's shared types: options, per-thread counters, per-connection state.
 * loadgen.c parses and reports, lgtls.c owns the OpenSSL client context,
 * workload.c runs one epoll loop per thread over its connections. */
#ifndef BENCH_LG_H
#define BENCH_LG_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "common.h"
#include "hist.h"

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

enum lg_workload {
	WL_BULK_UP = 0,
	WL_BULK_DOWN,
	WL_RR,
	WL_CONNECT,
	WL_RESUME,
	WL_IDLE,
	WL__COUNT
};

/* Phases the main thread steps through; workers poll it between events. */
enum lg_phase {
	PH_WARM = 0,	/* connecting, warming up: counters are thrown away */
	PH_MEASURE,	/* counting */
	PH_STOP,	/* finish: close everything and return */
	PH__COUNT
};

#define LG_MAX_PIDS 16

struct lg_opts {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *target;		/* borrowed: argv */
	enum lg_workload wl;
	unsigned int conns;
	unsigned int threads;
	double secs;			/* measured window */
	double warmup;			/* after every connection is up */
	size_t req, resp;		/* rr sizes in bytes */
	unsigned char *req_buf;		/* owned: request payload, req bytes */
	int tls;			/* 0 plain TCP, 1 TLS */
	int tls_ver;			/* 0 any, 12 or 13 */
	int insecure;			/* 1: no server verification (never in make bench) */
	const char *ca, *name, *cert, *key;	/* borrowed: argv */
	const char *ciphers, *ciphersuites, *groups;	/* borrowed: argv */
	pid_t pids[LG_MAX_PIDS];	/* processes whose CPU and RSS are sampled */
	unsigned int npids;
	int quiet;
};

struct lg_stats {
	uint64_t bytes_up, bytes_down;	/* application bytes */
	uint64_t reqs;			/* rr exchanges completed */
	uint64_t handshakes;		/* TLS handshakes (or TCP connects) completed */
	uint64_t resumed;		/* of which resumed */
	uint64_t errors;
	struct hist lat;		/* ns: rr round trip; connect+rr for connect/resume */
};

enum lg_cstate {
	CS_CLOSED = 0,
	CS_CONNECTING,
	CS_HANDSHAKE,
	CS_SEND,
	CS_RECV,
	CS_STREAM,	/* bulk and idle */
	CS__COUNT
};

struct lg_thread;

struct lg_conn {
	enum lg_cstate state;
	int fd;				/* owned; -1 when closed */
	unsigned int events;		/* epoll interest now registered */
	int counted;			/* already counted as established once */
	size_t done;			/* bytes of this request sent / reply read */
	uint64_t t0;			/* ns: start of this request (or connect) */
	struct ssl_st *ssl;		/* owned */
	struct ssl_session_st *sess;	/* owned: newest ticket, for resume */
	struct lg_thread *th;		/* borrowed: owner */
};

struct lg_thread {
	pthread_t tid;
	int ep;				/* owned epoll fd */
	unsigned int nconns;
	struct lg_conn *conns;		/* owned array */
	enum lg_phase seen;		/* last phase this thread acted on */
	struct lg_stats st;
	const struct lg_opts *o;	/* borrowed: main */
	struct ssl_ctx_st *ctx;		/* borrowed: main (NULL for plain TCP) */
};

/* Shared between main and workers, written with __atomic builtins. */
extern int lg_phase;
extern unsigned int lg_established;
extern unsigned int lg_failures;	/* connection failures so far, all threads */
extern char lg_proto[32], lg_cipher[64];

/* workload.c */
/* Once, before any thread starts. */
void lg_workload_init(void);
const char *lg_workload_name(enum lg_workload wl);
int lg_workload_parse(const char *s);	/* enum value or -EINVAL */
uint64_t lg_now_ns(void);
/* Thread body: runs th->conns until lg_phase is PH_STOP. Returns NULL. */
void *lg_thread_run(void *th);

/* lgtls.c */
/* A client context per the options; NULL after printing why. Caller frees. */
struct ssl_ctx_st *lgtls_ctx_new(const struct lg_opts *o);
void lgtls_ctx_free(struct ssl_ctx_st *ctx);
/* A client SSL on @fd for conn @c (resuming c->sess if set); NULL on failure. */
struct ssl_st *lgtls_new(struct ssl_ctx_st *ctx, const struct lg_opts *o, struct lg_conn *c);
void lgtls_free(struct lg_conn *c);
/* Drops the slot's saved session (end of run). */
void lgtls_forget(struct lg_conn *c);
/* One step: 0 done, -EAGAIN with *want set to EPOLLIN/EPOLLOUT, -EPROTO/-EPIPE on failure. */
int lgtls_handshake(struct lg_conn *c, unsigned int *want);
/* Like read()/write(): bytes moved, -EAGAIN with *want set, 0 on EOF, or -errno. */
long lgtls_read(struct lg_conn *c, void *buf, size_t n, unsigned int *want);
long lgtls_write(struct lg_conn *c, const void *buf, size_t n, unsigned int *want);
/* Records protocol and cipher once per run, and whether the session was resumed. */
void lgtls_note(struct lg_conn *c);
int lgtls_is_resumed(const struct lg_conn *c);
/* Sends close_notify without waiting for the peer's. */
void lgtls_shutdown(struct lg_conn *c);
/* Prints and clears the OpenSSL error queue after @what. */
void lgtls_errors(const char *what);

/* procstat.c */
struct proc_sample {
	uint64_t cpu_ticks;	/* utime + stime, summed over the pids */
	uint64_t rss_kb;	/* VmRSS, summed */
	int ok;
};
/* Fills @s with the summed CPU ticks and RSS of @pids; s->ok is 0 if any is gone
 * (or none was given). Reads /proc only, allocates nothing. */
void proc_sample(const pid_t *pids, unsigned int n, struct proc_sample *s);
/* Clock ticks per second of the cpu_ticks field (sysconf(_SC_CLK_TCK)). */
long proc_ticks_per_s(void);

#endif
