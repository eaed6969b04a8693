/* SPDX-License-Identifier: MIT */
/* Log-linear histogram: index = (e << 6) + (v >> e), where e is how far the
 * value's top bit sits above bit 6. The index is monotonic in v, so a
 * quantile is a walk over the counts from the bottom. */
#include <string.h>

#include "hist.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

unsigned int hist_index(uint64_t v)
{
	unsigned int msb, e;

	if (v < (2u << HIST_SUB_BITS))
		return (unsigned int)v;
	msb = 63 - (unsigned int)__builtin_clzll(v);
	e = msb - HIST_SUB_BITS;
	return (e << HIST_SUB_BITS) + (unsigned int)(v >> e);
}

uint64_t hist_lowest(unsigned int i)
{
	unsigned int e;

	if (i < (2u << HIST_SUB_BITS))
		return i;
	e = (i >> HIST_SUB_BITS) - 1;
	return (uint64_t)(i - (e << HIST_SUB_BITS)) << e;
}

void hist_record(struct hist *h, uint64_t v)
{
	h->n[hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	for (i = 0; i < HIST_BUCKETS; i++)
		dst->n[i] += src->n[i];
	dst->count += src->count;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0, lo, hi;
	unsigned int i;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * (double)h->count + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= want)
			break;
	}
	if (i >= HIST_BUCKETS - 1)
		return h->max;
	lo = hist_lowest(i);
	hi = hist_lowest(i + 1);
	lo += (hi - lo) / 2;
	return lo > h->max ? h->max : lo;
}
