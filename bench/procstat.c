/* SPDX-License-Identifier: MIT */
/* CPU time and resident memory of the process under test, from /proc: the
 * sum of utime+stime (field 14 and 15 of /proc/PID/stat, all threads) and
 * VmRSS over the pids given, so a master+worker peer counts whole. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lg.h"

long proc_ticks_per_s(void)
{
	return sysconf(_SC_CLK_TCK);
}

/* utime+stime of one pid in clock ticks; -1 if it is gone. */
static long long read_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');	/* comm may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static long long read_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void proc_sample(const pid_t *pids, unsigned int n, struct proc_sample *s)
{
	long long t, r;
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->ok = n > 0;
	for (i = 0; i < n; i++) {
		t = read_ticks(pids[i]);
		r = read_rss_kb(pids[i]);
		if (t < 0 || r < 0) {
			s->ok = 0;
			continue;
		}
		s->cpu_ticks += (uint64_t)t;
		s->rss_kb += (uint64_t)r;
	}
}
