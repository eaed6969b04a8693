/* SPDX-License-Identifier: MIT */
/* What the running gateway observes itself with: the counters, the eBPF
 * state (enabled or not) and the /metrics endpoint, started and stopped
 * together by observe.c. */
#ifndef KTLSGW_OBSERVE_T_H
#define KTLSGW_OBSERVE_T_H

struct metrics;
struct ebpf;
struct httpd;

struct observe {
	struct metrics *m;	/* owned: n_workers + 1 shards (the last is the main thread's) */
	struct ebpf *e;		/* owned: enabled or a disabled state, never NULL once started */
	struct httpd *h;	/* owned; NULL without gateway.metrics */
	unsigned int n_workers;
};

#endif
