/* SPDX-License-Identifier: MIT */
/* Subcommands. Each takes the arguments after its name (argv[0] is the
 * command name) and returns the process exit status: 0 ok, 1 failure,
 * 2 usage error. */
#ifndef KTLSGW_CMD_H
#define KTLSGW_CMD_H

#define EXIT_USAGE 2

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_cert(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
