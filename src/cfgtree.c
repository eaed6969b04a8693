/* SPDX-License-Identifier: MIT */
/* libyaml events -> a cfgnode tree with line:col on every node. The only file
 * that includes <yaml.h>. Bounded in depth and node count; aliases, complex
 * keys, duplicate keys and multiple documents are rejected with a position. */
#include "cfgtree.h"
#include "diag.h"

#include <errno.h>
#include <yaml.h>

struct builder {
	struct diag *d;
	struct cfgnode *root;		/* owned until returned */
	struct cfgnode *cur;		/* borrowed: open container */
	char *key;			/* owned: a mapping key awaiting its value */
	struct cfg_pos key_pos;
	unsigned int depth, n_nodes;
	unsigned int n_docs;
};

static struct cfg_pos mark_pos(yaml_mark_t m)
{
	struct cfg_pos p = { (int)m.line + 1, (int)m.column + 1 };

	return p;
}

void cfgtree_free(struct cfgnode *n)
{
	struct cfgnode *c, *next;

	if (!n)
		return;
	for (c = n->first; c; c = next) {
		next = c->next;
		cfgtree_free(c);
	}
	free(n->value);
	free(n->key);
	free(n);
}

static struct cfgnode *node_new(struct builder *b, enum cfgnode_type t, yaml_mark_t m)
{
	struct cfgnode *n;

	if (++b->n_nodes > CFGTREE_NODES_MAX) {
		diag_error(b->d, mark_pos(m), NULL, "document too large (more than %u nodes)",
			   CFGTREE_NODES_MAX);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		diag_error(b->d, mark_pos(m), NULL, "out of memory");
		return NULL;
	}
	n->type = t;
	n->pos = mark_pos(m);
	return n;
}

static void append(struct cfgnode *parent, struct cfgnode *n)
{
	n->parent = parent;
	n->index = parent->n_children++;
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
}

/* Hooks @n into the open container. A scalar in key position becomes the
 * pending key and is freed here. Returns 0 or -EINVAL (error reported). */
static int attach(struct builder *b, struct cfgnode *n)
{
	if (!b->cur) {
		b->root = n;
		return 0;
	}
	if (b->cur->type == CFGNODE_SEQ) {
		append(b->cur, n);
		return 0;
	}
	if (b->key) {
		n->key = b->key;
		n->key_pos = b->key_pos;
		b->key = NULL;
		append(b->cur, n);
		return 0;
	}
	if (n->type != CFGNODE_SCALAR || strlen(n->value) != n->len) {
		if (n->type != CFGNODE_SCALAR)
			diag_error(b->d, n->pos, NULL, "a %s used as a mapping key is not supported",
				   cfgtree_type_name(n->type));
		else
			diag_error(b->d, n->pos, NULL, "a mapping key contains a NUL byte");
		cfgtree_free(n);
		return -EINVAL;
	}
	b->key = n->value;
	b->key_pos = n->pos;
	n->value = NULL;
	cfgtree_free(n);
	return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	struct cfgnode *n = node_new(b, CFGNODE_SCALAR, ev->start_mark);

	if (!n)
		return -ENOMEM;
	n->value = malloc(ev->data.scalar.length + 1);
	if (!n->value) {
		cfgtree_free(n);
		return -ENOMEM;
	}
	memcpy(n->value, ev->data.scalar.value, ev->data.scalar.length);
	n->value[ev->data.scalar.length] = 0;
	n->len = ev->data.scalar.length;
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	return attach(b, n);
}

static int on_start(struct builder *b, const yaml_event_t *ev, enum cfgnode_type t)
{
	struct cfgnode *n;
	int ret;

	if (b->depth >= CFGTREE_DEPTH_MAX) {
		diag_error(b->d, mark_pos(ev->start_mark), NULL,
			   "nesting deeper than %u levels", CFGTREE_DEPTH_MAX);
		return -E2BIG;
	}
	n = node_new(b, t, ev->start_mark);
	if (!n)
		return -ENOMEM;
	ret = attach(b, n);
	if (ret < 0)
		return ret;
	b->cur = n;
	b->depth++;
	return 0;
}

