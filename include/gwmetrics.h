/* SPDX-License-Identifier: MIT */
/* The data plane's metrics hooks: one call per event of a conn's life,
 * mapping it to the per-worker counters (metrics.c) and the kernel tags
 * (ebpf.c). Every hook is a no-op for a worker without metrics. */
#ifndef KTLSGW_GWMETRICS_H
#define KTLSGW_GWMETRICS_H

#include "conn-t.h"

/* Side @s of @c is connected (client: accepted; upstream: connect done):
 * tags the socket for the BPF program and counts the leg opened. */
void gwmetrics_leg_open(struct conn *c, int s);

/* The client handshake completed: remembers its duration. */
void gwmetrics_handshake_end(struct conn *c);

/* The payload path is chosen: counts the client handshake by path, kTLS
 * when the client side has SIDE_F_KTLS (set by the kTLS offload). */
void gwmetrics_relay_start(struct conn *c);

/* Before the sockets close: each opened leg closes with its wire bytes and
 * TCP_INFO; a handshake or upstream connect that never completed counts as
 * failed, with its reason. */
void gwmetrics_conn_end(struct conn *c);

#endif
