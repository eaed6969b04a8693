/* SPDX-License-Identifier: MIT */
/* Minimal unit-test harness: TEST() registers a function, the EXPECT_*
 * macros record failures, t_main() runs every test and prints one line per
 * test ("PASS suite/name", "FAIL suite/name: why", "SKIP suite/name: why").
 * tests/run.sh counts those lines across every binary and script. */
#ifndef KTLSGW_T_H
#define KTLSGW_T_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef void t_fn(void);

void t_register(const char *name, t_fn *fn);
void t_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void t_skip(const char *why);
bool t_failed(void);
/* Directory for this test's scratch files: created fresh, removed after. */
const char *t_tmpdir(void);

#define TEST(name)                                                   \
	static void test_##name(void);                               \
	__attribute__((constructor)) static void reg_##name(void)    \
	{                                                            \
		t_register(#name, test_##name);                      \
	}                                                            \
	static void test_##name(void)

#define EXPECT(cond)                                                          \
	do {                                                                  \
		if (!(cond))                                                  \
			t_fail(__FILE__, __LINE__, "expected %s", #cond);     \
	} while (0)

#define EXPECT_EQ(a, b)                                                             \
	do {                                                                        \
		long long _a = (long long)(a), _b = (long long)(b);                 \
		if (_a != _b)                                                       \
			t_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
			       #a, _a, #b, _b);                                     \
	} while (0)

#define EXPECT_STR_EQ(a, b)                                                          \
	do {                                                                         \
		const char *_a = (a), *_b = (b);                                     \
		if (!_a || !_b || strcmp(_a, _b))                                    \
			t_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #a, \
			       _a ? _a : "(null)", _b ? _b : "(null)");              \
	} while (0)

#define EXPECT_STR_CONTAINS(hay, needle)                                             \
	do {                                                                         \
		const char *_h = (hay), *_n = (needle);                              \
		if (!_h || !strstr(_h, _n))                                          \
			t_fail(__FILE__, __LINE__, "%s = \"%s\" lacks \"%s\"", #hay,     \
			       _h ? _h : "(null)", _n);                              \
	} while (0)

/* Stop the current test early (after a failed precondition). */
#define ASSERT(cond)                                                          \
	do {                                                                  \
		if (!(cond)) {                                                \
			t_fail(__FILE__, __LINE__, "required %s", #cond);     \
			return;                                               \
		}                                                             \
	} while (0)

#endif
