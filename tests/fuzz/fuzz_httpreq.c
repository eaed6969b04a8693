/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the metrics endpoint's request parser: any bytes give
 * 0 (need more) or a known status, never a read past the input, and a 200
 * only for a head that starts with GET or HEAD /metrics. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);	/* exact size: ASan sees overreads */
	bool head = false;
	int st;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	st = httpreq_parse(buf, size, 8192, &head);
	if (st != 0 && st != 200 && st != 400 && st != 404 && st != 405 && st != 431 && st != 505)
		__builtin_trap();
	if (st == 200 && strncmp(buf, head ? "HEAD /metrics" : "GET /metrics", head ? 13 : 12))
		__builtin_trap();
	if (st == 0 && size >= 8192)
		__builtin_trap();
	free(buf);
	return 0;
}
