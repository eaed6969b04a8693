/* SPDX-License-Identifier: MIT */
/* Certificate reload. The main thread loads the config again (config_load
 * checks every file: parse, key matches cert, chain, expiry), builds every
 * worker's contexts from the new TLS files, and hands each worker its set
 * through an atomic pointer; the worker swaps it in between CQE batches. */
#include "reload.h"

#include <errno.h>
#include <time.h>

#include "cert.h"
#include "config.h"
#include "diag.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "tickets.h"
#include "tls.h"

#define ADOPT_WAIT_MS 3000	/* workers take a set within a tick (100 ms) */

/* ---- contexts ---- */

int reload_ctx_build(const struct gateway *gw, const struct config *cfg,
		     const struct listener_cfg *lc, struct ssl_ctx_st **ctx, struct ssl_ctx_st **up)
{
	*ctx = NULL;
	*up = NULL;
	if (lc->tls_mode != TLS_MODE_PLAIN) {
		*ctx = tls_ctx_server(cfg, lc);
		if (!*ctx)
			return -EINVAL;
		/* After tls_ctx_server's setup: it sets the session lifetime. */
		if (gw->tickets && tickets_install(gw->tickets, *ctx) < 0)
			goto out_free;
	}
	if (lc->internal_tls && !(*up = tls_ctx_upstream(cfg)))
		goto out_free;
	if (offload_ctx_prepare(gw, *ctx) < 0 || offload_ctx_prepare(gw, *up) < 0)
		goto out_free;
	return 0;

out_free:
	tls_ctx_free(*up);
	*up = NULL;
	tls_ctx_free(*ctx);
	*ctx = NULL;
	return -EINVAL;
}

void reload_set_free(struct tlsset *s)
{
	unsigned int i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		tls_ctx_free(s->ctx[i]);
		tls_ctx_free(s->up_ctx[i]);
	}
	free(s->ctx);
	free(s->up_ctx);
	free(s);
}

/* Every listener's contexts for one worker: @files' TLS files, everything
 * else from @base (the running config). NULL after logging why. */
static struct tlsset *set_build(const struct gateway *gw, const struct config *base,
				const struct config *files)
{
	struct tlsset *s = calloc(1, sizeof(*s));
	struct config eff = *base;	/* borrowed copy: lives only while building */
	unsigned int i;

	if (!s)
		return NULL;
	s->ctx = calloc(base->n_listeners + 1, sizeof(*s->ctx));
	s->up_ctx = calloc(base->n_listeners + 1, sizeof(*s->up_ctx));
	if (!s->ctx || !s->up_ctx)
		goto out_free;
	eff.tls = files->tls;
	eff.internaltls = files->internaltls;
	for (i = 0; i < base->n_listeners; i++, s->n++)
		if (reload_ctx_build(gw, &eff, &base->listeners[i], &s->ctx[i], &s->up_ctx[i]) < 0)
			goto out_free;
	return s;

out_free:
	reload_set_free(s);
	return NULL;
}

void reload_adopt(struct worker *w)
{
	struct tlsset *s;
	struct ssl_ctx_st *old;
	unsigned int i;

	if (!atomic_load_explicit(&w->tls_next, memory_order_relaxed))
		return;
	s = atomic_exchange_explicit(&w->tls_next, NULL, memory_order_acq_rel);
	if (!s)
		return;
	for (i = 0; i < s->n && i < w->n_ls; i++) {
		old = w->ls[i].ctx;
		w->ls[i].ctx = s->ctx[i];
		s->ctx[i] = old;
		old = w->ls[i].up_ctx;
		w->ls[i].up_ctx = s->up_ctx[i];
		s->up_ctx[i] = old;
	}
	/* Conns already open hold their own SSL_CTX reference (SSL_new). */
	reload_set_free(s);
	log_debug("w=%u: new TLS contexts in use", w->id);
}

/* ---- main thread ---- */

void reload_init(struct reloader *r, struct gateway *gw, const struct config *base,
		 struct metrics_counters *mx)
{
	memset(r, 0, sizeof(*r));
	r->gw = gw;
	r->base = base;
	r->mx = mx;
}

void reload_fini(struct reloader *r)
{
	config_free(r->files);
	r->files = NULL;
}

const struct config *reload_files(const struct reloader *r)
{
	return r->files ? r->files : r->base;
}

