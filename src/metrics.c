/* SPDX-License-Identifier: MIT */
/* Metrics: per-worker counter shards written without locks (one writer each,
 * relaxed atomic stores), summed at scrape time, and rendered as Prometheus
 * text exposition format 0.0.4 by a pure function. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/socket.h>

_Static_assert(sizeof(struct metrics_counters) % sizeof(uint64_t) == 0,
	       "metrics_counters must be made of uint64_t only");

const uint64_t metrics_rtt_bounds_us[METRICS_HIST_NBOUNDS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
};

const uint64_t metrics_hs_bounds_us[METRICS_HIST_NBOUNDS] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
	2500000, 10000000,
};

static const char *const hs_fail_names[METRICS_HS__COUNT] = {
	[METRICS_HS_NO_CERT] = "no_cert",
	[METRICS_HS_UNKNOWN_CA] = "unknown_ca",
	[METRICS_HS_EXPIRED] = "expired",
	[METRICS_HS_WRONG_PURPOSE] = "wrong_purpose",
	[METRICS_HS_REVOKED] = "revoked",
	[METRICS_HS_PROTOCOL_VERSION] = "protocol_version",
	[METRICS_HS_NO_SHARED_CIPHER] = "no_shared_cipher",
	[METRICS_HS_TIMEOUT] = "timeout",
	[METRICS_HS_PLAINTEXT_HTTP] = "plaintext_http",
	[METRICS_HS_BAD_INPUT] = "bad_input",
	[METRICS_HS_UPSTREAM_TLS] = "upstream_tls",
	[METRICS_HS_OTHER] = "other",
};

static const char *const leg_names[METRICS_LEG__COUNT] = { "client", "upstream" };
static const char *const offload_names[METRICS_OFFLOAD__COUNT] = { "userspace", "ktls" };
static const char *const reload_names[METRICS_RELOAD__COUNT] = { "ok", "failed" };

const char *metrics_hs_fail_name(enum metrics_hs_fail r)
{
	return (unsigned int)r < METRICS_HS__COUNT ? hs_fail_names[r] : "other";
}

/* ---- shards and writers ---- */

struct metrics *metrics_new(unsigned int n_workers)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->n_shards = n_workers + 1;
	/* One calloc: each shard is ~100 KiB, so only shard edges share lines. */
	m->shards = calloc(m->n_shards, sizeof(*m->shards));
	if (!m->shards) {
		free(m);
		return NULL;
	}
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	free(m->shards);
	free(m);
}

struct metrics_counters *metrics_shard(struct metrics *m, unsigned int idx)
{
	BUG_ON(idx >= m->n_shards);
	return &m->shards[idx];
}

/* Single writer: a plain load and a relaxed store, no locked instruction;
 * the scraper's relaxed loads never see a torn value. */
static inline void ctr_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static void hist_observe(struct metrics_hist *h, const uint64_t *bounds, uint64_t us)
{
	unsigned int i = 0;

	while (i < METRICS_HIST_NBOUNDS && us > bounds[i])
		i++;
	ctr_add(&h->slot[i], 1);
	ctr_add(&h->sum_us, us);
}

static struct metrics_conn *conn_of(struct metrics_counters *s, enum tls_mode mode,
				    unsigned int lst, enum metrics_leg leg)
{
	BUG_ON((unsigned int)mode >= TLS_MODE__COUNT || lst >= CFG_LISTENERS_MAX ||
	       (unsigned int)leg >= METRICS_LEG__COUNT);
	return &s->conn[mode][lst][leg];
}

static struct metrics_tls *tls_of(struct metrics_counters *s, enum tls_mode mode,
				  unsigned int lst)
{
	BUG_ON((unsigned int)mode >= TLS_MODE__COUNT || lst >= CFG_LISTENERS_MAX);
	return &s->tls[mode][lst];
}

void metrics_conn_open(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
		       enum metrics_leg leg)
{
	ctr_add(&conn_of(s, mode, lst, leg)->opened, 1);
}

void metrics_conn_bytes(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			enum metrics_leg leg, uint64_t in, uint64_t out)
{
	struct metrics_conn *c = conn_of(s, mode, lst, leg);

	ctr_add(&c->bytes_in, in);
	ctr_add(&c->bytes_out, out);
}

