/* SPDX-License-Identifier: MIT */
/* libyaml -> struct cfgnode tree (cfgtree.c is the only includer of yaml.h). */
#ifndef KTLSGW_CFGTREE_H
#define KTLSGW_CFGTREE_H

#include "common.h"
#include "cfgtree-t.h"
#include "diag-t.h"

/* Parses one YAML document from @buf. Returns the root (free with
 * cfgtree_free) or NULL after adding every syntax, limit, alias or
 * duplicate-key error to @d. An empty document gives an empty mapping. */
struct cfgnode *cfgtree_parse(const char *buf, size_t len, struct diag *d);

void cfgtree_free(struct cfgnode *n);

/* The value under @key in mapping @map, or NULL (also when @map is NULL or
 * not a mapping). Borrowed from the tree. */
struct cfgnode *cfgtree_get(const struct cfgnode *map, const char *key);

/* True for an empty plain scalar, "~" or "null" (YAML's null). */
bool cfgtree_is_null(const struct cfgnode *n);

/* Writes the dotted path of @n ("gateway.listeners[1].bind") into @buf. */
void cfgtree_path(const struct cfgnode *n, char *buf, size_t len);

/* "scalar", "mapping" or "list". */
const char *cfgtree_type_name(enum cfgnode_type t);

#endif
