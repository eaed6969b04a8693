/* SPDX-License-Identifier: MIT */
/* A YAML document as a tree of nodes, each with its line:col, so config.c can
 * name the exact spot of a problem without knowing libyaml. */
#ifndef KTLSGW_CFGTREE_T_H
#define KTLSGW_CFGTREE_T_H

#include <stdbool.h>
#include <stddef.h>

#include "config-t.h"

/* Bounds so hostile input cannot exhaust the stack or memory. */
#define CFGTREE_DEPTH_MAX 64
#define CFGTREE_NODES_MAX 200000
#define CFGTREE_INPUT_MAX (16u << 20)

enum cfgnode_type {
	CFGNODE_SCALAR = 0,
	CFGNODE_MAP,
	CFGNODE_SEQ,
	CFGNODE__COUNT
};

struct cfgnode {
	enum cfgnode_type type;
	struct cfg_pos pos;		/* where the value starts */
	char *value;			/* owned; scalars only, NUL-terminated */
	size_t len;			/* bytes in value (may hold NULs) */
	bool quoted;			/* scalar written '...' or "..." or block */
	char *key;			/* owned; set on a mapping's values */
	struct cfg_pos key_pos;		/* where that key starts */
	unsigned int index;		/* position in the parent sequence */
	struct cfgnode *parent;		/* borrowed: NULL at the root */
	struct cfgnode *first, *last;	/* owned children, in document order */
	struct cfgnode *next;		/* owned by the parent's list */
	unsigned int n_children;
};

#endif
