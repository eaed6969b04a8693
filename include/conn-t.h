/* SPDX-License-Identifier: MIT */
/* One proxied connection: the client side, the upstream side, the splice
 * legs of the kernel payload path, every op that can be in flight, and the
 * state machine that orders them. */
#ifndef KTLSGW_CONN_T_H
#define KTLSGW_CONN_T_H

#include <stdbool.h>
#include <stdint.h>

#include "config-t.h"
#include "ktls-t.h"
#include "loop-t.h"
#include "tls-t.h"
#include "tlsrec-t.h"

struct ssl_st;
struct worker;
struct lsock;

enum conn_state {
	CONN_ST_FREE = 0,
	CONN_ST_HANDSHAKE,	/* client TLS handshake (or sniffing its first bytes) */
	CONN_ST_CONNECT_UP,	/* upstream connect in flight */
	CONN_ST_UP_HANDSHAKE,	/* internal TLS: handshake with the upstream */
	CONN_ST_RELAY_SPLICE,	/* payload in the kernel: socket -> pipe -> socket */
	CONN_ST_RELAY_CTRL,	/* kTLS: a control record read through OpenSSL */
	CONN_ST_RELAY_USER,	/* payload through OpenSSL in userspace */
	CONN_ST_DRAIN,		/* last bytes out (400 answer, alert), then close */
	CONN_ST_CLOSING,	/* waiting for in-flight ops; then back to the pool */
	CONN_ST__COUNT
};

enum { SIDE_CLIENT = 0, SIDE_UPSTREAM = 1, SIDE__COUNT };

/* Op slots of a conn; op->idx says which side or leg. */
enum conn_slot {
	SLOT_RECV_C = 0,
	SLOT_RECV_U,
	SLOT_SEND_C,
	SLOT_SEND_U,
	SLOT_CONNECT,
	SLOT_POLL_IN_0,		/* leg 0: client -> upstream */
	SLOT_POLL_IN_1,		/* leg 1: upstream -> client */
	SLOT_POLL_OUT_0,
	SLOT_POLL_OUT_1,
	SLOT__COUNT
};

#define CONN_F_TLS_CLIENT (1u << 0)	/* client side speaks TLS */
#define CONN_F_TLS_UP (1u << 1)		/* internal TLS towards the upstream */
#define CONN_F_SNIFFED (1u << 2)	/* first bytes checked for plaintext HTTP */
#define CONN_F_COUNTED (1u << 3)	/* holds a slot in the connection limits */
#define CONN_F_SPLICE (1u << 4)		/* payload went through splice */
#define CONN_F_USER (1u << 5)		/* payload went through OpenSSL in userspace */
#define CONN_F_KTLS (1u << 6)		/* every TLS side offloaded to kTLS (offload.c) */
#define CONN_F_KTLS_WAIT (1u << 7)	/* offload waits for handshake bytes to be sent */

#define SIDE_F_FIN (1u << 3)		/* recv returned 0: the peer sent FIN */
#define SIDE_F_EOF (1u << 0)		/* payload from this side ended (FIN, close_notify) */
#define SIDE_F_SHUT_WANTED (1u << 1)	/* shut our write side once tx is empty */
#define SIDE_F_SHUT_DONE (1u << 2)	/* write side shut (FIN sent) */
#define SIDE_F_KTLS (1u << 4)		/* both directions in kernel TLS (set by offload.c) */
#define SIDE_F_REC (1u << 5)		/* records run by tlsrec.c (recside.c); the SSL is freed */

/* A linear byte buffer; [head, tail) holds data. It has memory (base) only
 * while it holds bytes or an op points into it: see bufpool.h. */
struct buf {
	unsigned char *base;	/* owned: a worker pool or ring buffer; NULL when none */
	uint32_t head, tail, cap;
};

struct bufpool;

struct side {
	int fd;			/* owned; -1 once closed */
	struct ssl_st *ssl;	/* owned; NULL on a plaintext side */
	struct buf rx;		/* bytes received, not yet consumed */
	struct buf tx;		/* bytes to send; [head, head+sending) is the kernel's */
	uint32_t sending;
	struct bufpool *pool;	/* borrowed: the worker's, where rx and tx come from */
	unsigned int flags;	/* SIDE_F_* */
	uint64_t bytes_in, bytes_out;	/* on the wire */
};

/* One direction of the splice path: src socket -> pipe -> dst socket. The
 * pipe comes from the worker's pool when data arrives and goes back once
 * empty, so an idle conn holds no pipe. */
struct leg {
	int pipe[2];		/* owned, from the worker's pool while bytes move; -1 when none */
	uint32_t in_pipe;	/* bytes spliced in, not yet out */
	bool eof;		/* src reached EOF */
	bool done;		/* EOF propagated: dst write side shut */
};

/* What the metrics hooks (gwmetrics.c) remember about a conn. */
struct conn_metrics {
	uint64_t t_accept_us;		/* monotonic clock at accept */
	uint64_t hs_us;			/* client handshake duration */
	unsigned int open_legs;		/* bit per side: counted opened, to count closed */
	bool hs_ended;			/* client handshake completed */
	bool hs_counted;		/* ... and counted, with its payload path */
};

struct conn {
	enum conn_state state;
	enum conn_state closed_in;	/* the state it left for CLOSING, for the access line */
	unsigned int flags;		/* CONN_F_* */
	unsigned int inflight;		/* SQEs still owed a CQE */
	uint64_t id;
	struct worker *w;		/* borrowed: the worker that owns the pool */
	struct lsock *ls;		/* borrowed: the worker's listener socket */
	const struct endpoint *up;	/* borrowed: the config */
	struct side side[SIDE__COUNT];
	struct leg leg[2];
	struct op ops[SLOT__COUNT];	/* user_data points here */
	uint64_t payload[SIDE__COUNT];	/* plaintext bytes delivered from each side */
	uint64_t t_start, t_last, deadline;	/* ms, worker clock */
	uint32_t hs_ms;			/* client handshake duration */
	int verify_err;			/* first X509 error seen in the client chain */
	int fail;			/* enum tls_fail of a refused handshake */
	const char *end;		/* borrowed: static text, why it ended */
	char peer[CFG_ADDR_TEXT_MAX];
	char alpn[CFG_ALPN_PROTO_MAX];
	struct ktls_track ktrk[SIDE__COUNT];	/* offload.c: keys seen by OpenSSL's callbacks */
	uint8_t ktls_why;		/* enum ktls_why: why the conn stayed in userspace */
	int8_t ktls_side;		/* the side that decided it, -1: the gateway */
	uint16_t ktls_ver[SIDE__COUNT];	/* TLS version of each offloaded side */
	const char *rec_why[SIDE__COUNT];	/* borrowed: static text, why a TLS side kept its SSL */
	struct tlsrec rec[SIDE__COUNT];	/* recside.c: a SIDE_F_REC side's record layer */
	struct tls_info tls;		/* the client session, kept when its SSL is freed */
	struct conn_metrics mx;		/* gwmetrics.c's */
	struct conn *prev, *next;	/* borrowed: worker's active or free list */
};

#endif
