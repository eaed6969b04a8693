/* SPDX-License-Identifier: MIT */
/* Config: a milvus.yaml superset -> validated struct config. */
#ifndef KTLSGW_CONFIG_H
#define KTLSGW_CONFIG_H

#include "common.h"
#include "config-t.h"
#include "diag-t.h"

/* Loads and validates @path. Returns a new config (free with config_free)
 * when no error was found, else NULL; every error and warning is added to
 * @d. Paths in the result are absolute. */
struct config *config_load(const char *path, struct diag *d);

/* The same from memory (fuzzing, tests): @name prefixes diagnostics and
 * relative paths resolve against @dir. */
struct config *config_load_buffer(const char *name, const char *dir, const char *buf,
				  size_t len, struct diag *d);

void config_free(struct config *c);

/* Host names in addresses are resolved while loading (getaddrinfo) unless
 * this turned it off (the fuzzer: no DNS for random names). */
void config_set_name_lookups(bool on);

/* "0 (plain)", "1 (one-way TLS)", "2 (mutual TLS)". */
const char *config_tls_mode_name(enum tls_mode m);

#endif
