/* SPDX-License-Identifier: MIT */
/* Per-context cache of client certificates that passed verification, so a
 * client reconnecting with the same certificate skips chain building, the
 * CA signature check and the CRL lookup (tlsMode 2). */
#ifndef KTLSGW_CERTCACHE_H
#define KTLSGW_CERTCACHE_H

#include <stdint.h>
#include <time.h>

#include "common.h"

struct ssl_ctx_st;

/* Makes mutual-TLS server context @ctx verify client certificates through
 * the cache. Call after the CA bundle and CRLs are loaded: the context's
 * store and parameters must not change afterwards (a reload builds a new
 * context, hence an empty cache). The cache is freed with @ctx. 0,
 * -ENOMEM or -EPROTO (logged). */
__must_check int certcache_install(struct ssl_ctx_st *ctx);

/* Verifications answered from @ctx's cache so far (tests, diagnostics). */
uint64_t certcache_hits(const struct ssl_ctx_st *ctx);

/* The wall clock (seconds) entries are checked against; a seam for tests. */
extern time_t (*certcache_clock)(void);

#endif
