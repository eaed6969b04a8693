/* SPDX-License-Identifier: MIT */
/* Counter types: one struct metrics_counters per worker (single writer, read
 * by the scraper with relaxed atomics), and the same struct as the summed
 * snapshot the Prometheus renderer reads. Every field is a uint64_t. */
#ifndef KTLSGW_METRICS_T_H
#define KTLSGW_METRICS_T_H

#include <stdbool.h>
#include <stdint.h>

#include "config-t.h"

#define METRICS_HIST_NBOUNDS 14
#define METRICS_HIST_SLOTS (METRICS_HIST_NBOUNDS + 1)	/* last = +Inf */

enum metrics_leg {
	METRICS_LEG_CLIENT = 0,		/* client <-> gateway: ciphertext (mode 1, 2) */
	METRICS_LEG_UPSTREAM,		/* gateway <-> Milvus: plaintext (or internal TLS) */
	METRICS_LEG__COUNT
};

enum metrics_offload {
	METRICS_OFFLOAD_USERSPACE = 0,
	METRICS_OFFLOAD_KTLS,
	METRICS_OFFLOAD__COUNT
};

/* Why a client handshake failed; label reason="..." (see metrics.c). */
enum metrics_hs_fail {
	METRICS_HS_NO_CERT = 0,		/* mode 2 client sent no certificate */
	METRICS_HS_UNKNOWN_CA,
	METRICS_HS_EXPIRED,
	METRICS_HS_WRONG_PURPOSE,	/* client cert without clientAuth */
	METRICS_HS_REVOKED,
	METRICS_HS_PROTOCOL_VERSION,
	METRICS_HS_NO_SHARED_CIPHER,
	METRICS_HS_TIMEOUT,
	METRICS_HS_PLAINTEXT_HTTP,	/* HTTP request on a TLS port */
	METRICS_HS_BAD_INPUT,		/* not TLS, truncated, reset */
	METRICS_HS_UPSTREAM_TLS,	/* internal TLS handshake with Milvus failed */
	METRICS_HS_OTHER,
	METRICS_HS__COUNT
};

enum metrics_reload {
	METRICS_RELOAD_OK = 0,
	METRICS_RELOAD_FAILED,
	METRICS_RELOAD__COUNT
};

/* Histogram: non-cumulative slot counts (the renderer accumulates); the
 * count is the sum of the slots. */
struct metrics_hist {
	uint64_t slot[METRICS_HIST_SLOTS];
	uint64_t sum_us;
};

/* One (tlsMode, listener, leg): fed by the kernel when BPF is on, by the
 * data plane's calls otherwise. */
struct metrics_conn {
	uint64_t opened;
	uint64_t closed;
	uint64_t bytes_in;		/* received from this leg's peer */
	uint64_t bytes_out;		/* sent to this leg's peer */
	uint64_t retrans;		/* TCP segments retransmitted */
	struct metrics_hist rtt;	/* smoothed RTT at close */
};

/* One (tlsMode, listener): what only userspace knows. */
struct metrics_tls {
	uint64_t handshakes[METRICS_OFFLOAD__COUNT];
	uint64_t failures[METRICS_HS__COUNT];
	uint64_t upstream_connect_failures;
	struct metrics_hist hs_duration;	/* successful client handshakes */
};

struct metrics_counters {
	struct metrics_conn conn[TLS_MODE__COUNT][CFG_LISTENERS_MAX][METRICS_LEG__COUNT];
	struct metrics_tls tls[TLS_MODE__COUNT][CFG_LISTENERS_MAX];
	uint64_t reloads[METRICS_RELOAD__COUNT];
};

/* Per-worker shards plus one for the main thread (reloads). */
struct metrics {
	unsigned int n_shards;
	struct metrics_counters *shards;	/* owned, n_shards entries */
};

/* What the data plane passes when a connection leg closes. */
struct metrics_close_info {
	uint64_t bytes_in, bytes_out;	/* not yet added with metrics_conn_bytes() */
	uint32_t srtt_us;		/* smoothed RTT; 0 = unknown (no sample) */
	uint32_t retrans;
};

/* Everything the renderer reads; the listeners say which label values exist. */
struct metrics_view {
	const struct metrics_counters *c;	/* borrowed: the caller's snapshot */
	const struct listener_cfg *listeners;	/* borrowed: the config */
	unsigned int n_listeners;
	bool bpf_enabled;			/* conn[] came from the kernel */
};

#endif
