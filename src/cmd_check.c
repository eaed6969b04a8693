/* SPDX-License-Identifier: MIT */
/* Placeholder while the foundation is being built. */
#include "cmd.h"
#include "common.h"

int cmd_check(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ktlsgw check: not built yet\n");
	return 1;
}
