/* SPDX-License-Identifier: MIT */
/* Connection lifecycle: the per-worker pool, the state machine and its
 * allowed[][] table, the failure funnel, the one branch between the kernel
 * (splice) and userspace (OpenSSL) payload paths, and the access line. */
#include "conn.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufpool.h"
#include "gwmetrics.h"
#include "listener.h"
#include "loop.h"
#include "offload.h"
#include "recside.h"
#include "relay.h"
#include "splice.h"
#include "tls.h"
#include "upstream.h"
#include "worker.h"

#define POOL_CHUNK 64		/* conns allocated at once when the pool is empty */
#define DRAIN_MS 1000		/* at most this long to flush a last answer */

static const char *const state_names[CONN_ST__COUNT] = {
	[CONN_ST_FREE] = "FREE",
	[CONN_ST_HANDSHAKE] = "HANDSHAKE",
	[CONN_ST_CONNECT_UP] = "CONNECT_UP",
	[CONN_ST_UP_HANDSHAKE] = "UP_HANDSHAKE",
	[CONN_ST_RELAY_SPLICE] = "RELAY_SPLICE",
	[CONN_ST_RELAY_CTRL] = "RELAY_CTRL",
	[CONN_ST_RELAY_USER] = "RELAY_USER",
	[CONN_ST_DRAIN] = "DRAIN",
	[CONN_ST_CLOSING] = "CLOSING",
};

#define A(s) [CONN_ST_##s] = true
static const bool allowed[CONN_ST__COUNT][CONN_ST__COUNT] = {
	[CONN_ST_FREE] = { A(HANDSHAKE), A(CONNECT_UP), A(CLOSING) },
	[CONN_ST_HANDSHAKE] = { A(CONNECT_UP), A(DRAIN), A(CLOSING) },
	[CONN_ST_CONNECT_UP] = { A(UP_HANDSHAKE), A(RELAY_SPLICE), A(RELAY_USER), A(CLOSING) },
	[CONN_ST_UP_HANDSHAKE] = { A(RELAY_SPLICE), A(RELAY_USER), A(CLOSING) },
	[CONN_ST_RELAY_SPLICE] = { A(RELAY_CTRL), A(DRAIN), A(CLOSING) },
	[CONN_ST_RELAY_CTRL] = { A(RELAY_SPLICE), A(DRAIN), A(CLOSING) },
	[CONN_ST_RELAY_USER] = { A(DRAIN), A(CLOSING) },
	[CONN_ST_DRAIN] = { A(CLOSING) },
	[CONN_ST_CLOSING] = { A(FREE) },
};
#undef A

const char *conn_state_name(enum conn_state s)
{
	return (unsigned int)s < CONN_ST__COUNT ? state_names[s] : "?";
}

bool conn_is_allowed(enum conn_state from, enum conn_state to)
{
	if ((unsigned int)from >= CONN_ST__COUNT || (unsigned int)to >= CONN_ST__COUNT)
		return false;
	return allowed[from][to];
}

void conn_set_state(struct conn *c, enum conn_state to)
{
	BUG_ON(!conn_is_allowed(c->state, to));
	log_debug("w=%u conn=%llu state %s -> %s", c->w->id, (unsigned long long)c->id,
		  conn_state_name(c->state), conn_state_name(to));
	c->state = to;
}

