/* SPDX-License-Identifier: MIT */
/* Worker threads: each runs its own ring over its own listening sockets,
 * conn pool and buffer pool, and checks conn deadlines on a 100 ms tick.
 * Stopping: an eventfd per worker, written by gateway_stop(). */
#include "worker.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bufpool.h"
#include "conn.h"
#include "drain.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "offload.h"
#include "metrics.h"
#include "observe-t.h"
#include "reload.h"
#include "splice.h"
#include "tickets.h"
#include "tls.h"

#define RING_ENTRIES 2048
#define TICK_MS 100
#define STOP_GRACE_MS 2000	/* at most this long for cancelled ops to end */
#define HEAP_TRIM_MS 1000	/* at most one malloc_trim() a second per worker */

unsigned int gateway_n_workers(const struct config *cfg)
{
	long n;

	if (cfg->workers)
		return cfg->workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned int)n : 1;
}

/* ---- rate limit ---- */

bool worker_rl_allow(struct worker *w, enum rl_reason r, unsigned int *dropped)
{
	struct ratelimit *rl = &w->rl;
	uint64_t sec = w->loop.now_ms / 1000;

	if (sec != rl->window) {
		rl->window = sec;
		memset(rl->count, 0, sizeof(rl->count));
	}
	if (rl->count[r] >= RL_PER_SEC) {
		rl->dropped[r]++;
		return false;
	}
	rl->count[r]++;
	*dropped = rl->dropped[r];
	rl->dropped[r] = 0;
	return true;
}

/* ---- worker-level ops ---- */

static int arm_tick(struct worker *w)
{
	w->tick_ts.tv_sec = 0;
	w->tick_ts.tv_nsec = TICK_MS * 1000000LL;
	return loop_timeout(&w->loop, &w->tick_op, &w->tick_ts);
}

static int arm_wake(struct worker *w)
{
	return loop_read(&w->loop, &w->wake_op, w->wake_fd, &w->wake_val, sizeof(w->wake_val));
}

static void stop_conns(struct worker *w)
{
	struct conn *c, *next;
	unsigned int i;

	for (i = 0; i < w->n_ls; i++)
		listener_close(&w->ls[i]);
	for (c = w->active; c; c = next) {
		next = c->next;
		conn_close(c, "gateway stopping");
		conn_put_if_done(c);
	}
}

int worker_on_wake(struct op *op, int res, unsigned int cqe_flags)
{
	struct worker *w = loop_owner(op, struct worker, wake_op);

	(void)res;
	(void)cqe_flags;
	if (drain_is_wanted(w)) {
		drain_begin(w);
		return arm_wake(w);	/* a later stop wakes it again */
	}
	w->stopping = true;
	stop_conns(w);
	return 0;
}

/* The tick only marks the scan due: it runs after the whole batch of CQEs,
 * so a completion queued behind the tick is not mistaken for a timeout. */
int worker_on_tick(struct op *op, int res, unsigned int cqe_flags)
{
	struct worker *w = loop_owner(op, struct worker, tick_op);

	(void)res;
	(void)cqe_flags;
	w->tick_due = true;
	if (w->stopping && !w->n_active)
		return 0;
	return arm_tick(w);
}

/* A burst of handshakes leaves OpenSSL's freed scratch spread over the
 * heap, which glibc keeps. Once a tick passes without new conns after
 * some, give those pages back: idle RSS then follows the sessions that
 * stay, not the peak. Never during a steady stream of handshakes, and at
 * most once a second (a trim walks every arena). */
static void trim_heap_if_quiet(struct worker *w)
{
	uint64_t now = w->loop.now_ms;

	if (w->next_id != w->trim_id && w->next_id == w->tick_id &&
	    now >= w->trim_ms + HEAP_TRIM_MS) {
		malloc_trim(0);
		w->trim_id = w->next_id;
		w->trim_ms = now;
	}
	w->tick_id = w->next_id;
}

