/* SPDX-License-Identifier: MIT */
/* Prometheus text format 0.0.4, one line at a time: `name{label="value",...}
 * value [timestamp]`, with label values unescaped (\\, \", \n). Comments,
 * HELP and TYPE lines carry no sample. Fuzzable: pure, bounded, no malloc. */
#include "promparse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

struct cur {
	const char *p, *end;
};

static bool at_end(const struct cur *c)
{
	return c->p >= c->end;
}

static void skip_blank(struct cur *c)
{
	while (!at_end(c) && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static bool is_alpha_(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_name_char(char ch, bool colon_ok)
{
	return is_alpha_(ch) || (ch >= '0' && ch <= '9') || (colon_ok && ch == ':');
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metrics; labels have no ':'. */
static int read_name(struct cur *c, char *out, bool colon_ok)
{
	size_t n = 0;

	if (at_end(c) || !(is_alpha_(*c->p) || (colon_ok && *c->p == ':')))
		return -EINVAL;
	while (!at_end(c) && is_name_char(*c->p, colon_ok)) {
		if (n + 1 >= PROM_NAME_MAX)
			return -E2BIG;
		out[n++] = *c->p++;
	}
	out[n] = '\0';
	return 0;
}

static int unescape(char ch, char *out)
{
	if (ch == '\\' || ch == '"')
		*out = ch;
	else if (ch == 'n')
		*out = '\n';
	else
		return -EINVAL;
	return 0;
}

/* "..." with \\, \" and \n; the opening quote is at c->p. */
static int read_value(struct cur *c, char *out)
{
	size_t n = 0;
	char ch;

	if (at_end(c) || *c->p != '"')
		return -EINVAL;
	for (c->p++; !at_end(c) && *c->p != '"'; c->p++) {
		ch = *c->p;
		if (ch == '\\' && (++c->p == c->end || unescape(*c->p, &ch) < 0))
			return -EINVAL;
		if (n + 1 >= PROM_VALUE_MAX)
			return -E2BIG;
		out[n++] = ch;
	}
	if (at_end(c))
		return -EINVAL;	/* unterminated */
	c->p++;
	out[n] = '\0';
	return 0;
}

static int read_label(struct cur *c, struct prom_label *l)
{
	int ret;

	ret = read_name(c, l->name, false);
	if (ret < 0)
		return ret;
	skip_blank(c);
	if (at_end(c) || *c->p != '=')
		return -EINVAL;
	c->p++;
	skip_blank(c);
	return read_value(c, l->value);
}

/* '{' already consumed; reads up to and including '}'. A trailing comma is
 * allowed, as in Prometheus's own parser. */
static int read_labels(struct cur *c, struct prom_sample *s)
{
	int ret;

	for (;;) {
		skip_blank(c);
		if (!at_end(c) && *c->p == '}')
			break;
		if (s->n_labels == PROM_LABELS_MAX)
			return -E2BIG;
		ret = read_label(c, &s->labels[s->n_labels]);
		if (ret < 0)
			return ret;
		s->n_labels++;
		skip_blank(c);
		if (!at_end(c) && *c->p == ',')
			c->p++;
		else if (at_end(c) || *c->p != '}')
			return -EINVAL;
	}
	c->p++;
	return 0;
}

/* A whitespace-delimited token as a double ("+Inf", "NaN" included), or
 * with @integer an int64 timestamp. */
static int read_number(struct cur *c, double *v, bool integer)
{
	char tok[64], *end;
	size_t n = 0;

	while (!at_end(c) && *c->p != ' ' && *c->p != '\t') {
		if (n + 1 >= sizeof(tok))
			return -EINVAL;
		tok[n++] = *c->p++;
	}
	tok[n] = '\0';
	if (!n)
		return -EINVAL;
	errno = 0;
	if (integer)
		*v = (double)strtoll(tok, &end, 10);
	else
		*v = strtod(tok, &end);
	return *end || (integer && errno) ? -EINVAL : 0;
}

static int read_sample(struct cur *c, struct prom_sample *s)
{
	const char *after;
	double ts;
	int ret;

	ret = read_name(c, s->name, true);
	if (ret < 0)
		return ret;
	after = c->p;
	skip_blank(c);
	if (!at_end(c) && *c->p == '{') {
		c->p++;
		ret = read_labels(c, s);
		if (ret < 0)
			return ret;
		after = c->p;
		skip_blank(c);
	}
	if (at_end(c) || c->p == after)	/* the value needs a blank before it */
		return -EINVAL;
	ret = read_number(c, &s->value, false);
	if (ret < 0)
		return ret;
	skip_blank(c);
	if (!at_end(c) && read_number(c, &ts, true) < 0)
		return -EINVAL;
	skip_blank(c);
	return at_end(c) ? 1 : -EINVAL;
}

int promparse_line(const char *line, size_t len, struct prom_sample *s)
{
	struct cur c = { .p = line, .end = line + len };

	if (len && line[len - 1] == '\r')
		c.end--;
	s->n_labels = 0;
	s->name[0] = '\0';
	skip_blank(&c);
	if (at_end(&c) || *c.p == '#')
		return 0;
	return read_sample(&c, s);
}

unsigned int promparse_text(const char *text, size_t len, prom_sample_fn *fn, void *arg,
			    unsigned int *n_bad)
{
	const char *p = text, *end = text + len, *eol;
	unsigned int n = 0, bad = 0;
	struct prom_sample s;
	int ret;

	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		ret = promparse_line(p, (size_t)(eol - p), &s);
		if (ret < 0) {
			bad++;
		} else if (ret == 1) {
			n++;
			fn(&s, arg);
		}
	}
	if (n_bad)
		*n_bad = bad;
	return n;
}

const char *promparse_label(const struct prom_sample *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->n_labels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}
