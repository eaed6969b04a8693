/* SPDX-License-Identifier: MIT */
/* `ktlsgw run -c FILE [--log-level L]`: loads the config, binds, drops
 * privileges, starts the workers, then control.c reloads on SIGHUP and drains
 * on SIGTERM/SIGINT (exit 0). Signals are blocked in every thread and taken
 * by the main thread through a signalfd, so workers never see them. */
#include "cmd.h"
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>

#include "config.h"
#include "control.h"
#include "diag.h"
#include "log.h"
#include "observe.h"
#include "worker.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ktlsgw run -c FILE [--log-level error|warn|info|debug]\n"
		   "  runs the gateway until SIGTERM or SIGINT\n");
}

struct run_args {
	const char *path;
	int log_level;		/* -1: the config's */
};

static int parse_args(int argc, char **argv, struct run_args *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	a->path = NULL;
	a->log_level = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
		if (opt == 'c')
			a->path = optarg;
		else if (opt == 'l' && (a->log_level = log_level_parse(optarg)) < 0)
			return -EINVAL;
		else if (opt == 'h')
			return 1;
		else if (opt != 'l')
			return -EINVAL;
	}
	return a->path && optind == argc ? 0 : -EINVAL;
}

static void log_listeners(const struct config *cfg)
{
	const struct listener_cfg *lc;
	unsigned int i;

	for (i = 0; i < cfg->n_listeners; i++) {
		lc = &cfg->listeners[i];
		log_info("listener %s: %s -> %s tlsMode=%d internalTLS=%s maxConnections=%u",
			 lc->name, lc->bind.text, lc->upstream.text, (int)lc->tls_mode,
			 lc->internal_tls ? "true" : "false", lc->max_conns);
	}
}

static int run(const struct config *cfg)
{
	struct observe obs;
	struct gateway *gw;
	sigset_t set;
	int ret = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* inherited by the workers */
	log_info("Internal TLS Enabled value=%s", cfg->internaltls_enabled ? "true" : "false");
	/* Before any socket: BPF counts only sockets made inside its cgroup. */
	if (observe_start(cfg, gateway_n_workers(cfg), &obs) < 0)
		return 1;
	gw = gateway_bind(cfg, &obs);
	if (!gw) {
		observe_stop(&obs);
		return 1;
	}
	/* Ports bound, BPF loaded, contexts built, still one thread. */
	if (control_drop_privileges(cfg) < 0) {
		(void)gateway_stop(gw);
		observe_stop(&obs);
		return 1;
	}
	if (gateway_run(gw) < 0) {
		observe_stop(&obs);
		return 1;
	}
	if (observe_serve(cfg, &obs) < 0) {
		(void)gateway_stop(gw);
		observe_stop(&obs);
		return 1;
	}
	log_info("ktlsgw %s running: %u workers", KTLSGW_VERSION, gw->n_workers);
	log_listeners(cfg);
	ret = control_run(gw, cfg, observe_main_shard(&obs));
	if (gateway_stop(gw) < 0)
		ret = 1;
	observe_stop(&obs);	/* after the workers: the endpoint reads their shards */
	if (!ret)
		log_info("stopped");
	return ret;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a;
	struct config *cfg;
	struct diag d;
	int ret;

	ret = parse_args(argc, argv, &a);
	if (ret) {
		usage(ret > 0 ? stdout : stderr);
		return ret > 0 ? 0 : EXIT_USAGE;
	}
	diag_init(&d, a.path);
	cfg = config_load(a.path, &d);
	if (d.text)
		fputs(d.text, stderr);
	diag_free(&d);
	if (!cfg)
		return 1;
	log_set_level(a.log_level >= 0 ? (enum log_level)a.log_level
				       : (enum log_level)cfg->log_level);
	ret = run(cfg);
	config_free(cfg);
	return ret;
}
