/* SPDX-License-Identifier: MIT */
/* cfgtree.c: node types and line:col positions, dotted paths, and rejection
 * of what the loader must never trust: syntax errors, aliases, duplicate
 * keys, several documents, too deep nesting, too many nodes. */
#include "t.h"
#include "cfgtree.h"
#include "diag.h"

#include <stdlib.h>

static struct cfgnode *parse(const char *text, struct diag *d)
{
	diag_init(d, "t.yaml");
	return cfgtree_parse(text, strlen(text), d);
}

TEST(types_and_positions)
{
	const char *y = "a: 1\n"
			"b:\n"
			"  c: 'x'\n"
			"  d: [p, q]\n"
			"e:\n"
			"  - k: v\n";
	struct diag d;
	struct cfgnode *r = parse(y, &d), *n;

	ASSERT(r);
	EXPECT_EQ(r->type, CFGNODE_MAP);
	EXPECT_EQ(r->n_children, 3);
	n = cfgtree_get(r, "a");
	ASSERT(n);
	EXPECT_EQ(n->type, CFGNODE_SCALAR);
	EXPECT_STR_EQ(n->value, "1");
	EXPECT_EQ(n->pos.line, 1);
	EXPECT_EQ(n->pos.col, 4);
	EXPECT_EQ(n->key_pos.col, 1);
	EXPECT(!n->quoted);
	n = cfgtree_get(cfgtree_get(r, "b"), "c");
	ASSERT(n);
	EXPECT(n->quoted);
	EXPECT_EQ(n->pos.line, 3);
	EXPECT_EQ(n->pos.col, 6);
	n = cfgtree_get(cfgtree_get(r, "b"), "d");
	ASSERT(n);
	EXPECT_EQ(n->type, CFGNODE_SEQ);
	EXPECT_EQ(n->n_children, 2);
	EXPECT_STR_EQ(n->last->value, "q");
	EXPECT_EQ(n->last->pos.col, 10);
	n = cfgtree_get(cfgtree_get(r, "e")->first, "k");
	ASSERT(n);
	EXPECT_EQ(n->pos.line, 6);
	EXPECT_EQ(n->pos.col, 8);
	EXPECT_EQ(d.n_errors, 0);
	cfgtree_free(r);
	diag_free(&d);
}

TEST(path_names_lists_and_keys)
{
	struct diag d;
	struct cfgnode *r = parse("gateway:\n  listeners:\n    - a: 1\n    - bind: x\n", &d);
	char path[128];

	ASSERT(r);
	cfgtree_path(cfgtree_get(cfgtree_get(r, "gateway"), "listeners")->last->first, path,
		     sizeof(path));
	EXPECT_STR_EQ(path, "gateway.listeners[1].bind");
	cfgtree_path(r, path, sizeof(path));
	EXPECT_STR_EQ(path, "");
	cfgtree_free(r);
	diag_free(&d);
}

TEST(null_values)
{
	struct diag d;
	struct cfgnode *r = parse("a:\nb: ~\nc: null\nd: ''\ne: x\n", &d);

	ASSERT(r);
	EXPECT(cfgtree_is_null(cfgtree_get(r, "a")));
	EXPECT(cfgtree_is_null(cfgtree_get(r, "b")));
	EXPECT(cfgtree_is_null(cfgtree_get(r, "c")));
	EXPECT(!cfgtree_is_null(cfgtree_get(r, "d")));
	EXPECT(!cfgtree_is_null(cfgtree_get(r, "e")));
	EXPECT(cfgtree_get(r, "zz") == NULL);
	cfgtree_free(r);
	diag_free(&d);
}

TEST(empty_document_is_empty_map)
{
	struct diag d;
	struct cfgnode *r = parse("# only a comment\n", &d);

	ASSERT(r);
	EXPECT_EQ(r->type, CFGNODE_MAP);
	EXPECT_EQ(r->n_children, 0);
	cfgtree_free(r);
	diag_free(&d);
}