void metrics_conn_close(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			enum metrics_leg leg, const struct metrics_close_info *ci)
{
	struct metrics_conn *c = conn_of(s, mode, lst, leg);

	ctr_add(&c->bytes_in, ci->bytes_in);
	ctr_add(&c->bytes_out, ci->bytes_out);
	ctr_add(&c->retrans, ci->retrans);
	hist_observe(&c->rtt, metrics_rtt_bounds_us, ci->srtt_us);
	ctr_add(&c->closed, 1);
}

void metrics_handshake_done(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			    enum metrics_offload path, uint64_t duration_us)
{
	struct metrics_tls *t = tls_of(s, mode, lst);

	BUG_ON((unsigned int)path >= METRICS_OFFLOAD__COUNT);
	ctr_add(&t->handshakes[path], 1);
	hist_observe(&t->hs_duration, metrics_hs_bounds_us, duration_us);
}

void metrics_handshake_failed(struct metrics_counters *s, enum tls_mode mode, unsigned int lst,
			      enum metrics_hs_fail reason)
{
	if ((unsigned int)reason >= METRICS_HS__COUNT)
		reason = METRICS_HS_OTHER;
	ctr_add(&tls_of(s, mode, lst)->failures[reason], 1);
}

void metrics_upstream_failed(struct metrics_counters *s, enum tls_mode mode, unsigned int lst)
{
	ctr_add(&tls_of(s, mode, lst)->upstream_connect_failures, 1);
}

void metrics_reload(struct metrics_counters *s, enum metrics_reload result)
{
	BUG_ON((unsigned int)result >= METRICS_RELOAD__COUNT);
	ctr_add(&s->reloads[result], 1);
}

int metrics_tcp_info(int fd, struct metrics_close_info *ci)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return -errno;
	ci->srtt_us = ti.tcpi_rtt;
	ci->retrans = ti.tcpi_total_retrans;
	return 0;
}

