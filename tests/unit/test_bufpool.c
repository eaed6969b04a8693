/* SPDX-License-Identifier: MIT */
/* Buffers on demand: a buf has memory only while it holds bytes, the free
 * list reuses and trims what stayed idle for a whole period, ring buffers go
 * back to the ring and never into the free list. */
#include "t.h"

#include "bufpool.h"
#include "loop.h"

TEST(a_buffer_exists_only_while_it_holds_bytes)
{
	struct bufpool p = { 0 };
	struct buf b = { 0 };
	unsigned char *first;

	ASSERT(bufpool_want(&p, &b) == 0);
	ASSERT(b.base);
	EXPECT_EQ(b.cap, BUF_SIZE);
	EXPECT_EQ(b.head, 0);
	EXPECT_EQ(b.tail, 0);
	first = b.base;
	memset(b.base, 'x', 10);
	b.tail = 10;
	bufpool_drop_if_empty(&p, &b);
	EXPECT(b.base == first);	/* bytes in it: kept */
	b.head = 10;
	bufpool_drop_if_empty(&p, &b);
	EXPECT(b.base == NULL);
	EXPECT_EQ(b.cap, 0);
	EXPECT_EQ(p.n_free, 1);
	ASSERT(bufpool_want(&p, &b) == 0);
	EXPECT(b.base == first);	/* the warm one again */
	EXPECT_EQ(p.n_total, 1);
	bufpool_drop_if_empty(&p, &b);
	bufpool_exit(&p);
	EXPECT_EQ(p.n_total, 0);
}

TEST(want_keeps_an_existing_buffer)
{
	struct bufpool p = { 0 };
	struct buf b = { 0 };
	unsigned char *base;

	ASSERT(bufpool_want(&p, &b) == 0);
	base = b.base;
	b.tail = 7;
	ASSERT(bufpool_want(&p, &b) == 0);
	EXPECT(b.base == base);
	EXPECT_EQ(b.tail, 7);
	bufpool_drop(&p, &b);	/* release: whatever it holds */
	EXPECT(b.base == NULL);
	EXPECT_EQ(p.n_free, 1);
	bufpool_exit(&p);
}

TEST(trim_gives_back_what_stayed_idle_a_whole_period)
{
	struct bufpool p = { 0 };
	struct buf b[10] = { 0 };
	unsigned int i;

	for (i = 0; i < 10; i++)
		ASSERT(bufpool_want(&p, &b[i]) == 0);
	for (i = 0; i < 10; i++)
		bufpool_drop(&p, &b[i]);
	EXPECT_EQ(p.n_free, 10);
	bufpool_trim(&p);	/* they were in use during this period */
	EXPECT_EQ(p.n_free, 10);
	bufpool_trim(&p);	/* idle for a whole one: all but BUF_KEEP go */
	EXPECT_EQ(p.n_free, BUF_KEEP);
	EXPECT_EQ(p.n_total, BUF_KEEP);
	/* In use again during the next period: nothing more goes. */
	ASSERT(bufpool_want(&p, &b[0]) == 0);
	ASSERT(bufpool_want(&p, &b[1]) == 0);
	bufpool_drop(&p, &b[0]);
	bufpool_drop(&p, &b[1]);
	bufpool_trim(&p);
	EXPECT_EQ(p.n_total, BUF_KEEP);
	bufpool_exit(&p);
}

TEST(ring_buffers_go_back_to_the_ring)
{
	struct bufpool p = { 0 };
	struct loop l = { 0 };
	struct buf b = { 0 };
	int ret;

	ASSERT(loop_init(&l, 8) == 0);
	ret = bufpool_init(&p, &l);
	if (ret == -EINVAL) {
		loop_exit(&l);
		t_skip("kernel without io_uring buffer rings");
		return;
	}
	ASSERT(ret == 0);
	EXPECT(bufpool_has_ring(&p));
	bufpool_adopt(&p, &b, 3);
	EXPECT(b.base == p.ring_mem + 3 * (size_t)BUF_SIZE);
	EXPECT_EQ(b.cap, BUF_SIZE);
	b.tail = 100;	/* as if a recv had filled it */
	bufpool_drop_if_empty(&p, &b);
	EXPECT(b.base != NULL);
	b.head = 100;
	bufpool_drop_if_empty(&p, &b);
	EXPECT(b.base == NULL);
	EXPECT_EQ(p.n_free, 0);	/* to the ring, not the free list */
	EXPECT_EQ(p.n_total, 0);
	loop_exit(&l);
	bufpool_exit(&p);
	EXPECT(!bufpool_has_ring(&p));
}
