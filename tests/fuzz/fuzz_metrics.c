/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the Prometheus renderer: arbitrary listener names and
 * modes, arbitrary counter values. Checks that the text is well formed (each
 * line a comment or "name{labels} value", quotes balanced, no raw newline in
 * a label) and that truncation yields a prefix and the same length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct metrics_counters snap;
static struct listener_cfg lst[4];

/* Label values: an even run of backslashes before a quote ends the value. */
static void check_sample(const char *line, size_t len)
{
	bool in_q = false;
	size_t i;

	if (!len || line[0] == ' ' || line[len - 1] == ' ')
		__builtin_trap();
	for (i = 0; i < len; i++) {
		if (in_q && line[i] == '\\') {
			i++;
			if (i >= len || !strchr("\\\"n", line[i]))
				__builtin_trap();
		} else if (line[i] == '"') {
			in_q = !in_q;
		}
	}
	if (in_q || !strchr("0123456789", line[len - 1]))
		__builtin_trap();
}

static void check_text(const char *txt, size_t n)
{
	const char *p = txt, *nl;

	if (strlen(txt) != n || (n && txt[n - 1] != '\n'))
		__builtin_trap();
	for (; (nl = strchr(p, '\n')); p = nl + 1) {
		if (!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7))
			continue;
		check_sample(p, (size_t)(nl - p));
	}
}

/* Input: byte 0 = listener count (1..4) and bpf flag; then per listener a
 * mode byte and a name (up to 63 bytes, NUL-terminated); the rest overlays
 * the counters. */
static size_t parse_listeners(const uint8_t *data, size_t size, unsigned int *n)
{
	size_t off = 1, len;
	unsigned int i;

	*n = (data[0] & 3) + 1;
	for (i = 0; i < *n; i++) {
		lst[i].tls_mode = off < size ? data[off++] % TLS_MODE__COUNT : TLS_MODE_PLAIN;
		len = off < size ? strnlen((const char *)data + off, size - off) : 0;
		if (len >= CFG_NAME_MAX)
			len = CFG_NAME_MAX - 1;
		memcpy(lst[i].name, data + off, len);
		lst[i].name[len] = '\0';
		off += len + (off + len < size);
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_view v = { .c = &snap, .listeners = lst };
	char small[512], *full;
	size_t off, n, cut;

	if (size < 1)
		return 0;
	memset(&snap, 0, sizeof(snap));
	memset(lst, 0, sizeof(lst));
	off = parse_listeners(data, size, &v.n_listeners);
	v.bpf_enabled = data[0] & 4;
	if (off < size)
		memcpy(&snap, data + off, size - off < sizeof(snap) ? size - off : sizeof(snap));
	n = metrics_render(&v, NULL, 0);
	full = malloc(n + 1);
	if (!full || metrics_render(&v, full, n + 1) != n)
		__builtin_trap();
	check_text(full, n);
	cut = 1 + (size % sizeof(small));
	if (metrics_render(&v, small, cut) != n || strncmp(small, full, strlen(small)) ||
	    strlen(small) != (n < cut ? n : cut - 1))
		__builtin_trap();
	free(full);
	return 0;
}