void conn_log(const struct conn *c, enum log_level lvl, const char *fmt, ...)
{
	char text[768];
	va_list ap;

	if (lvl > log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(lvl, "w=%u conn=%llu peer=%s lst=%s %s", c->w->id, (unsigned long long)c->id,
		c->peer, c->ls->cfg->name, text);
}

void conn_log_rl(struct conn *c, enum rl_reason r, enum log_level lvl, const char *fmt, ...)
{
	unsigned int dropped = 0;
	char text[768];
	va_list ap;

	if (lvl > log_get_level() || !worker_rl_allow(c->w, r, &dropped))
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (dropped)
		conn_log(c, lvl, "%s (%u similar lines suppressed)", text, dropped);
	else
		conn_log(c, lvl, "%s", text);
}

/* ---- pool ---- */

static int pool_grow(struct worker *w)
{
	struct conn_pool *p = &w->pool;
	struct conn *chunk;
	void **chunks;
	unsigned int i;

	chunks = realloc(p->chunks, (p->n_chunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	p->chunks = chunks;
	chunk = calloc(POOL_CHUNK, sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	p->chunks[p->n_chunks++] = chunk;
	for (i = 0; i < POOL_CHUNK; i++) {
		chunk[i].next = p->free;
		p->free = &chunk[i];
	}
	p->n_free += POOL_CHUNK;
	p->n_total += POOL_CHUNK;
	return 0;
}

static void conn_init(struct conn *c, struct worker *w)
{
	unsigned int i;

	memset(c, 0, sizeof(*c));
	c->w = w;
	c->id = ++w->next_id;
	for (i = 0; i < SIDE__COUNT; i++) {
		c->side[i].fd = -1;
		c->side[i].pool = &w->bufs;
	}
	for (i = 0; i < 2; i++)
		c->leg[i].pipe[0] = c->leg[i].pipe[1] = -1;
	for (i = 0; i < SLOT__COUNT; i++)
		c->ops[i].conn = c;
	c->ops[SLOT_RECV_C] = (struct op){ OP_RECV, SIDE_CLIENT, false, c };
	c->ops[SLOT_RECV_U] = (struct op){ OP_RECV, SIDE_UPSTREAM, false, c };
	c->ops[SLOT_SEND_C] = (struct op){ OP_SEND, SIDE_CLIENT, false, c };
	c->ops[SLOT_SEND_U] = (struct op){ OP_SEND, SIDE_UPSTREAM, false, c };
	c->ops[SLOT_CONNECT] = (struct op){ OP_CONNECT, 0, false, c };
	for (i = 0; i < 2; i++) {
		c->ops[SLOT_POLL_IN_0 + i] = (struct op){ OP_POLL, (uint8_t)i, false, c };
		c->ops[SLOT_POLL_OUT_0 + i] = (struct op){ OP_POLL, (uint8_t)i, false, c };
	}
	c->t_start = c->t_last = loop_clock_ms();
}

struct conn *conn_get(struct worker *w)
{
	struct conn *c;

	if (!w->pool.free && pool_grow(w) < 0)
		return NULL;
	c = w->pool.free;
	w->pool.free = c->next;
	w->pool.n_free--;
	conn_init(c, w);
	c->next = w->active;
	if (w->active)
		w->active->prev = c;
	w->active = c;
	w->n_active++;
	return c;
}

static void unlink_active(struct conn *c)
{
	struct worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->active = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_active--;
	c->prev = NULL;
	c->next = w->pool.free;
	w->pool.free = c;
	w->pool.n_free++;
}

/* ---- access line ---- */

/* "records" when every TLS side ran on tlsrec.c, "userspace" when one
 * stayed on OpenSSL (rec= says why). */
static const char *conn_path(const struct conn *c)
{
	if (c->flags & CONN_F_KTLS)
		return "ktls";
	if (c->flags & CONN_F_SPLICE)
		return "splice";
	if (!(c->flags & CONN_F_USER))
		return "-";
	return c->rec_why[SIDE_CLIENT] || c->rec_why[SIDE_UPSTREAM] ? "userspace" : "records";
}

/* The access line's " rec=..." field: the side tlsrec refused, and why. */
static void describe_rec(const struct conn *c, char *buf, size_t len)
{
	int s = c->rec_why[SIDE_CLIENT] ? SIDE_CLIENT : SIDE_UPSTREAM;

	buf[0] = 0;
	if (c->rec_why[s])
		snprintf(buf, len, " rec=\"%s: %s\"", s == SIDE_CLIENT ? "client" : "upstream",
			 c->rec_why[s]);
}

static void access_log(const struct conn *c)
{
	struct tls_info ti = { "-", "-", "" };
	uint64_t dur = loop_clock_ms() - c->t_start;
	char kt[96], rw[96];

	if (!c->w->cfg->access_log)
		return;
	offload_describe(c, kt, sizeof(kt));
	describe_rec(c, rw, sizeof(rw));
	if (c->side[SIDE_CLIENT].ssl)
		tls_info(c, SIDE_CLIENT, &ti);
	else if (recside_is_rec(c, SIDE_CLIENT))
		ti = c->tls;
	conn_log(c, LOG_INFO,
		 "access up=%s c2u=%llu u2c=%llu client_wire=%llu/%llu dur_ms=%llu hs_ms=%u tls=%s "
		 "cipher=%s alpn=%s subject=\"%s\" path=%s%s%s state=%s end=\"%s\"",
		 c->up ? c->up->text : "-", (unsigned long long)c->payload[SIDE_CLIENT],
		 (unsigned long long)c->payload[SIDE_UPSTREAM],
		 (unsigned long long)c->side[SIDE_CLIENT].bytes_in,
		 (unsigned long long)c->side[SIDE_CLIENT].bytes_out, (unsigned long long)dur, c->hs_ms,
		 ti.version, ti.cipher, c->alpn[0] ? c->alpn : "-", ti.subject,
		 conn_path(c), kt, rw, conn_state_name(c->closed_in),
		 c->end ? c->end : "-");
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void conn_release(struct conn *c)
{
	unsigned int i;

	access_log(c);
	gwmetrics_conn_end(c);	/* needs the fds open: TCP_INFO */
	offload_release(c);
	recside_release(c);
	for (i = 0; i < SIDE__COUNT; i++) {
		tls_detach(c, (int)i);
		close_fd(&c->side[i].fd);
	}
	splice_release(c);
	relay_release_buffers(c);
	listener_uncount(c);
	conn_set_state(c, CONN_ST_FREE);
	atomic_fetch_add(&c->w->gw->n_closed, 1);
	unlink_active(c);
}

void conn_put_if_done(struct conn *c)
{
	if (c->state == CONN_ST_CLOSING && c->inflight == 0)
		conn_release(c);
}

void conn_force_release(struct conn *c)
{
	unsigned int i;

	for (i = 0; i < SLOT__COUNT; i++)
		c->ops[i].armed = false;
	c->inflight = 0;
	if (c->state != CONN_ST_CLOSING) {
		c->closed_in = c->state;
		conn_set_state(c, CONN_ST_CLOSING);
	}
	conn_release(c);
}

/* ---- ending ---- */

static void begin_close(struct conn *c)
{
	unsigned int i;
	int ret = 0;

	c->closed_in = c->state;
	conn_set_state(c, CONN_ST_CLOSING);
	for (i = 0; i < SLOT__COUNT; i++)
		ret |= loop_cancel(&c->w->loop, &c->ops[i]);
	if (!ret)
		return;
	/* No SQE for a cancel: shutting the sockets ends their ops anyway. */
	for (i = 0; i < SIDE__COUNT; i++)
		if (c->side[i].fd >= 0)
			shutdown(c->side[i].fd, SHUT_RDWR);
}

static const char *err_text(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return "timeout";
	case -ECONNRESET:
		return "connection reset";
	case -EPIPE:
		return "broken pipe";
	case -EPROTO:
		return "TLS error";
	case -ENOMEM:
		return "out of memory";
	default:
		return "I/O error";
	}
}

void conn_fail(struct conn *c, int err)
{
	if (c->state == CONN_ST_CLOSING || c->state == CONN_ST_FREE)
		return;
	if (!c->end) {
		c->end = err_text(err);
		conn_log_rl(c, RL_RESET, LOG_INFO, "closed in %s: %s (%s)",
			    conn_state_name(c->state), c->end, strerror(-err));
	}
	begin_close(c);
}

void conn_close(struct conn *c, const char *why)
{
	if (c->state == CONN_ST_CLOSING)
		return;
	if (!c->end)
		c->end = why;
	begin_close(c);
}

/* ---- steps ---- */

int conn_client_ready(struct conn *c)
{
	const struct config *cfg = c->w->cfg;

	if (c->side[SIDE_CLIENT].ssl) {
		tls_alpn(c, SIDE_CLIENT, c->alpn, sizeof(c->alpn));
		c->hs_ms = (uint32_t)(loop_clock_ms() - c->t_start);
		gwmetrics_handshake_end(c);
	}
	c->up = upstream_pick(c->ls->cfg, c->alpn);
	conn_log(c, LOG_DEBUG, "client ready (alpn=%s): connecting to %s",
		 c->alpn[0] ? c->alpn : "-", c->up->text);
	conn_set_state(c, CONN_ST_CONNECT_UP);
	c->deadline = cfg->connect_timeout_ms ? loop_clock_ms() + cfg->connect_timeout_ms : 0;
	return upstream_connect(c);
}

/* A side whose payload the kernel can move: plaintext, or TLS with both
 * directions offloaded to kTLS. */
static bool side_is_kernel(const struct side *s)
{
	return (!s->ssl && !(s->flags & SIDE_F_REC)) || (s->flags & SIDE_F_KTLS);
}

/* The one branch between payload paths: splice when no side needs OpenSSL
 * for its payload (mode 0 without internal TLS; kTLS-offloaded sides). */
static bool conn_is_kernel_path(const struct conn *c)
{
	return side_is_kernel(&c->side[SIDE_CLIENT]) && side_is_kernel(&c->side[SIDE_UPSTREAM]);
}

int conn_start_relay(struct conn *c)
{
	int ret;

	ret = offload_try(c);
	if (ret == -EAGAIN)
		return 0;	/* handshake bytes still going out: conn_step() retries */
	if (ret < 0)
		return ret;
	c->deadline = 0;
	c->t_last = c->w->loop.now_ms;
	if (conn_is_kernel_path(c)) {
		relay_drop_idle(c);
		conn_set_state(c, CONN_ST_RELAY_SPLICE);
		c->flags |= CONN_F_SPLICE;
		gwmetrics_relay_start(c);
		return splice_start(c);
	}
	/* kTLS refused or absent: the records run in userspace, on tlsrec.c
	 * where it takes the keys (the SSL is freed), else on OpenSSL */
	recside_takeover(c);
	conn_set_state(c, CONN_ST_RELAY_USER);
	c->flags |= CONN_F_USER;
	gwmetrics_relay_start(c);
	return relay_pump(c);
}

/* DRAIN: sends what both txs hold, then closes. */
static int step_drain(struct conn *c)
{
	int ret = relay_flush(c, SIDE_CLIENT);

	if (ret >= 0)
		ret = relay_flush(c, SIDE_UPSTREAM);
	if (ret < 0)
		return ret;
	if (relay_is_tx_empty(c, SIDE_CLIENT) && relay_is_tx_empty(c, SIDE_UPSTREAM))
		conn_close(c, c->end);
	return 0;
}

int conn_drain(struct conn *c)
{
	conn_set_state(c, CONN_ST_DRAIN);
	c->deadline = loop_clock_ms() + DRAIN_MS;
	return step_drain(c);
}

static int answer_plain_http(struct conn *c)
{
	struct buf *tx = &c->side[SIDE_CLIENT].tx;
	size_t n = strlen(tls_http_400);

	conn_log_rl(c, RL_PLAIN_HTTP, LOG_WARN, "plaintext HTTP request on a TLS port: answered 400");
	c->end = "plaintext HTTP on a TLS port";
	if (bufpool_want(&c->w->bufs, tx) < 0)
		return -ENOMEM;
	memcpy(tx->base + tx->tail, tls_http_400, n);
	tx->tail += (uint32_t)n;
	return conn_drain(c);
}

/* Looks at the first bytes once: plaintext HTTP gets a 400. */
static int sniff_client(struct conn *c)
{
	struct side *s = &c->side[SIDE_CLIENT];
	/* rx has no buffer before the first bytes (or after a bare FIN) */
	enum tls_sniff k = s->rx.base ? tls_sniff(s->rx.base + s->rx.head, s->rx.tail - s->rx.head)
				      : SNIFF_MORE;

	if (k == SNIFF_MORE && !(s->flags & SIDE_F_FIN)) {
		int ret = relay_arm_recv(c, SIDE_CLIENT);

		return ret < 0 ? ret : -EAGAIN;
	}
	c->flags |= CONN_F_SNIFFED;
	if (k == SNIFF_HTTP)
		return answer_plain_http(c) < 0 ? -EIO : 1;
	return 0;
}

static int step_handshake(struct conn *c)
{
	int ret;

	if (!(c->flags & CONN_F_SNIFFED)) {
		ret = sniff_client(c);
		if (ret)
			return ret > 0 ? 0 : ret;
	}
	ret = tls_handshake_step(c, SIDE_CLIENT);
	if (ret == -EPROTO)
		return conn_drain(c);
	if (ret < 0)
		return ret;
	return conn_client_ready(c);
}

static int step_up_handshake(struct conn *c)
{
	int ret = tls_handshake_step(c, SIDE_UPSTREAM);

	if (ret < 0)
		return ret;
	return conn_start_relay(c);
}

int conn_step(struct conn *c)
{
	switch (c->state) {
	case CONN_ST_HANDSHAKE:
		return step_handshake(c);
	case CONN_ST_CONNECT_UP:
		return (c->flags & CONN_F_KTLS_WAIT) ? conn_start_relay(c) : 0;
	case CONN_ST_UP_HANDSHAKE:
		return step_up_handshake(c);
	case CONN_ST_RELAY_USER:
		return relay_pump(c);
	case CONN_ST_DRAIN:
		return step_drain(c);
	default:
		return 0;
	}
}

/* ---- deadlines ---- */

static const char *timeout_text(enum conn_state s)
{
	switch (s) {
	case CONN_ST_HANDSHAKE:
		return "handshake timeout";
	case CONN_ST_CONNECT_UP:
		return "upstream connect timeout";
	case CONN_ST_UP_HANDSHAKE:
		return "upstream handshake timeout";
	case CONN_ST_DRAIN:
		return "drain timeout";
	default:
		return "idle timeout";
	}
}

static bool conn_is_expired(const struct conn *c, uint64_t now)
{
	unsigned int idle = c->w->cfg->idle_timeout_ms;

	switch (c->state) {
	case CONN_ST_RELAY_SPLICE:
	case CONN_ST_RELAY_CTRL:
	case CONN_ST_RELAY_USER:
		return idle && now >= c->t_last + idle;
	case CONN_ST_CLOSING:
	case CONN_ST_FREE:
		return false;
	default:
		return c->deadline && now >= c->deadline;
	}
}

void conn_check_deadline(struct conn *c, uint64_t now)
{
	if (!conn_is_expired(c, now))
		return;
	c->end = timeout_text(c->state);
	conn_log_rl(c, RL_TIMEOUT, LOG_INFO, "closed: %s", c->end);
	begin_close(c);
	conn_put_if_done(c);
}
