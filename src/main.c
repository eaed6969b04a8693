/* SPDX-License-Identifier: MIT */
/* Entry point: the subcommand table, --help and --version. Everything else
 * lives in cmd_*.c. */
#include "cmd.h"
#include "common.h"

#include <string.h>

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "run", cmd_run, "run the gateway: ktlsgw run -c FILE" },
	{ "check", cmd_check, "validate a config and print a summary: ktlsgw check -c FILE" },
	{ "cert", cmd_cert, "make or renew certificates: ktlsgw cert gen|renew [--dir DIR]" },
	{ "stats", cmd_stats, "per-tlsMode figures of a running gateway: ktlsgw stats [-c FILE | --url URL]" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ktlsgw COMMAND [OPTIONS]\n\n"
		   "A kernel-offload TLS gateway for Milvus.\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  %-6s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\n  ktlsgw COMMAND --help   options of one command\n"
		   "  ktlsgw --version        print the version\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("ktlsgw %s\n", KTLSGW_VERSION);
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(subcommands); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ktlsgw: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
