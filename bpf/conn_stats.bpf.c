// SPDX-License-Identifier: GPL-2.0 OR MIT
/* Connection metrics for the sockets of ktlsgw's cgroup, per (tlsMode,
 * listener, leg): opened/closed, bytes each way, retransmits and smoothed RTT.
 * The gateway tags each socket with setsockopt(CS_SOL, CS_OPT_TAG); figures
 * come from the kernel's own tcp_sock counters, read by sock_ops callbacks
 * (on each ACK with an RTT sample, and at close) and published as
 * differences. No per-packet program: see docs/metrics.md for the cost. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "conn_stats.h"

#define EINVAL 22
#define EEXIST 17
#define ENOTCONN 107

/* Not in libbpf 1.1's helper list; the id comes from <linux/bpf.h>. */
static long (*set_retval)(int retval) = (void *)BPF_FUNC_set_retval;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct cs_sock);
} cs_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CS_KEYS);
	__type(key, __u32);
	__type(value, struct cs_counters);
} cs_stats SEC(".maps");

/* Atomic even per CPU: a softirq sock_ops run (another socket, same key)
 * may interrupt a process-context run on the same CPU. */
static __always_inline void add(__u64 *p, __u64 v)
{
	if (v)
		__sync_fetch_and_add(p, v);
}

static __always_inline __u32 rtt_slot(__u32 us)
{
	const __u32 bounds[CS_RTT_NBOUNDS] = CS_RTT_BOUNDS_US;
	__u32 i;

	for (i = 0; i < CS_RTT_NBOUNDS; i++)
		if (us <= bounds[i])
			return i;
	return CS_RTT_NBOUNDS;
}

/* The kernel's bytes_received and bytes_acked count sequence space, where
 * a FIN takes one number, and so does the SYN of an active open once the
 * SYN-ACK acknowledged it: remove them so only payload bytes remain. */
struct tcp_now {
	__u64 in, out;
	__u32 retrans, snd_una, snd_nxt;
};

/* Adds what the socket's counters gained since the last call. A value may
 * dip by the FIN's one byte for a moment (a FIN seen before TCP processed
 * it; ours queued but not sent): never publish a decrease. */
static __always_inline struct cs_counters *publish(struct cs_sock *s, struct tcp_now *t)
{
	__u32 key = s->key;
	struct cs_counters *c = bpf_map_lookup_elem(&cs_stats, &key);

	if (!c)
		return 0;
	if ((s->flags & CS_F_FIN_IN) && t->in)
		t->in--;
	if ((s->flags & CS_F_ACTIVE) && t->out)
		t->out--;
	if ((s->flags & CS_F_FIN_OUT) && t->snd_una == t->snd_nxt && t->out)
		t->out--;
	if (t->in > s->bytes_in) {
		add(&c->bytes_in, t->in - s->bytes_in);
		s->bytes_in = t->in;
	}
	if (t->out > s->bytes_out) {
		add(&c->bytes_out, t->out - s->bytes_out);
		s->bytes_out = t->out;
	}
	if ((__s32)(t->retrans - s->retrans) > 0) {
		add(&c->retrans, t->retrans - s->retrans);
		s->retrans = t->retrans;
	}
	return c;
}

static __always_inline struct cs_counters *publish_ops(struct cs_sock *s,
						       struct bpf_sock_ops *ops)
{
	struct tcp_now t = {
		.in = ops->bytes_received, .out = ops->bytes_acked,
		.retrans = ops->total_retrans, .snd_una = ops->snd_una, .snd_nxt = ops->snd_nxt,
	};

	return publish(s, &t);
}