static void check_deadlines(struct worker *w)
{
	struct conn *c, *next;
	unsigned int i;

	w->tick_due = false;
	w->loop.now_ms = loop_clock_ms();
	for (c = w->active; c; c = next) {
		next = c->next;
		conn_check_deadline(c, w->loop.now_ms);
	}
	drain_check(w);
	bufpool_trim(&w->bufs);
	splice_pool_trim(w);
	trim_heap_if_quiet(w);
	for (i = 0; i < w->n_ls; i++) {
		if (!w->ls[i].rearm || w->stopping)
			continue;
		w->ls[i].rearm = false;
		if (listener_arm(&w->ls[i]) < 0)
			w->ls[i].rearm = true;
	}
}

/* ---- thread ---- */

static int worker_arm_all(struct worker *w)
{
	unsigned int i;
	int ret;

	ret = arm_wake(w);
	if (ret < 0)
		return ret;
	ret = arm_tick(w);
	if (ret < 0)
		return ret;
	for (i = 0; i < w->n_ls; i++) {
		ret = listener_arm(&w->ls[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool worker_is_done(struct worker *w, uint64_t stop_at)
{
	if (!w->stopping)
		return false;
	return !w->n_active || w->loop.now_ms >= stop_at;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t stop_at = UINT64_MAX;
	int ret;

	ret = loop_start(&w->loop);
	if (ret >= 0)
		ret = worker_arm_all(w);
	while (ret >= 0 && !worker_is_done(w, stop_at)) {
		ret = loop_run_once(&w->loop, TICK_MS);
		if (w->tick_due)
			check_deadlines(w);
		reload_adopt(w);
		if (w->stopping && stop_at == UINT64_MAX)
			stop_at = w->loop.now_ms + STOP_GRACE_MS;
	}
	if (ret < 0) {
		log_error("w=%u: ring failed: %s; its listeners close, other workers go on", w->id,
			  strerror(-ret));
		w->exit_code = ret;
		stop_conns(w);	/* no new conns routed to a dead ring */
	}
	if (w->n_active)
		log_warn("w=%u: %u conns still had ops in flight at exit", w->id, w->n_active);
	atomic_store(&w->exited, true);
	return NULL;
}

/* ---- setup and teardown ---- */

static void worker_free(struct worker *w)
{
	unsigned int i;

	for (i = 0; i < w->n_ls; i++) {
		if (w->ls[i].fd >= 0)
			close(w->ls[i].fd);
		tls_ctx_free(w->ls[i].ctx);
		tls_ctx_free(w->ls[i].up_ctx);
	}
	free(w->ls);
	w->ls = NULL;
	reload_set_free(atomic_exchange(&w->tls_next, NULL));
	loop_exit(&w->loop);
	/* The ring is gone, so nothing the kernel held is in flight any more. */
	while (w->active)
		conn_force_release(w->active);
	for (i = 0; i < w->pool.n_chunks; i++)
		free(w->pool.chunks[i]);
	free(w->pool.chunks);
	w->pool.chunks = NULL;
	bufpool_exit(&w->bufs);
	splice_pool_free(w);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	w->wake_fd = -1;
}

static int lsock_init(struct worker *w, unsigned int i)
{
	const struct listener_cfg *lc = &w->cfg->listeners[i];
	struct lsock *ls = &w->ls[i];
	int fd;

	ls->w = w;
	ls->idx = i;
	ls->cfg = lc;
	ls->accept_op.kind = OP_ACCEPT;
	fd = listener_open(lc);
	if (fd < 0)
		return fd;
	ls->fd = fd;
	/* Every ctx, at start and on reload, is made (and prepared for kTLS) by reload.c. */
	return reload_ctx_build(w->gw, w->cfg, lc, &ls->ctx, &ls->up_ctx);
}

static int worker_init(struct worker *w, struct gateway *gw, unsigned int id)
{
	unsigned int i;
	int ret;

	w->id = id;
	w->gw = gw;
	w->cfg = gw->cfg;
	w->mx = gw->obs ? metrics_shard(gw->obs->m, id) : NULL;
	w->wake_op.kind = OP_WAKE;
	w->tick_op.kind = OP_TICK;
	w->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (w->wake_fd < 0)
		return -errno;
	ret = loop_init(&w->loop, RING_ENTRIES);
	if (ret < 0) {
		log_error("w=%u: io_uring setup: %s", id, strerror(-ret));
		return ret;
	}
	ret = bufpool_init(&w->bufs, &w->loop);
	if (ret < 0 && id == 0)
		log_info("no io_uring buffer ring (%s): waiting recvs hold a buffer each",
			 strerror(-ret));
	w->ls = calloc(w->cfg->n_listeners, sizeof(*w->ls));
	if (!w->ls)
		return -ENOMEM;
	for (i = 0; i < w->cfg->n_listeners; i++)
		w->ls[i].fd = -1;
	w->n_ls = w->cfg->n_listeners;
	for (i = 0; i < w->n_ls; i++) {
		ret = lsock_init(w, i);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void gateway_free(struct gateway *gw)
{
	unsigned int i;

	for (i = 0; i < gw->n_workers; i++)
		worker_free(&gw->workers[i]);
	free(gw->workers);
	free(gw->lst_conns);
	tickets_put(gw->tickets);	/* contexts hold their own references */
	free(gw);
}

static int gateway_spawn(struct gateway *gw)
{
	unsigned int i;
	int ret;

	for (i = 0; i < gw->n_workers; i++) {
		ret = pthread_create(&gw->workers[i].thread, NULL, worker_main, &gw->workers[i]);
		if (ret) {
			log_error("cannot start worker %u: %s", i, strerror(ret));
			return -ret;
		}
		gw->workers[i].started = true;
	}
	return 0;
}

struct gateway *gateway_bind(const struct config *cfg, const struct observe *obs)
{
	struct gateway *gw = calloc(1, sizeof(*gw));
	unsigned int i;

	if (!gw)
		return NULL;
	signal(SIGPIPE, SIG_IGN);
	gw->cfg = cfg;
	gw->obs = obs;
	gw->n_workers = gateway_n_workers(cfg);
	gw->workers = calloc(gw->n_workers, sizeof(*gw->workers));
	gw->lst_conns = calloc(cfg->n_listeners ? cfg->n_listeners : 1, sizeof(*gw->lst_conns));
	if (!gw->workers || !gw->lst_conns)
		goto out_free;
	for (i = 0; i < gw->n_workers; i++)
		gw->workers[i].wake_fd = -1;
	for (i = 0; i < cfg->n_listeners; i++)
		if (listener_probe(&cfg->listeners[i]) < 0)
			goto out_free;
	if (offload_setup(gw) < 0)
		goto out_free;
	/* Before the first SSL_CTX: every ctx of every reload shares these keys. */
	gw->tickets = tickets_new(cfg->ticket_rotation_ms ? cfg->ticket_rotation_ms : 3600000);
	if (!gw->tickets)
		goto out_free;
	for (i = 0; i < gw->n_workers; i++)
		if (worker_init(&gw->workers[i], gw, i) < 0)
			goto out_free;
	return gw;

out_free:
	gateway_free(gw);
	return NULL;
}

int gateway_run(struct gateway *gw)
{
	int ret = gateway_spawn(gw);

	if (ret < 0)
		gateway_stop(gw);
	return ret;
}

struct gateway *gateway_start(const struct config *cfg, const struct observe *obs)
{
	struct gateway *gw = gateway_bind(cfg, obs);

	if (!gw || gateway_run(gw) < 0)
		return NULL;
	return gw;
}

int gateway_stop(struct gateway *gw)
{
	uint64_t one = 1;
	unsigned int i;
	int ret = 0;

	if (!gw)
		return 0;
	atomic_store(&gw->phase, GW_PHASE_STOP);
	for (i = 0; i < gw->n_workers; i++)
		if (gw->workers[i].started && write(gw->workers[i].wake_fd, &one, sizeof(one)) < 0)
			log_error("w=%u: cannot wake: %s", i, strerror(errno));
	for (i = 0; i < gw->n_workers; i++) {
		if (!gw->workers[i].started)
			continue;
		pthread_join(gw->workers[i].thread, NULL);
		if (gw->workers[i].exit_code)
			ret = -EIO;
	}
	gateway_free(gw);
	return ret;
}
