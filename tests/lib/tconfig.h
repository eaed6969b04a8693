/* SPDX-License-Identifier: MIT */
/* Table-driven config tests: a case is YAML text, whether it loads, and the
 * diagnostics it must print; shared by test_config.c and test_config_tls.c. */
#ifndef KTLSGW_TCONFIG_H
#define KTLSGW_TCONFIG_H

#include <stdbool.h>

struct config;
struct diag;

struct ccase {
	const char *name;
	const char *yaml;
	bool ok;		/* loads (warnings allowed) */
	const char *want[3];	/* substrings of the diagnostics, in any order */
	int n_errors;		/* -1: do not check */
};

/* Lines 1-5; a listener key added after it starts at column 7 of line 6. */
#define L0                                  \
	"gateway:\n"                        \
	"  listeners:\n"                    \
	"    - name: grpc\n"                \
	"      bind: 127.0.0.1:19530\n"     \
	"      upstream: 127.0.0.1:19531\n"
/* A second listener, lines 6-8 (name value at 6:13, bind value at 7:13). */
#define L1(bind)                                                      \
	"    - name: rest\n"                                          \
	"      bind: " bind "\n"                                      \
	"      upstream: 127.0.0.1:8081\n"

/* Loads @yaml as "t.yaml" with relative paths under t_tmpdir(). */
struct config *tconfig_load(const char *yaml, struct diag *d);

/* Runs one case; failures are reported against @line. */
void tconfig_run_case(const struct ccase *k, int line);

#define RUN_CASES(tab)                                                   \
	do {                                                             \
		size_t _i;                                               \
		for (_i = 0; _i < sizeof(tab) / sizeof((tab)[0]); _i++)  \
			tconfig_run_case(&(tab)[_i], __LINE__);          \
	} while (0)

#endif
