/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the Prometheus text parser `ktlsgw stats` runs on
 * what an endpoint sends: any bytes, line by line, never a read past the
 * input; every sample has a valid name and NUL-terminated label strings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "promparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct prom_sample *s, void *arg)
{
	unsigned int i;

	(void)arg;
	if (!s->name[0] || strlen(s->name) >= PROM_NAME_MAX || s->n_labels > PROM_LABELS_MAX)
		__builtin_trap();
	for (i = 0; i < s->n_labels; i++)
		if (!s->labels[i].name[0] || strlen(s->labels[i].value) >= PROM_VALUE_MAX)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);	/* exact size: ASan sees overreads */
	unsigned int bad;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	promparse_text(buf, size, check, NULL, &bad);
	free(buf);
	return 0;
}