TEST(syntax_error_has_position)
{
	struct diag d;
	struct cfgnode *r = parse("a: 1\nb: [1, 2\nc: 3\n", &d);

	EXPECT(r == NULL);
	EXPECT_EQ(d.n_errors, 1);
	EXPECT_STR_CONTAINS(d.text,
			    "t.yaml:3:2: YAML syntax error: did not find expected ',' or ']'");
	diag_free(&d);
	r = parse("a: 1\n  b: 2\n", &d);
	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text,
			    "t.yaml:2:4: YAML syntax error: mapping values are not allowed");
	diag_free(&d);
}

TEST(tab_indent_is_error)
{
	struct diag d;
	struct cfgnode *r = parse("a:\n\tb: 1\n", &d);

	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:2:1: YAML syntax error:");
	diag_free(&d);
}

TEST(alias_rejected)
{
	struct diag d;
	struct cfgnode *r = parse("a: &x 1\nb: *x\n", &d);

	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:2:4: YAML aliases (*x) are not supported");
	diag_free(&d);
}

TEST(anchor_alone_is_fine)
{
	struct diag d;
	struct cfgnode *r = parse("a: &x 1\n", &d);

	ASSERT(r);
	EXPECT_STR_EQ(cfgtree_get(r, "a")->value, "1");
	cfgtree_free(r);
	diag_free(&d);
}

TEST(duplicate_keys_rejected)
{
	struct diag d;
	struct cfgnode *r = parse("tls:\n  caPemPath: a\n  caPemPath: b\n", &d);

	EXPECT(r == NULL);
	EXPECT_EQ(d.n_errors, 1);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:3:3: tls.caPemPath: duplicate key (first at line 2:3)");
	diag_free(&d);
}

TEST(complex_key_rejected)
{
	struct diag d;
	struct cfgnode *r = parse("? [a, b]\n: 1\n", &d);

	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "a list used as a mapping key is not supported");
	diag_free(&d);
}

TEST(second_document_rejected)
{
	struct diag d;
	struct cfgnode *r = parse("a: 1\n---\nb: 2\n", &d);

	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:2:1: only one YAML document is supported");
	diag_free(&d);
}

static char *nested(unsigned int depth)
{
	char *s = malloc(depth * 2 + 8), *p = s;
	unsigned int i;

	for (i = 0; i < depth; i++)
		*p++ = '[';
	for (i = 0; i < depth; i++)
		*p++ = ']';
	*p = 0;
	return s;
}

TEST(depth_limit)
{
	struct diag d;
	char *ok = nested(CFGTREE_DEPTH_MAX), *deep = nested(CFGTREE_DEPTH_MAX + 1);
	struct cfgnode *r;

	r = parse(ok, &d);
	EXPECT(r != NULL);
	cfgtree_free(r);
	diag_free(&d);
	r = parse(deep, &d);
	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:1:65: nesting deeper than 64 levels");
	diag_free(&d);
	free(ok);
	free(deep);
}

TEST(node_limit)
{
	size_t n = CFGTREE_NODES_MAX + 10, i;
	char *s = malloc(n * 3 + 4), *p = s;
	struct diag d;
	struct cfgnode *r;

	*p++ = '[';
	for (i = 0; i < n; i++) {
		*p++ = '1';
		*p++ = ',';
	}
	p[-1] = ']';
	*p = 0;
	r = parse(s, &d);
	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "document too large (more than 200000 nodes)");
	diag_free(&d);
	free(s);
}

TEST(embedded_nul_kept_with_length)
{
	struct diag d;
	struct cfgnode *r;

	diag_init(&d, "t.yaml");
	r = cfgtree_parse("a: \"x\\0y\"\n", 10, &d);
	ASSERT(r);
	EXPECT_EQ(cfgtree_get(r, "a")->len, 3);
	cfgtree_free(r);
	diag_free(&d);
}

TEST(nul_in_key_rejected)
{
	struct diag d;
	struct cfgnode *r;

	diag_init(&d, "t.yaml");
	r = cfgtree_parse("\"a\\0b\": 1\n", 10, &d);
	EXPECT(r == NULL);
	EXPECT_STR_CONTAINS(d.text, "t.yaml:1:1: a mapping key contains a NUL byte");
	diag_free(&d);
}
