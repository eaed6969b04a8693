/* SPDX-License-Identifier: MIT */
/* Buffers on demand (see bufpool.h). Free-list buffers are separate
 * mappings so a trim gives their pages back to the kernel at once; the
 * ring's buffers are one mapping whose pages the kernel touches only as
 * far as recvs fill them. Under ASan an idle buffer is poisoned, so an SQE
 * or a read that points into a returned buffer stops the SAN build. */
#include "bufpool.h"

#include <errno.h>
#include <sys/mman.h>

#include "log.h"
#include "loop.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUFPOOL_ASAN 1
#endif
#endif
#ifdef BUFPOOL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static size_t ring_bytes(void)
{
	return (size_t)BUF_RING_ENTRIES * BUF_SIZE;
}

static bool bufpool_is_ring_buf(const struct bufpool *p, const unsigned char *b)
{
	return p->ring_mem && b >= p->ring_mem && b < p->ring_mem + ring_bytes();
}

bool bufpool_has_ring(const struct bufpool *p)
{
	return p->ring_mem != NULL;
}

int bufpool_init(struct bufpool *p, struct loop *l)
{
	unsigned char *mem;
	unsigned int i;
	int ret;

	mem = mmap(NULL, ring_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	ret = loop_bufring_init(l, &p->ring, BUF_RING_ENTRIES, BUF_RING_GROUP);
	if (ret < 0) {
		munmap(mem, ring_bytes());
		return ret;
	}
	p->ring_mem = mem;
	for (i = 0; i < BUF_RING_ENTRIES; i++) {
		POISON(mem + (size_t)i * BUF_SIZE, BUF_SIZE);
		loop_bufring_add(&p->ring, mem + (size_t)i * BUF_SIZE, BUF_SIZE, i);
	}
	return 0;
}

static void unmap_free(struct bufpool *p, unsigned int n)
{
	while (n-- && p->free) {
		void *next;

		UNPOISON(p->free, sizeof(void *));
		next = *(void **)p->free;
		UNPOISON(p->free, BUF_SIZE);
		munmap(p->free, BUF_SIZE);
		p->free = next;
		p->n_free--;
		p->n_total--;
	}
}

void bufpool_exit(struct bufpool *p)
{
	unmap_free(p, p->n_free);
	loop_bufring_free(&p->ring);
	if (p->ring_mem) {
		UNPOISON(p->ring_mem, ring_bytes());
		munmap(p->ring_mem, ring_bytes());
	}
	p->ring_mem = NULL;
}

static unsigned char *take(struct bufpool *p)
{
	unsigned char *b = p->free;

	if (b) {
		UNPOISON(b, BUF_SIZE);
		p->free = *(void **)b;
		if (--p->n_free < p->n_free_low)
			p->n_free_low = p->n_free;
		return b;
	}
	b = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	p->n_total++;
	return b;
}

int bufpool_want(struct bufpool *p, struct buf *b)
{
	if (b->base)
		return 0;
	b->base = take(p);
	if (!b->base)
		return -ENOMEM;
	b->head = b->tail = 0;
	b->cap = BUF_SIZE;
	return 0;
}

void bufpool_adopt(struct bufpool *p, struct buf *b, unsigned int bid)
{
	BUG_ON(b->base || !p->ring_mem || bid >= BUF_RING_ENTRIES);
	*b = (struct buf){ p->ring_mem + (size_t)bid * BUF_SIZE, 0, 0, BUF_SIZE };
	UNPOISON(b->base, BUF_SIZE);
}

void bufpool_drop(struct bufpool *p, struct buf *b)
{
	unsigned char *base = b->base;

	*b = (struct buf){ NULL, 0, 0, 0 };
	if (!base)
		return;
	POISON(base, BUF_SIZE);
	if (bufpool_is_ring_buf(p, base)) {
		loop_bufring_add(&p->ring, base, BUF_SIZE,
				 (unsigned int)((size_t)(base - p->ring_mem) / BUF_SIZE));
		return;
	}
	UNPOISON(base, sizeof(void *));
	*(void **)base = p->free;
	POISON(base, BUF_SIZE);
	p->free = base;
	p->n_free++;
}

void bufpool_drop_if_empty(struct bufpool *p, struct buf *b)
{
	if (b->base && b->head == b->tail)
		bufpool_drop(p, b);
}

void bufpool_trim(struct bufpool *p)
{
	unsigned int n = p->n_free_low > BUF_KEEP ? p->n_free_low - BUF_KEEP : 0;

	/* n_free_low buffers went unused for a whole period: give them back
	 * (any of them: an idle buffer's pages are as good as another's). */
	unmap_free(p, n);
	p->n_free_low = p->n_free;
}
