/* SPDX-License-Identifier: MIT */
/* Small helpers every module may use: annotations, BUG_ON, array sizes, and
 * the poisoning of unbounded string functions. libc headers only. */
#ifndef KTLSGW_COMMON_H
#define KTLSGW_COMMON_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define __must_check __attribute__((warn_unused_result))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Invariants only, never input validation; live in every build because a
 * broken invariant in a TLS gateway must stop it, not corrupt a stream. */
#define BUG_ON(cond)                                                                 \
	do {                                                                         \
		if (__builtin_expect(!!(cond), 0)) {                                 \
			fprintf(stderr, "BUG: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                     \
		}                                                                    \
	} while (0)

#ifndef KTLSGW_NO_POISON
#pragma GCC poison strcpy strcat sprintf gets
#endif

#endif
