/* SPDX-License-Identifier: MIT */
/* Prometheus text parser: samples with and without labels, escapes, special
 * values, timestamps, lines without a sample, and malformed lines refused;
 * then a whole render of the metrics module read back. */
#include "../lib/t.h"

#include <math.h>

#include "metrics.h"
#include "promparse.h"

struct pcase {
	const char *line;
	int ret;			/* promparse_line() result */
	const char *name;
	double value;
	const char *labels[3][2];	/* expected name/value pairs, in order */
};

static const struct pcase cases[] = {
	{ "up 1", 1, "up", 1 },
	{ "a_b:c 2.5", 1, "a_b:c", 2.5 },
	{ "m{} 3", 1, "m", 3 },
	{ "m{a=\"x\"} 4", 1, "m", 4, { { "a", "x" } } },
	{ "m{a=\"x\",b=\"\"} 5 1700000000000", 1, "m", 5, { { "a", "x" }, { "b", "" } } },
	{ "m{ a = \"x\" , } 6", 1, "m", 6, { { "a", "x" } } },	/* blanks, trailing comma */
	{ "m{l=\"q\\\"b\\\\s\\nn\"} 7", 1, "m", 7, { { "l", "q\"b\\s\nn" } } },
	{ "m{l=\"a,b}c=d\"} 8", 1, "m", 8, { { "l", "a,b}c=d" } } },
	{ "m{le=\"+Inf\"} 9\r", 1, "m", 9, { { "le", "+Inf" } } },
	{ "m\t-1e3", 1, "m", -1000 },
	{ "  m 10", 1, "m", 10 },
	{ "m 11   ", 1, "m", 11 },
	{ "", 0 },
	{ "   ", 0 },
	{ "# HELP m Some help.", 0 },
	{ "# TYPE m counter", 0 },
	{ "#just a comment", 0 },
	{ "m", -EINVAL },			/* no value */
	{ "m ", -EINVAL },
	{ "1m 1", -EINVAL },			/* name starts with a digit */
	{ "m{a=x} 1", -EINVAL },		/* unquoted value */
	{ "m{a=\"x} 1", -EINVAL },		/* unterminated */
	{ "m{a=\"x\"", -EINVAL },		/* no closing brace */
	{ "m{a=\"x\" b=\"y\"} 1", -EINVAL },	/* missing comma */
	{ "m{a:b=\"x\"} 1", -EINVAL },		/* ':' in a label name */
	{ "m{=\"x\"} 1", -EINVAL },
	{ "m{a=\"\\t\"} 1", -EINVAL },		/* unknown escape */
	{ "m{a=\"x\\", -EINVAL },		/* escape at the end */
	{ "m 1x", -EINVAL },
	{ "m 1 2 3", -EINVAL },			/* two timestamps */
	{ "m 1 1.5", -EINVAL },			/* timestamp not an integer */
	{ "m{a=\"x\"}1", -EINVAL },		/* no blank before the value */
	{ "m-x 1", -EINVAL },
};

static void check_case(const struct pcase *k)
{
	struct prom_sample s;
	unsigned int i, n = 0;
	int ret = promparse_line(k->line, strlen(k->line), &s);

	if (ret != k->ret) {
		t_fail(__FILE__, __LINE__, "'%s': returned %d, expected %d", k->line, ret, k->ret);
		return;
	}
	if (ret != 1)
		return;
	EXPECT_STR_EQ(s.name, k->name);
	EXPECT(s.value == k->value);
	for (i = 0; i < 3 && k->labels[i][0]; i++, n++) {
		EXPECT_STR_EQ(s.labels[i].name, k->labels[i][0]);
		EXPECT_STR_EQ(s.labels[i].value, k->labels[i][1]);
	}
	EXPECT_EQ(s.n_labels, n);
}

TEST(lines_table)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_case(&cases[i]);
}