static bool str_is_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool files_are_same(const struct tls_files *a, const struct tls_files *b)
{
	return str_is_same(a->server_pem, b->server_pem) &&
	       str_is_same(a->server_key, b->server_key) && str_is_same(a->ca_pem, b->ca_pem) &&
	       str_is_same(a->crl_pem, b->crl_pem);
}

static void note(char *buf, size_t len, const char *what)
{
	size_t n = strlen(buf);

	if (n + 2 < len)
		snprintf(buf + n, len - n, "%s%s", n ? ", " : "", what);
}

static bool alpn_is_same(const struct listener_cfg *a, const struct listener_cfg *b)
{
	unsigned int i;

	if (a->n_alpn != b->n_alpn)
		return false;
	for (i = 0; i < a->n_alpn && i < CFG_ALPN_MAX; i++)
		if (strcmp(a->alpn[i].proto, b->alpn[i].proto) ||
		    a->alpn[i].has_upstream != b->alpn[i].has_upstream ||
		    strcmp(a->alpn[i].upstream.text, b->alpn[i].upstream.text))
			return false;
	return true;
}

static void diff_listener(const struct listener_cfg *a, const struct listener_cfg *b, char *buf,
			  size_t len)
{
	char what[CFG_NAME_MAX + 40];

#define LDIFF(cond, key)                                                          \
	do {                                                                      \
		if (cond) {                                                       \
			snprintf(what, sizeof(what), "listener %s " key, a->name); \
			note(buf, len, what);                                     \
		}                                                                 \
	} while (0)
	LDIFF(strcmp(a->name, b->name), "name");
	LDIFF(strcmp(a->bind.text, b->bind.text), "bind");
	LDIFF(strcmp(a->upstream.text, b->upstream.text), "upstream");
	LDIFF(a->tls_mode != b->tls_mode, "tlsMode");
	LDIFF(a->min_version != b->min_version, "minVersion");
	LDIFF(a->internal_tls != b->internal_tls, "internalTLS");
	LDIFF(a->max_conns != b->max_conns, "maxConnections");
	LDIFF(!alpn_is_same(a, b), "alpn");
#undef LDIFF
}

/* Names in @buf every setting of @b that differs from the running @a and
 * that a reload does not apply (only TLS files are applied live). */
static void diff_static(const struct config *a, const struct config *b, char *buf, size_t len)
{
	unsigned int i;

	buf[0] = 0;
#define DIFF(cond, key)                   \
	do {                              \
		if (cond)                 \
			note(buf, len, key); \
	} while (0)
	DIFF(a->n_listeners != b->n_listeners, "gateway.listeners (count)");
	for (i = 0; i < a->n_listeners && i < b->n_listeners; i++)
		diff_listener(&a->listeners[i], &b->listeners[i], buf, len);
	DIFF(a->has_metrics != b->has_metrics || strcmp(a->metrics.text, b->metrics.text),
	     "gateway.metrics");
	DIFF(a->workers != b->workers, "gateway.workers");
	DIFF(a->ktls != b->ktls, "gateway.ktls");
	DIFF(a->bpf != b->bpf, "gateway.bpf");
	DIFF(a->handshake_timeout_ms != b->handshake_timeout_ms, "gateway.handshakeTimeout");
	DIFF(a->connect_timeout_ms != b->connect_timeout_ms, "gateway.connectTimeout");
	DIFF(a->idle_timeout_ms != b->idle_timeout_ms, "gateway.idleTimeout");
	DIFF(a->drain_timeout_ms != b->drain_timeout_ms, "gateway.drainTimeout");
	DIFF(a->ticket_rotation_ms != b->ticket_rotation_ms, "gateway.ticketRotation");
	DIFF(a->reload_debounce_ms != b->reload_debounce_ms, "gateway.reloadDebounce");
	DIFF(a->max_conns != b->max_conns, "gateway.maxConnections");
	DIFF(a->log_level != b->log_level, "gateway.logLevel");
	DIFF(a->access_log != b->access_log, "gateway.accessLog");
	DIFF(!str_is_same(a->user, b->user), "gateway.user");
	DIFF(a->tls_mode != b->tls_mode, "common.security.tlsMode");
	DIFF(a->internaltls_enabled != b->internaltls_enabled,
	     "common.security.internaltlsEnabled");
	DIFF(a->min_version != b->min_version, "tls.minVersion");
	DIFF(!str_is_same(a->internaltls_sni, b->internaltls_sni), "internaltls.sni");
#undef DIFF
}

