/* SPDX-License-Identifier: MIT */
/* Lock-free per-worker counters for the data plane, the scrape-time sum, and
 * a pure renderer to Prometheus text exposition format 0.0.4. */
#ifndef KTLSGW_METRICS_H
#define KTLSGW_METRICS_H

#include "common.h"
#include "metrics-t.h"

/* Allocates n_workers + 1 zeroed shards (the last is the main thread's);
 * returns NULL on allocation failure. The caller owns the result. */
struct metrics *metrics_new(unsigned int n_workers);
void metrics_free(struct metrics *m);

/* The shard a worker (0..n_workers-1, or n_workers for the main thread)
 * writes. Only that thread may call the writers below on it. */
struct metrics_counters *metrics_shard(struct metrics *m, unsigned int idx);

/* Writers: one thread per shard, no locks. mode < TLS_MODE__COUNT and
 * lst < CFG_LISTENERS_MAX are invariants (BUG_ON). */
void metrics_conn_open(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
		       enum metrics_leg leg);
void metrics_conn_bytes(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			enum metrics_leg leg, uint64_t in, uint64_t out);
void metrics_conn_close(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			enum metrics_leg leg, const struct metrics_close_info *ci);
void metrics_handshake_done(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			    enum metrics_offload path, uint64_t duration_us);
void metrics_handshake_failed(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			      enum metrics_hs_fail reason);
void metrics_upstream_failed(struct metrics_counters *s, enum tls_mode mode, unsigned int lst);
void metrics_reload(struct metrics_counters *s, enum metrics_reload result);

/* Fills ci->srtt_us and ci->retrans from TCP_INFO of @fd (the fallback for
 * what the BPF program reads when it is off). Returns 0 or -errno. */
__must_check int metrics_tcp_info(int fd, struct metrics_close_info *ci);

/* Sums every shard into @out (overwritten) with relaxed atomic loads. */
void metrics_collect(const struct metrics *m, struct metrics_counters *out);

/* Renders @v as Prometheus text into @buf (always NUL-terminated when
 * len > 0). Returns the length the full text needs, excluding the NUL, like
 * snprintf: a result >= len means truncated. Pure: no I/O, no globals. */
size_t metrics_render(const struct metrics_view *v, char *buf, size_t len);

/* Reason label value for @r ("no_cert", ...). */
const char *metrics_hs_fail_name(enum metrics_hs_fail r);

/* Histogram upper bounds in microseconds (METRICS_HIST_NBOUNDS entries). */
extern const uint64_t metrics_rtt_bounds_us[METRICS_HIST_NBOUNDS];
extern const uint64_t metrics_hs_bounds_us[METRICS_HIST_NBOUNDS];

#endif
