/* SPDX-License-Identifier: MIT */
/* Certificate reload: the server and upstream contexts one worker takes
 * over, and the main thread's state between reloads. */
#ifndef KTLSGW_RELOAD_T_H
#define KTLSGW_RELOAD_T_H

struct ssl_ctx_st;
struct config;
struct gateway;
struct metrics_counters;

/* One worker's contexts, indexed like cfg->listeners. */
struct tlsset {
	unsigned int n;
	struct ssl_ctx_st **ctx;	/* owned: n server ctxs (NULL in tlsMode 0) */
	struct ssl_ctx_st **up_ctx;	/* owned: n internal TLS client ctxs or NULL */
};

struct reloader {
	struct gateway *gw;		/* borrowed */
	const struct config *base;	/* borrowed: the config the gateway runs */
	struct config *files;		/* owned: last good reload (its TLS files are in use) */
	struct metrics_counters *mx;	/* borrowed: main-thread shard, NULL = no metrics */
	unsigned int n_ok, n_failed;
};

#endif
