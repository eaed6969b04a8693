/* SPDX-License-Identifier: MIT */
/* The harness behind t.h: registration, per-test scratch directory, result
 * lines, and the exit status (1 if any test failed). */
#include "t.h"

#include <ftw.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define T_MAX 512

static struct {
	const char *name;
	t_fn *fn;
} tests[T_MAX];
static int n_tests;
static bool cur_failed, cur_skipped;
static char cur_why[512];
static char tmpdir[256];

void t_register(const char *name, t_fn *fn)
{
	if (n_tests < T_MAX) {
		tests[n_tests].name = name;
		tests[n_tests].fn = fn;
		n_tests++;
	}
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cur_failed)	/* keep the first reason, report every one on stderr */
		goto print;
	cur_failed = true;
	n = snprintf(cur_why, sizeof(cur_why), "%s:%d: ", file, line);
	va_start(ap, fmt);
	vsnprintf(cur_why + n, sizeof(cur_why) - n, fmt, ap);
	va_end(ap);
print:
	fprintf(stderr, "  at %s:%d\n", file, line);
}

void t_skip(const char *why)
{
	cur_skipped = true;
	snprintf(cur_why, sizeof(cur_why), "%s", why);
}

bool t_failed(void)
{
	return cur_failed;
}

const char *t_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/ktlsgw-t.XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return tmpdir;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup_tmpdir(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = 0;
}

int main(int argc, char **argv)
{
	char self[256];
	const char *suite;
	int i, failed = 0;

	snprintf(self, sizeof(self), "%s", argv[0]);
	suite = basename(self);
	if (!strncmp(suite, "test_", 5))
		suite += 5;
	for (i = 0; i < n_tests; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		cur_failed = cur_skipped = false;
		cur_why[0] = 0;
		tests[i].fn();
		cleanup_tmpdir();
		if (cur_failed) {
			printf("FAIL unit/%s/%s: %s\n", suite, tests[i].name, cur_why);
			failed++;
		} else if (cur_skipped) {
			printf("SKIP unit/%s/%s: %s\n", suite, tests[i].name, cur_why);
		} else {
			printf("PASS unit/%s/%s\n", suite, tests[i].name);
		}
		fflush(stdout);
	}
	return failed ? 1 : 0;
}
