/* SPDX-License-Identifier: MIT */
/* Shared between bpf/conn_stats.bpf.c and src/ebpf.c: the socket tag the
 * gateway sets with setsockopt(CS_SOL, CS_OPT_TAG), the per-socket state kept
 * in sk_storage, and the per-(tlsMode, listener, leg) counters. */
#ifndef KTLSGW_CONN_STATS_H
#define KTLSGW_CONN_STATS_H

#include <linux/types.h>

/* Private socket option level intercepted by the cgroup/setsockopt program;
 * the kernel never sees it ("ktls" in ASCII, far from any SOL_* value). */
#define CS_SOL 0x6b746c73
#define CS_OPT_TAG 1

#define CS_MODES 3		/* Milvus tlsMode 0, 1, 2 */
#define CS_LISTENERS 64		/* = CFG_LISTENERS_MAX */
#define CS_LEGS 2		/* 0 = client (ciphertext), 1 = upstream (plaintext) */
#define CS_KEYS (CS_MODES * CS_LISTENERS * CS_LEGS)

/* Smoothed-RTT histogram upper bounds in microseconds; one more slot for
 * +Inf. src/metrics.c renders the same bounds (checked by test_ebpf). */
#define CS_RTT_BOUNDS_US                                                        \
	{ 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,     \
	  250000, 500000, 1000000 }
#define CS_RTT_NBOUNDS 14
#define CS_RTT_SLOTS (CS_RTT_NBOUNDS + 1)

/* What the gateway passes as the option value. */
struct cs_tag {
	__u8 tls_mode;		/* < CS_MODES */
	__u8 leg;		/* < CS_LEGS */
	__u16 listener;		/* < CS_LISTENERS */
};

#define CS_F_ARMED 1u		/* state callbacks enabled at ESTABLISHED */
#define CS_F_TAGGED 2u		/* counted as opened; close will count it */
#define CS_F_FIN_OUT 4u		/* our FIN is queued (FIN_WAIT1 or LAST_ACK) */
#define CS_F_ACTIVE 8u		/* we sent the SYN: bytes_acked counts it */
#define CS_F_FIN_IN 16u		/* the peer's FIN arrived: bytes_received counts it */

/* sk_storage value: one per TCP socket of the cgroup. The snapshot fields
 * hold what has already been added to cs_stats, so each update adds only
 * the difference. Every writer (sock_ops, setsockopt) runs under the socket
 * lock. */
struct cs_sock {
	__u32 flags;		/* CS_F_* */
	__u32 key;		/* index into cs_stats */
	__u64 bytes_in;		/* payload bytes received, already published */
	__u64 bytes_out;	/* payload bytes acknowledged, already published */
	__u32 retrans;		/* total_retrans already published */
	__u32 pad;
};

/* cs_stats value (per CPU; userspace sums the CPUs). */
struct cs_counters {
	__u64 opened;
	__u64 closed;
	__u64 bytes_in;		/* received from this leg's peer */
	__u64 bytes_out;	/* sent to this leg's peer and acknowledged */
	__u64 retrans;		/* segments retransmitted */
	__u64 rtt_sum_us;	/* sum of smoothed RTTs at close */
	__u64 rtt[CS_RTT_SLOTS];	/* non-cumulative; count = sum of slots */
};

#endif
