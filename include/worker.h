/* SPDX-License-Identifier: MIT */
/* The gateway's threads: gateway_start() binds every listener once per
 * worker (SO_REUSEPORT), builds each worker's TLS contexts and starts the
 * threads; gateway_stop() wakes them through their eventfds and joins. */
#ifndef KTLSGW_WORKER_H
#define KTLSGW_WORKER_H

#include "common.h"
#include "worker-t.h"

/* Starts the gateway for @cfg (borrowed: must outlive the gateway). @obs
 * (borrowed, may be NULL: no metrics) gives each worker its counter shard
 * and the BPF state to tag sockets with. Returns a new gateway or NULL after
 * logging why (bind failure, bad TLS files). */
struct gateway *gateway_start(const struct config *cfg, const struct observe *obs);

/* gateway_start() in two steps, so the process can drop privileges while it
 * still has one thread: gateway_bind() binds every listener and builds the
 * contexts (NULL after logging why); gateway_run() starts the worker
 * threads (on failure it stops and frees @gw and returns -errno). */
struct gateway *gateway_bind(const struct config *cfg, const struct observe *obs);
__must_check int gateway_run(struct gateway *gw);

/* Stops and joins every worker, closes every conn and socket, frees @gw.
 * Returns 0, or -EIO when a worker ended on an error. NULL is a no-op. */
int gateway_stop(struct gateway *gw);

/* Workers the gateway runs for @cfg: cfg->workers or the online cores. */
unsigned int gateway_n_workers(const struct config *cfg);

/* True when a log line for @r may be written now; counts it. The first
 * line after a suppressed stretch says how many were dropped via @dropped. */
bool worker_rl_allow(struct worker *w, enum rl_reason r, unsigned int *dropped);

/* CQE handlers of worker-level ops. */
int worker_on_wake(struct op *op, int res, unsigned int cqe_flags);
int worker_on_tick(struct op *op, int res, unsigned int cqe_flags);

#endif
