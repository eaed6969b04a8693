/* SPDX-License-Identifier: MIT */
/* Collected diagnostics: `ktlsgw check` reports every problem, not the first. */
#ifndef KTLSGW_DIAG_T_H
#define KTLSGW_DIAG_T_H

#include <stdbool.h>
#include <stddef.h>

struct diag {
	const char *file;		/* borrowed: prefix of every line */
	unsigned int n_errors;
	unsigned int n_warnings;
	char *text;			/* owned: all lines, each ending in '\n' */
	size_t len, cap;
	bool echo;			/* also write each line to stderr as added */
};

#endif