static int cmp_key(const void *a, const void *b)
{
	const struct cfgnode *x = *(const struct cfgnode *const *)a;
	const struct cfgnode *y = *(const struct cfgnode *const *)b;
	int r = strcmp(x->key, y->key);

	if (r)
		return r;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Duplicate keys are an error (Milvus' YAML library refuses them too). Sorts
 * a pointer array so a huge mapping costs n log n, not n^2. */
static int check_dup_keys(struct builder *b, const struct cfgnode *map)
{
	const struct cfgnode **v, *c;
	char path[256];
	unsigned int i = 0;
	int ret = 0;

	if (map->n_children < 2)
		return 0;
	v = calloc(map->n_children, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (c = map->first; c; c = c->next)
		v[i++] = c;
	qsort(v, map->n_children, sizeof(*v), cmp_key);
	for (i = 1; i < map->n_children; i++) {
		if (strcmp(v[i - 1]->key, v[i]->key))
			continue;
		cfgtree_path(v[i], path, sizeof(path));
		diag_error(b->d, v[i]->key_pos, path, "duplicate key (first at line %d:%d)",
			   v[i - 1]->key_pos.line, v[i - 1]->key_pos.col);
		ret = -EINVAL;
	}
	free(v);
	return ret;
}

static int on_end(struct builder *b)
{
	struct cfgnode *n = b->cur;

	b->cur = n->parent;
	b->depth--;
	return n->type == CFGNODE_MAP ? check_dup_keys(b, n) : 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (b->n_docs++ == 0)
			return 0;
		diag_error(b->d, mark_pos(ev->start_mark), NULL,
			   "only one YAML document is supported");
		return -EINVAL;
	case YAML_ALIAS_EVENT:
		diag_error(b->d, mark_pos(ev->start_mark), NULL,
			   "YAML aliases (*%s) are not supported; repeat the value",
			   (const char *)ev->data.alias.anchor);
		return -EINVAL;
	case YAML_SCALAR_EVENT:
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(b, ev, CFGNODE_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_start(b, ev, CFGNODE_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(b);
	default:
		return 0;
	}
}

static void syntax_error(struct builder *b, const yaml_parser_t *p)
{
	struct cfg_pos pos = mark_pos(p->problem_mark);

	if (p->error == YAML_MEMORY_ERROR) {
		diag_error(b->d, pos, NULL, "out of memory while parsing YAML");
		return;
	}
	if (p->context)
		diag_error(b->d, pos, NULL, "YAML syntax error: %s %s (line %d:%d)",
			   p->problem ? p->problem : "invalid input", p->context,
			   (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
	else
		diag_error(b->d, pos, NULL, "YAML syntax error: %s",
			   p->problem ? p->problem : "invalid input");
}

/* Runs the event loop; returns 0 or a negative errno (error reported). */
static int build(struct builder *b, yaml_parser_t *p)
{
	yaml_event_t ev;
	int ret;

	for (;;) {
		if (!yaml_parser_parse(p, &ev)) {
			syntax_error(b, p);
			return -EINVAL;
		}
		ret = ev.type == YAML_STREAM_END_EVENT ? 1 : on_event(b, &ev);
		yaml_event_delete(&ev);
		if (ret)
			return ret > 0 ? 0 : ret;
	}
}

struct cfgnode *cfgtree_parse(const char *buf, size_t len, struct diag *d)
{
	struct builder b = { .d = d };
	struct cfg_pos zero = { 0, 0 };
	yaml_parser_t p;
	int ret;

	if (len > CFGTREE_INPUT_MAX) {
		diag_error(d, zero, NULL, "file too large (%zu bytes, limit %u)", len,
			   CFGTREE_INPUT_MAX);
		return NULL;
	}
	if (!yaml_parser_initialize(&p)) {
		diag_error(d, zero, NULL, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	ret = build(&b, &p);
	yaml_parser_delete(&p);
	free(b.key);
	if (ret == 0 && !b.root) {
		yaml_mark_t m = { 0, 0, 0 };

		b.root = node_new(&b, CFGNODE_MAP, m);
		if (!b.root)
			return NULL;
	}
	if (ret < 0) {
		cfgtree_free(b.root);
		return NULL;
	}
	return b.root;
}

struct cfgnode *cfgtree_get(const struct cfgnode *map, const char *key)
{
	struct cfgnode *c;

	if (!map || map->type != CFGNODE_MAP)
		return NULL;
	for (c = map->first; c; c = c->next)
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

bool cfgtree_is_null(const struct cfgnode *n)
{
	if (!n || n->type != CFGNODE_SCALAR || n->quoted)
		return false;
	return n->len == 0 || !strcmp(n->value, "~") || !strcmp(n->value, "null") ||
	       !strcmp(n->value, "Null") || !strcmp(n->value, "NULL");
}

static size_t path_into(const struct cfgnode *n, char *buf, size_t len)
{
	size_t off;
	int w;

	if (!n || !n->parent)
		return 0;
	off = path_into(n->parent, buf, len);
	if (off >= len)
		return off;
	if (n->parent->type == CFGNODE_SEQ)
		w = snprintf(buf + off, len - off, "[%u]", n->index);
	else
		w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", n->key);
	return w < 0 ? off : off + (size_t)w;
}

void cfgtree_path(const struct cfgnode *n, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = 0;
	path_into(n, buf, len);
}

const char *cfgtree_type_name(enum cfgnode_type t)
{
	static const char *const names[CFGNODE__COUNT] = { "scalar", "mapping", "list" };

	return t < CFGNODE__COUNT ? names[t] : "?";
}
