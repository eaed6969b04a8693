/* SPDX-License-Identifier: MIT */
/* Log-linear latency histogram (HdrHistogram's bucket shape): values below
 * 128 are exact, above that each power of two is split into 64 sub-buckets,
 * so any recorded value is known within 1/64 (1.6%). Fixed size, no malloc. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) << HIST_SUB_BITS)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t n[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Adds every count of @src into @dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile @q (0..1]: the midpoint of the bucket holding it, 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

/* Exposed for the unit test: bucket index of @v, and the lowest value of bucket @i. */
unsigned int hist_index(uint64_t v);
uint64_t hist_lowest(unsigned int i);

#endif
