/* SPDX-License-Identifier: MIT */
/* Lifetime of the gateway's observability: eBPF program + counters + the
 * /metrics endpoint, in the order the kernel and the workers need. */
#ifndef KTLSGW_OBSERVE_H
#define KTLSGW_OBSERVE_H

#include "common.h"
#include "config-t.h"
#include "observe-t.h"

/* Loads BPF per cfg->bpf (call it BEFORE any socket is created: the process
 * moves into the program's cgroup) and allocates the counters for
 * @n_workers. Returns 0 and fills @o (the caller owns it until
 * observe_stop), or -errno after logging why (gateway.bpf: on without BPF).
 * @cfg must outlive observe_stop(). */
__must_check int observe_start(const struct config *cfg, unsigned int n_workers,
			       struct observe *o);

/* With cfg->has_metrics, binds and starts the endpoint thread. Separate from
 * observe_start() so the privilege drop can run while the process still has
 * one thread. 0 or -errno after logging why (address taken). */
__must_check int observe_serve(const struct config *cfg, struct observe *o);

/* The main thread's shard (reload counters). */
struct metrics_counters *observe_main_shard(const struct observe *o);

/* Call after the workers are joined: stops the endpoint, detaches BPF
 * (removing its cgroup), frees the counters. Idempotent. */
void observe_stop(struct observe *o);

#endif