/* Logs each error line of a failed config load. */
static void log_diag(const char *why, const struct diag *d)
{
	const char *p = d->text, *nl;

	while (p && *p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		log_error("reload (%s): %.*s", why, (int)(nl - p), p);
		p = *nl ? nl + 1 : nl;
	}
}

static int failed(struct reloader *r, const char *why, int err)
{
	r->n_failed++;
	if (r->mx)
		metrics_reload(r->mx, METRICS_RELOAD_FAILED);
	log_error("reload (%s) failed: keeping the current certificates (%u reloads failed so far)",
		  why, r->n_failed);
	return err;
}

/* Loads and checks the config again. NULL after logging why. */
static struct config *load_again(const struct reloader *r, const char *why)
{
	struct config *c;
	struct diag d;

	diag_init(&d, r->base->path);
	c = config_load(r->base->path, &d);
	if (!c)
		log_diag(why, &d);
	diag_free(&d);
	return c;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Hands each worker its set; waits (bounded) until all have taken them. */
static unsigned int hand_over(struct reloader *r, struct tlsset **sets)
{
	struct gateway *gw = r->gw;
	unsigned int i, waited, left;

	for (i = 0; i < gw->n_workers; i++) {
		/* A set a worker has not taken yet is older: it goes. */
		reload_set_free(atomic_exchange(&gw->workers[i].tls_next, sets[i]));
		sets[i] = NULL;
	}
	for (waited = 0; waited < ADOPT_WAIT_MS; waited += 10) {
		for (left = 0, i = 0; i < gw->n_workers; i++)
			left += atomic_load(&gw->workers[i].tls_next) && !atomic_load(&gw->workers[i].exited);
		if (!left)
			break;
		sleep_ms(10);
	}
	return gw->n_workers - left;
}

static void log_applied(const struct reloader *r, const struct config *c, const char *why,
			unsigned int n)
{
	struct cert_info ci;
	char err[CERT_ERR_MAX];

	if (c->tls.server_pem && cert_inspect(c->tls.server_pem, &ci, err) == 0)
		log_info("reload (%s): new certificates in use by %u of %u workers: %s subject %s, "
			 "notAfter %s%s%s",
			 why, n, r->gw->n_workers, c->tls.server_pem, ci.subject, ci.not_after_text,
			 c->tls.crl_pem ? ", CRL " : "", c->tls.crl_pem ? c->tls.crl_pem : "");
	else
		log_info("reload (%s): new contexts in use by %u of %u workers", why, n,
			 r->gw->n_workers);
}

static struct tlsset **build_all(const struct reloader *r, const struct config *c)
{
	struct tlsset **sets = calloc(r->gw->n_workers, sizeof(*sets));
	unsigned int i;

	if (!sets)
		return NULL;
	for (i = 0; i < r->gw->n_workers; i++) {
		sets[i] = set_build(r->gw, r->base, c);
		if (!sets[i])
			goto out_free;
	}
	return sets;

out_free:
	while (i--)
		reload_set_free(sets[i]);
	free(sets);
	return NULL;
}

int reload_run(struct reloader *r, const char *why)
{
	struct tlsset **sets;
	struct config *c;
	char stat_diff[1024];
	unsigned int n;
	int ret;

	log_info("reload (%s): loading %s", why, r->base->path);
	c = load_again(r, why);
	if (!c)
		return failed(r, why, -EINVAL);
	diff_static(r->base, c, stat_diff, sizeof(stat_diff));
	if (stat_diff[0])
		log_warn("reload (%s): not applied, restart to apply: %s (a reload applies the "
			 "tls.* and internaltls.* files only)",
			 why, stat_diff);
	sets = build_all(r, c);
	if (!sets) {
		config_free(c);
		return failed(r, why, -EINVAL);
	}
	n = hand_over(r, sets);
	free(sets);
	r->n_ok++;
	if (r->mx)
		metrics_reload(r->mx, METRICS_RELOAD_OK);
	log_applied(r, c, why, n);
	ret = files_are_same(&reload_files(r)->tls, &c->tls) &&
	      files_are_same(&reload_files(r)->internaltls, &c->internaltls) ? 0 : 1;
	config_free(r->files);
	r->files = c;
	return ret;
}