void metrics_collect(const struct metrics *m, struct metrics_counters *out)
{
	size_t n = sizeof(*out) / sizeof(uint64_t), i;
	uint64_t *dst = (uint64_t *)out;
	unsigned int s;

	memset(out, 0, sizeof(*out));
	for (s = 0; s < m->n_shards; s++) {
		const uint64_t *src = (const uint64_t *)&m->shards[s];

		for (i = 0; i < n; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
}

/* ---- rendering ---- */

/* snprintf-like appender: counts what the full text needs even once @buf is
 * full, so the caller can retry with a bigger buffer. */
struct out {
	char *buf;
	size_t len, pos;
};

static __printf(2, 3) void put(struct out *o, const char *fmt, ...)
{
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}

static void put_family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label value escaping of the text format: backslash, quote, newline. */
static void escape_label(char *dst, size_t len, const char *src)
{
	size_t n = 0;

	for (; *src && n + 3 < len; src++) {
		if (*src == '\\' || *src == '"' || *src == '\n')
			dst[n++] = '\\';
		dst[n++] = *src == '\n' ? 'n' : *src;
	}
	dst[n] = '\0';
}

/* Microseconds as exact decimal seconds: 50 -> "0.00005", 2000000 -> "2". */
static void fmt_seconds(char *dst, size_t len, uint64_t us)
{
	size_t n;

	n = (size_t)snprintf(dst, len, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
	while (n > 0 && n < len && dst[n - 1] == '0')
		dst[--n] = '\0';
	if (n > 0 && n < len && dst[n - 1] == '.')
		dst[--n] = '\0';
}

static void put_hist(struct out *o, const char *name, const char *labels,
		     const struct metrics_hist *h, const uint64_t *bounds)
{
	uint64_t cum = 0;
	char num[32];
	unsigned int i;

	for (i = 0; i < METRICS_HIST_NBOUNDS; i++) {
		cum += h->slot[i];
		fmt_seconds(num, sizeof(num), bounds[i]);
		put(o, "%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n", name, labels, num, cum);
	}
	cum += h->slot[METRICS_HIST_NBOUNDS];
	put(o, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", name, labels, cum);
	fmt_seconds(num, sizeof(num), h->sum_us);
	put(o, "%s_sum{%s} %s\n", name, labels, num);
	put(o, "%s_count{%s} %" PRIu64 "\n", name, labels, cum);
}

static bool is_zero(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* A (mode, listener) pair is shown for the listener's configured mode, and
 * for another mode only once it has counts (a reload changed the mode). */
static bool series_is_shown(const struct metrics_view *v, unsigned int m, unsigned int l)
{
	if ((unsigned int)v->listeners[l].tls_mode == m)
		return true;
	return !is_zero(v->c->conn[m][l], sizeof(v->c->conn[m][l])) ||
	       !is_zero(&v->c->tls[m][l], sizeof(v->c->tls[m][l]));
}

/* Walks the shown (mode, listener) pairs with their label prefix. */
struct series {
	unsigned int m, l;
	char labels[2 * CFG_NAME_MAX + 48];
};

static bool series_next(const struct metrics_view *v, struct series *s, bool first)
{
	char name[2 * CFG_NAME_MAX + 1];
	unsigned int n = v->n_listeners < CFG_LISTENERS_MAX ? v->n_listeners : CFG_LISTENERS_MAX;
	unsigned int i = first ? 0 : s->l * TLS_MODE__COUNT + s->m + 1;

	for (; i < n * TLS_MODE__COUNT; i++) {
		s->l = i / TLS_MODE__COUNT;
		s->m = i % TLS_MODE__COUNT;
		if (!series_is_shown(v, s->m, s->l))
			continue;
		escape_label(name, sizeof(name), v->listeners[s->l].name);
		snprintf(s->labels, sizeof(s->labels), "tls_mode=\"%u\",listener=\"%s\"", s->m,
			 name);
		return true;
	}
	return false;
}

#define for_each_series(v, s) for (bool _f = series_next(v, s, true); _f; _f = series_next(v, s, false))

typedef uint64_t conn_get_fn(const struct metrics_conn *c);

static uint64_t get_opened(const struct metrics_conn *c)
{
	return c->opened;
}

static uint64_t get_closed(const struct metrics_conn *c)
{
	return c->closed;
}

/* Shards are summed field by field, so closed may run ahead for a moment. */
static uint64_t get_active(const struct metrics_conn *c)
{
	return c->opened > c->closed ? c->opened - c->closed : 0;
}

static uint64_t get_retrans(const struct metrics_conn *c)
{
	return c->retrans;
}

static const struct conn_family {
	const char *name, *type, *help;
	conn_get_fn *get;
} conn_families[] = {
	{ "ktlsgw_connections_total", "counter",
	  "TCP connections opened, per tlsMode, listener and leg (client or upstream).",
	  get_opened },
	{ "ktlsgw_connections_closed_total", "counter", "TCP connections closed.", get_closed },
	{ "ktlsgw_active_connections", "gauge", "TCP connections open now.", get_active },
	{ "ktlsgw_retransmits_total", "counter", "TCP segments retransmitted.", get_retrans },
};

static void render_conn_family(struct out *o, const struct metrics_view *v,
			       const struct conn_family *f)
{
	struct series s;
	unsigned int g;

	put_family(o, f->name, f->type, f->help);
	for_each_series(v, &s)
		for (g = 0; g < METRICS_LEG__COUNT; g++)
			put(o, "%s{%s,leg=\"%s\"} %" PRIu64 "\n", f->name, s.labels, leg_names[g],
			    f->get(&v->c->conn[s.m][s.l][g]));
}

/* The client leg receives what goes to the upstream; the upstream leg sends it. */
static void render_bytes(struct out *o, const struct metrics_view *v)
{
	static const char *const name = "ktlsgw_bytes_total";
	const struct metrics_conn *c, *u;
	struct series s;

	put_family(o, name, "counter",
		   "Payload bytes per direction and leg: ciphertext on the client leg in "
		   "modes 1 and 2, plaintext on the upstream leg.");
	for_each_series(v, &s) {
		c = &v->c->conn[s.m][s.l][METRICS_LEG_CLIENT];
		u = &v->c->conn[s.m][s.l][METRICS_LEG_UPSTREAM];
		put(o, "%s{%s,leg=\"client\",direction=\"client_to_upstream\"} %" PRIu64 "\n", name,
		    s.labels, c->bytes_in);
		put(o, "%s{%s,leg=\"client\",direction=\"upstream_to_client\"} %" PRIu64 "\n", name,
		    s.labels, c->bytes_out);
		put(o, "%s{%s,leg=\"upstream\",direction=\"client_to_upstream\"} %" PRIu64 "\n",
		    name, s.labels, u->bytes_out);
		put(o, "%s{%s,leg=\"upstream\",direction=\"upstream_to_client\"} %" PRIu64 "\n",
		    name, s.labels, u->bytes_in);
	}
}

static void render_rtt(struct out *o, const struct metrics_view *v)
{
	static const char *const name = "ktlsgw_rtt_seconds";
	char labels[sizeof(((struct series *)0)->labels) + 32];
	struct series s;
	unsigned int g;

	put_family(o, name, "histogram", "Smoothed TCP round-trip time of each connection at close.");
	for_each_series(v, &s)
		for (g = 0; g < METRICS_LEG__COUNT; g++) {
			snprintf(labels, sizeof(labels), "%s,leg=\"%s\"", s.labels, leg_names[g]);
			put_hist(o, name, labels, &v->c->conn[s.m][s.l][g].rtt,
				 metrics_rtt_bounds_us);
		}
}

static void render_handshakes(struct out *o, const struct metrics_view *v)
{
	static const char *const name = "ktlsgw_handshakes_total";
	struct series s;
	unsigned int p;

	put_family(o, name, "counter",
		   "Completed client TLS handshakes, by payload path after the handshake.");
	for_each_series(v, &s)
		for (p = 0; p < METRICS_OFFLOAD__COUNT; p++)
			put(o, "%s{%s,offload=\"%s\"} %" PRIu64 "\n", name, s.labels,
			    offload_names[p], v->c->tls[s.m][s.l].handshakes[p]);
}

static void render_failures(struct out *o, const struct metrics_view *v)
{
	static const char *const name = "ktlsgw_handshake_failures_total";
	struct series s;
	unsigned int r;

	put_family(o, name, "counter", "Failed or refused TLS handshakes, by reason.");
	for_each_series(v, &s)
		for (r = 0; r < METRICS_HS__COUNT; r++)
			put(o, "%s{%s,reason=\"%s\"} %" PRIu64 "\n", name, s.labels,
			    hs_fail_names[r], v->c->tls[s.m][s.l].failures[r]);
}

static void render_tls_misc(struct out *o, const struct metrics_view *v)
{
	static const char *const dur = "ktlsgw_handshake_duration_seconds";
	static const char *const up = "ktlsgw_upstream_connect_failures_total";
	struct series s;

	put_family(o, dur, "histogram", "Duration of successful client TLS handshakes.");
	for_each_series(v, &s)
		put_hist(o, dur, s.labels, &v->c->tls[s.m][s.l].hs_duration, metrics_hs_bounds_us);
	put_family(o, up, "counter", "Upstream (Milvus) connections that failed or timed out.");
	for_each_series(v, &s)
		put(o, "%s{%s} %" PRIu64 "\n", up, s.labels,
		    v->c->tls[s.m][s.l].upstream_connect_failures);
}

static void render_globals(struct out *o, const struct metrics_view *v)
{
	unsigned int r;

	put_family(o, "ktlsgw_bpf_enabled", "gauge",
		   "1 when connection figures come from the eBPF program, 0 when from userspace.");
	put(o, "ktlsgw_bpf_enabled %d\n", v->bpf_enabled ? 1 : 0);
	put_family(o, "ktlsgw_reloads_total", "counter", "Certificate and configuration reloads.");
	for (r = 0; r < METRICS_RELOAD__COUNT; r++)
		put(o, "ktlsgw_reloads_total{result=\"%s\"} %" PRIu64 "\n", reload_names[r],
		    v->c->reloads[r]);
}

size_t metrics_render(const struct metrics_view *v, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len, .pos = 0 };
	unsigned int i;

	if (len)
		buf[0] = '\0';
	render_globals(&o, v);
	for (i = 0; i < ARRAY_SIZE(conn_families); i++)
		render_conn_family(&o, v, &conn_families[i]);
	render_bytes(&o, v);
	render_rtt(&o, v);
	render_handshakes(&o, v);
	render_failures(&o, v);
	render_tls_misc(&o, v);
	return o.pos;
}
