/* SPDX-License-Identifier: MIT */
/* libFuzzer target: arbitrary bytes through the whole config loader (YAML
 * tree, every reader and validation). Paths resolve under a directory that
 * does not exist, so file checks fail fast without touching real files. */
#include "config.h"
#include "diag.h"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	config_set_name_lookups(false);	/* random names must not reach DNS */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	struct diag d;

	diag_init(&d, "fuzz.yaml");
	c = config_load_buffer("fuzz.yaml", "/nonexistent/ktlsgw-fuzz", (const char *)data, size,
			       &d);
	/* a config comes back exactly when no error was reported */
	BUG_ON((c != NULL) != (d.n_errors == 0));
	if (c)
		BUG_ON(c->n_listeners < 1 || c->n_listeners > CFG_LISTENERS_MAX);
	config_free(c);
	diag_free(&d);
	return 0;
}
