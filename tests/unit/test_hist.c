/* SPDX-License-Identifier: MIT */
/* bench/hist.c, the load generator's latency histogram: bucket index is
 * monotonic and exact below 128, every value lands within 1/64 of its
 * bucket, and quantiles come out right on known distributions. */
#include "../lib/t.h"
#include "../../bench/hist.c"

static struct hist h;

TEST(small_values_are_exact)
{
	uint64_t v;

	for (v = 0; v < 128; v++) {
		EXPECT_EQ(hist_index(v), v);
		EXPECT_EQ(hist_lowest(hist_index(v)), v);
	}
}

TEST(index_is_monotonic_and_bounded)
{
	uint64_t v, next, lo;
	unsigned int i, prev = 0;

	/* increasing values from 1 to the top of the range, ~1% apart */
	for (v = 1; v; v = next) {
		i = hist_index(v);
		ASSERT(i < HIST_BUCKETS);
		EXPECT(i >= prev);
		prev = i;
		lo = hist_lowest(i);
		/* the bucket holds v and is at most 1/64 of v wide */
		EXPECT(lo <= v);
		EXPECT(v - lo <= v / 64);
		next = v + v / 97 + 1;
		if (next < v)
			break;
	}
	EXPECT(hist_index(UINT64_MAX) < HIST_BUCKETS);
}

TEST(quantiles_of_uniform_values)
{
	uint64_t v, q;

	hist_reset(&h);
	for (v = 1; v <= 100000; v++)
		hist_record(&h, v * 1000);	/* 1 us .. 100 ms in ns */
	EXPECT_EQ(h.count, 100000);
	EXPECT_EQ(h.max, 100000000);
	q = hist_quantile(&h, 0.5);
	EXPECT(q > 50000000 - 50000000 / 50 && q < 50000000 + 50000000 / 50);
	q = hist_quantile(&h, 0.99);
	EXPECT(q > 99000000 - 99000000 / 50 && q < 99000000 + 99000000 / 50);
	EXPECT(hist_quantile(&h, 1.0) <= h.max);
}

TEST(quantile_of_two_clusters_and_merge)
{
	static struct hist other;
	int i;

	hist_reset(&h);
	hist_reset(&other);
	for (i = 0; i < 990; i++)
		hist_record(&h, 200);
	for (i = 0; i < 10; i++)
		hist_record(&other, 50000);
	hist_merge(&h, &other);
	EXPECT_EQ(h.count, 1000);
	EXPECT(hist_quantile(&h, 0.5) >= 198 && hist_quantile(&h, 0.5) <= 202);
	EXPECT(hist_quantile(&h, 0.99) >= 198 && hist_quantile(&h, 0.99) <= 202);
	EXPECT(hist_quantile(&h, 0.995) >= 49000 && hist_quantile(&h, 0.995) <= 50000);
	EXPECT_EQ(h.max, 50000);
}

TEST(empty_histogram)
{
	hist_reset(&h);
	EXPECT_EQ(hist_quantile(&h, 0.99), 0);
}