TEST(special_values)
{
	struct prom_sample s;

	EXPECT_EQ(promparse_line("m +Inf", 6, &s), 1);
	EXPECT(isinf(s.value) && s.value > 0);
	EXPECT_EQ(promparse_line("m -Inf", 6, &s), 1);
	EXPECT(isinf(s.value) && s.value < 0);
	EXPECT_EQ(promparse_line("m NaN", 5, &s), 1);
	EXPECT(isnan(s.value));
}

/* The length bounds the line: bytes after it are not read. */
TEST(length_not_nul)
{
	struct prom_sample s;

	EXPECT_EQ(promparse_line("m 12garbage", 4, &s), 1);
	EXPECT(s.value == 12);
}

TEST(limits)
{
	char line[1024];
	struct prom_sample s;
	size_t n;
	int i;

	memset(line, 'a', PROM_NAME_MAX);
	snprintf(line + PROM_NAME_MAX, sizeof(line) - PROM_NAME_MAX, " 1");
	EXPECT_EQ(promparse_line(line, strlen(line), &s), -E2BIG);
	n = (size_t)snprintf(line, sizeof(line), "m{v=\"");
	memset(line + n, 'x', PROM_VALUE_MAX);
	snprintf(line + n + PROM_VALUE_MAX, sizeof(line) - n - PROM_VALUE_MAX, "\"} 1");
	EXPECT_EQ(promparse_line(line, strlen(line), &s), -E2BIG);
	n = (size_t)snprintf(line, sizeof(line), "m{");
	for (i = 0; i <= PROM_LABELS_MAX; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "l%d=\"v\",", i);
	snprintf(line + n, sizeof(line) - n, "} 1");
	EXPECT_EQ(promparse_line(line, strlen(line), &s), -E2BIG);
}

struct tally {
	unsigned int n;
	double sum;
	char last_listener[64];
};

static void count(const struct prom_sample *s, void *arg)
{
	struct tally *t = arg;
	const char *l = promparse_label(s, "listener");

	t->n++;
	if (!strcmp(s->name, "ktlsgw_connections_total"))
		t->sum += s->value;
	if (l)
		snprintf(t->last_listener, sizeof(t->last_listener), "%s", l);
}

TEST(text_counts_samples_and_bad_lines)
{
	static const char text[] = "# HELP x y\n# TYPE x counter\n"
				   "ktlsgw_connections_total{listener=\"a\"} 2\n"
				   "bad line here\n\n"
				   "ktlsgw_connections_total{listener=\"b\\\"c\"} 3";	/* no final \n */
	struct tally t = { 0 };
	unsigned int bad = 99;

	EXPECT_EQ(promparse_text(text, strlen(text), count, &t, &bad), 2);
	EXPECT_EQ(bad, 1);
	EXPECT(t.sum == 5);
	EXPECT_STR_EQ(t.last_listener, "b\"c");
}

/* What metrics_render writes, promparse reads back whole, escapes included. */
TEST(reads_the_render)
{
	static struct metrics_counters snap;
	static const struct listener_cfg lst[2] = {
		{ .name = "we\"ird\\name", .tls_mode = TLS_MODE_MUTUAL },
		{ .name = "rest", .tls_mode = TLS_MODE_PLAIN },
	};
	struct metrics_view v = { .c = &snap, .listeners = lst, .n_listeners = 2 };
	struct tally t = { 0 };
	unsigned int bad = 99;
	size_t need;
	char *buf;

	snap.conn[TLS_MODE_MUTUAL][0][METRICS_LEG_CLIENT].opened = 7;
	snap.conn[TLS_MODE_PLAIN][1][METRICS_LEG_UPSTREAM].opened = 5;
	need = metrics_render(&v, NULL, 0);
	buf = malloc(need + 1);
	ASSERT(buf);
	EXPECT_EQ(metrics_render(&v, buf, need + 1), need);
	EXPECT(promparse_text(buf, need, count, &t, &bad) > 100);
	EXPECT_EQ(bad, 0);
	EXPECT(t.sum == 12);
	free(buf);
}
