/* SPDX-License-Identifier: MIT */
/* Certificate reload (SIGHUP, file change): the main thread loads and checks
 * the config again, builds every worker's contexts off the data path and
 * hands them over; each worker swaps them in between CQE batches. Existing
 * SSLs keep their old SSL_CTX through OpenSSL's reference count. */
#ifndef KTLSGW_RELOAD_H
#define KTLSGW_RELOAD_H

#include "common.h"
#include "config-t.h"
#include "reload-t.h"
#include "worker-t.h"

/* Server (tlsMode 1/2) and internal TLS contexts for listener @lc, TLS
 * files from @cfg, with @gw's ticket keys. Used at start and by reloads.
 * 0 with *@ctx and *@up owned by the caller (NULL when not needed), or
 * -EINVAL after logging why. */
__must_check int reload_ctx_build(const struct gateway *gw, const struct config *cfg,
				  const struct listener_cfg *lc, struct ssl_ctx_st **ctx,
				  struct ssl_ctx_st **up);

/* Frees a set and the context references it holds. NULL is a no-op. */
void reload_set_free(struct tlsset *s);

/* Worker thread, between CQE batches: takes the contexts a reload handed
 * over, if any, for new conns; drops its references to the old ones. */
void reload_adopt(struct worker *w);

/* A reloader for @gw running @base (both borrowed). */
void reload_init(struct reloader *r, struct gateway *gw, const struct config *base,
		 struct metrics_counters *mx);
void reload_fini(struct reloader *r);

/* Reloads now; @why is logged ("SIGHUP", "file changed: /x/server.pem").
 * 1: applied and the set of TLS file paths changed (rebuild the watch);
 * 0: applied; -errno: failed, logged, counted, old certificates kept. */
__must_check int reload_run(struct reloader *r, const char *why);

/* The config whose TLS files are in use (the last good reload, or @base). */
const struct config *reload_files(const struct reloader *r);

#endif
