/* SPDX-License-Identifier: MIT */
/* Collected diagnostics: every config error and warning becomes one line of
 * text, "file:line:col: [warning: ]key: reason", kept in order so `ktlsgw
 * check` can print all of them. */
#include "diag.h"

#include <stdarg.h>

void diag_init(struct diag *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = file;
}

void diag_free(struct diag *d)
{
	free(d->text);
	d->text = NULL;
	d->len = d->cap = 0;
}

/* Makes room for @n more bytes plus a NUL; false when out of memory. */
static bool reserve(struct diag *d, size_t n)
{
	size_t cap = d->cap ? d->cap : 256;
	char *p;

	if (d->len + n + 1 <= d->cap)
		return true;
	while (cap < d->len + n + 1)
		cap *= 2;
	p = realloc(d->text, cap);
	if (!p)
		return false;
	d->text = p;
	d->cap = cap;
	return true;
}

static __printf(5, 0) void add_line(struct diag *d, struct cfg_pos pos, const char *tag,
				    const char *key, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	if (pos.line > 0)
		n = snprintf(line, sizeof(line), "%s:%d:%d: %s", d->file ? d->file : "-",
			     pos.line, pos.col, tag);
	else
		n = snprintf(line, sizeof(line), "%s: %s", d->file ? d->file : "-", tag);
	if (key && *key && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "%s: ", key);
	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = (int)strlen(line);
	if (d->echo)
		fprintf(stderr, "%s\n", line);
	if (!reserve(d, (size_t)n + 1))
		return;
	memcpy(d->text + d->len, line, (size_t)n);
	d->len += (size_t)n;
	d->text[d->len++] = '\n';
	d->text[d->len] = 0;
}

void diag_error(struct diag *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
{
	va_list ap;

	d->n_errors++;
	va_start(ap, fmt);
	add_line(d, pos, "", key, fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
{
	va_list ap;

	d->n_warnings++;
	va_start(ap, fmt);
	add_line(d, pos, "warning: ", key, fmt, ap);
	va_end(ap);
}
