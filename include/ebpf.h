/* SPDX-License-Identifier: MIT */
/* eBPF connection metrics: load and attach the program to a cgroup v2 that
 * holds the gateway, tag sockets, read the kernel's counters, detach. The
 * only module that sees libbpf and the generated skeleton. */
#ifndef KTLSGW_EBPF_H
#define KTLSGW_EBPF_H

#include "common.h"
#include "config-t.h"
#include "ebpf-t.h"
#include "metrics-t.h"

/* Loads the program and attaches it to @cgroup (a cgroup v2 directory), or
 * with @cgroup NULL to a new child of the process's own cgroup v2,
 * "ktlsgw-<pid>"; either way the process moves into it. Call it BEFORE
 * creating any socket: a socket belongs to the cgroup its creator was in.
 * FEAT_OFF: *out is a disabled state. FEAT_AUTO: on failure, logs the reason
 * once and *out is a disabled state (returns 0). FEAT_ON: on failure, logs
 * the reason and returns -errno. On success the caller owns *out. */
__must_check int ebpf_open(enum feature_mode mode, const char *cgroup, struct ebpf **out);

/* Detaches the programs, moves the process back to where it was and removes
 * the cgroup if ebpf_open created it. NULL is a no-op. */
void ebpf_close(struct ebpf *e);

bool ebpf_is_enabled(const struct ebpf *e);

/* Tags a connected TCP socket (after accept, or after connect completes)
 * so the kernel counts it under (mode, lst, leg), opened from now until
 * its close. A no-op returning 0 when disabled. Returns -ENOTCONN if the
 * socket is already closed or was established outside the cgroup, -EEXIST if
 * already tagged, -EINVAL for out-of-range values. Best effort for callers:
 * a failure loses this connection's kernel figures, nothing else. */
__must_check int ebpf_tag_socket(const struct ebpf *e, int fd, enum tls_mode mode,
				 unsigned int lst, enum metrics_leg leg);

/* Replaces c->conn[][l][] for l < n_listeners with the kernel's figures
 * (summed over CPUs). One caller at a time (uses a buffer in @e). Returns 0,
 * or -errno; -ENODEV when disabled. */
__must_check int ebpf_read(struct ebpf *e, unsigned int n_listeners, struct metrics_counters *c);

#endif