static __always_inline void on_established(struct bpf_sock_ops *ops, __u32 active)
{
	struct bpf_sock *sk = ops->sk;
	struct cs_sock *s;

	if (!sk)
		return;
	/* Callbacks can only be enabled from sock_ops, and the tag comes later
	 * (after accept/connect): arm every socket, count only tagged ones. */
	bpf_sock_ops_cb_flags_set(ops, BPF_SOCK_OPS_STATE_CB_FLAG | BPF_SOCK_OPS_RTT_CB_FLAG);
	s = bpf_sk_storage_get(&cs_socks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (s)
		s->flags |= CS_F_ARMED | active;
}

static __always_inline struct cs_sock *tagged(struct bpf_sock *sk)
{
	struct cs_sock *s;

	if (!sk)
		return 0;
	s = bpf_sk_storage_get(&cs_socks, sk, 0, 0);
	if (!s || !(s->flags & CS_F_TAGGED))
		return 0;
	return s;
}

static __always_inline void on_close(struct bpf_sock_ops *ops)
{
	struct cs_sock *s = tagged(ops->sk);
	struct cs_counters *c;
	__u32 us, slot;

	if (!s)
		goto out_delete;
	c = publish_ops(s, ops);
	if (!c)
		goto out_delete;
	us = ops->srtt_us >> 3;
	slot = rtt_slot(us);
	if (slot >= CS_RTT_SLOTS)
		slot = CS_RTT_SLOTS - 1;
	add(&c->closed, 1);
	add(&c->rtt_sum_us, us);
	add(&c->rtt[slot], 1);
out_delete:
	if (ops->sk)
		bpf_sk_storage_delete(&cs_socks, ops->sk);
}

/* Tracks the FINs that bytes_received and bytes_acked count. */
static __always_inline void on_state(struct bpf_sock_ops *ops, __u32 state)
{
	struct cs_sock *s;

	if (state == BPF_TCP_CLOSE) {
		on_close(ops);
		return;
	}
	/* Not tagged() only: a client's FIN can arrive before accept returns
	 * and the socket is tagged (data + FIN at once); keep it for later. */
	s = ops->sk ? bpf_sk_storage_get(&cs_socks, ops->sk, 0, 0) : 0;
	if (!s)
		return;
	switch (state) {
	case BPF_TCP_CLOSE_WAIT:	/* FIN in while established */
	case BPF_TCP_CLOSING:		/* FIN in after ours */
		s->flags |= CS_F_FIN_IN;
		break;
	case BPF_TCP_LAST_ACK:		/* tcp_close_state() queues our FIN next */
		s->flags |= CS_F_FIN_OUT;
		break;
	case BPF_TCP_FIN_WAIT1:
		/* A FIN arriving in FIN_WAIT1/2 may end the socket without a state
		 * we see (straight to TIME_WAIT): look at the last few packets. */
		s->flags |= CS_F_FIN_OUT;
		bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags |
						       BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG);
		break;
	}
}

SEC("sockops")
int cs_sockops(struct bpf_sock_ops *ops)
{
	struct cs_sock *s;

	switch (ops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		on_established(ops, CS_F_ACTIVE);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(ops, 0);
		break;
	case BPF_SOCK_OPS_RTT_CB:	/* after an ACK moved bytes_acked */
		s = tagged(ops->sk);
		if (s)
			publish_ops(s, ops);
		break;
	case BPF_SOCK_OPS_STATE_CB:	/* args: old state, new state */
		on_state(ops, ops->args[1]);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:	/* each packet, once we sent our FIN */
		s = tagged(ops->sk);
		if (s && (ops->skb_tcp_flags & 0x01))	/* FIN */
			s->flags |= CS_F_FIN_IN;
		break;
	}
	return 1;
}

static __always_inline int tag_error(struct bpf_sockopt *ctx, int err)
{
	set_retval(-err);
	return 0;
}

/* setsockopt(fd, CS_SOL, CS_OPT_TAG, &tag, sizeof(tag)): tags the socket and
 * counts it opened. Runs under the socket lock, like the close callback, so
 * a socket is either still open here (and its close will be counted) or
 * refused with ENOTCONN. */
SEC("cgroup/setsockopt")
int cs_tag(struct bpf_sockopt *ctx)
{
	struct cs_tag *t = ctx->optval;
	struct bpf_sock *sk = ctx->sk;
	struct cs_counters *c;
	struct cs_sock *s;
	__u32 key;

	if (ctx->level != CS_SOL)
		return 1;
	ctx->optlen = -1;	/* handled here: the kernel skips its own handler */
	if (ctx->optname != CS_OPT_TAG || (void *)(t + 1) > ctx->optval_end || !sk)
		return tag_error(ctx, EINVAL);
	if (t->tls_mode >= CS_MODES || t->leg >= CS_LEGS || t->listener >= CS_LISTENERS)
		return tag_error(ctx, EINVAL);
	s = bpf_sk_storage_get(&cs_socks, sk, 0, 0);
	if (!s || !(s->flags & CS_F_ARMED) || sk->state == BPF_TCP_CLOSE)
		return tag_error(ctx, ENOTCONN);
	if (s->flags & CS_F_TAGGED)
		return tag_error(ctx, EEXIST);
	key = ((__u32)t->tls_mode * CS_LISTENERS + t->listener) * CS_LEGS + t->leg;
	c = bpf_map_lookup_elem(&cs_stats, &key);
	if (!c)
		return tag_error(ctx, EINVAL);
	s->key = key;
	s->flags |= CS_F_TAGGED;
	add(&c->opened, 1);
	return 1;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
