/* SPDX-License-Identifier: MIT */
/* The main thread after start-up: poll() on a signalfd and on the
 * certificate watcher's fd. SIGHUP or a debounced file change reloads the
 * certificates; SIGTERM/SIGINT start the drain and a second one cuts it. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "drain.h"
#include "log.h"
#include "loop.h"
#include "privdrop.h"
#include "reload.h"
#include "watch.h"

#define DRAIN_SLACK_MS 5000	/* past drainTimeout before the main thread gives up */
#define POLL_MS 100

struct control {
	struct gateway *gw;		/* borrowed */
	struct reloader rl;
	struct watch *watch;		/* owned; NULL when files cannot be watched */
	int sfd;			/* owned: signalfd */
	bool draining;
	uint64_t give_up_at;		/* ms, while draining */
	unsigned int debounce_ms;
};

int control_drop_privileges(const struct config *cfg)
{
	int ret;

	if (cfg->user) {
		/* Nothing kept: sockets are bound, BPF is loaded, and a reload
		 * only rereads files (readable by the user: see operations.md). */
		ret = privdrop_to_user(cfg->user, NULL, 0);
		if (ret < 0)
			return ret;
	}
	return privdrop_harden();
}

/* Watches the files of the config in use; without a watcher SIGHUP still works. */
static void watch_rebuild(struct control *ct)
{
	watch_free(ct->watch);
	ct->watch = watch_new(ct->debounce_ms);
	if (ct->watch && watch_add_config(ct->watch, reload_files(&ct->rl)) < 0) {
		watch_free(ct->watch);
		ct->watch = NULL;
	}
	if (!ct->watch)
		log_warn("certificate files are not watched: reload with SIGHUP");
}

static void reload(struct control *ct, const char *why)
{
	if (ct->draining) {
		log_info("reload (%s) ignored: draining", why);
		return;
	}
	if (reload_run(&ct->rl, why) == 1)
		watch_rebuild(ct);
}

static void start_drain(struct control *ct, const char *sig)
{
	const struct config *cfg = ct->gw->cfg;

	log_info("%s: draining: no new connections, up to %u ms for %u open ones", sig,
		 cfg->drain_timeout_ms, atomic_load(&ct->gw->n_conns));
	ct->draining = true;
	ct->give_up_at = loop_clock_ms() + cfg->drain_timeout_ms + DRAIN_SLACK_MS;
	gateway_drain(ct->gw);
}

/* 1 to stop now, 0 to go on. */
static int on_signal(struct control *ct)
{
	struct signalfd_siginfo si;
	const char *name;

	if (read(ct->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		reload(ct, "SIGHUP");
		return 0;
	}
	name = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
	if (ct->draining) {
		log_warn("%s again: stopping without waiting for open connections", name);
		return 1;
	}
	start_drain(ct, name);
	return 0;
}

static void on_watch(struct control *ct)
{
	char why[600];
	int ret = watch_read(ct->watch);

	if (ret < 0) {
		log_error("certificate watch: %s; reload with SIGHUP", strerror(-ret));
		watch_free(ct->watch);
		ct->watch = NULL;
	} else if (ret == 1) {
		snprintf(why, sizeof(why), "file changed: %s", watch_changed(ct->watch));
		reload(ct, why);
	}
}

static int open_signalfd(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		log_error("signalfd: %s", strerror(errno));
	return fd < 0 ? -errno : fd;
}

/* One poll round. 1: stop waiting (drained, or cut short), 0: go on. */
static int step(struct control *ct, int *cut)
{
	struct pollfd p[2] = { { ct->sfd, POLLIN, 0 }, { -1, POLLIN, 0 } };

	p[1].fd = ct->watch ? watch_fd(ct->watch) : -1;
	if (poll(p, 2, ct->draining ? POLL_MS : -1) < 0 && errno != EINTR)
		return (*cut = 1);
	if ((p[0].revents & POLLIN) && on_signal(ct))
		return (*cut = 1);
	if (ct->watch && (p[1].revents & POLLIN))
		on_watch(ct);
	if (!ct->draining)
		return 0;
	if (gateway_is_drained(ct->gw))
		return 1;
	if (loop_clock_ms() < ct->give_up_at)
		return 0;
	log_warn("workers still busy %u ms after drainTimeout: stopping now", DRAIN_SLACK_MS);
	return (*cut = 1);
}

int control_run(struct gateway *gw, const struct config *cfg, struct metrics_counters *mx)
{
	struct control ct = { .gw = gw, .debounce_ms = cfg->reload_debounce_ms };
	int cut = 0;

	ct.sfd = open_signalfd();
	if (ct.sfd < 0)
		return 1;
	reload_init(&ct.rl, gw, cfg, mx);
	watch_rebuild(&ct);
	while (!step(&ct, &cut))
		;
	if (!cut)
		log_info("drained: every connection ended");
	watch_free(ct.watch);
	reload_fini(&ct.rl);
	close(ct.sfd);
	return 0;
}
