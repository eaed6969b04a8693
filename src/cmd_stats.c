/* SPDX-License-Identifier: MIT */
/* `ktlsgw stats`: reads per-tlsMode figures from a running gateway. The
 * metrics endpoint it reads arrives with the eBPF metrics work; until then
 * the command says so and fails rather than print invented figures. */
#include "cmd.h"
#include "common.h"

#include <string.h>

int cmd_stats(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: ktlsgw stats [-c FILE] [--watch]\n"
		       "  per-tlsMode table read from the running gateway's metrics endpoint\n"
		       "  (not implemented yet: the gateway has no metrics endpoint)\n");
		return 0;
	}
	fprintf(stderr, "ktlsgw stats: not implemented yet: the running gateway does not expose "
			"metrics in this version\n");
	return 1;
}
