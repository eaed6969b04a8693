/* SPDX-License-Identifier: MIT */
/* Shared by config.c (tree walk, scalars, Milvus keys), config_gateway.c
 * (gateway: section, listeners, binds) and config_files.c (certificate and
 * key checks). Not part of the public API. */
#ifndef KTLSGW_CONFIG_PRIV_H
#define KTLSGW_CONFIG_PRIV_H

#include "cfgtree.h"
#include "config.h"
#include "diag.h"

#define CFG_PATH_TEXT 256

/* Where a listener's effective settings came from, for messages. */
struct lst_src {
	struct cfg_pos mode_pos;	/* the tlsMode that applies */
	struct cfg_pos itls_pos;	/* the internaltlsEnabled that applies */
	const struct cfgnode *node;	/* borrowed: the listener's mapping */
};

struct loader {
	struct diag *d;			/* borrowed */
	struct config *c;		/* borrowed: being filled */
	const struct cfgnode *root;	/* borrowed: the document */
	unsigned int errors0;		/* d->n_errors before this load */
	struct cfg_pos mode_pos;	/* common.security.tlsMode */
	struct cfg_pos itls_pos;	/* common.security.internaltlsEnabled */
	struct cfg_pos gateway_pos;
	struct lst_src src[CFG_LISTENERS_MAX];
};

/* Reports "path: reason" at @n's value position. */
void cfg_err(struct loader *ld, const struct cfgnode *n, const char *fmt, ...) __printf(3, 4);
void cfg_warn(struct loader *ld, const struct cfgnode *n, const char *fmt, ...) __printf(3, 4);
/* Reports "parent.key: reason" for a key missing from @parent. */
void cfg_err_missing(struct loader *ld, const struct cfgnode *parent, const char *key,
		     const char *fmt, ...) __printf(4, 5);

/* The value of @key in @map when present and not null, else NULL. */
const struct cfgnode *cfg_get(const struct cfgnode *map, const char *key);
/* True when @n has type @t; otherwise reports the mismatch. */
bool cfg_want(struct loader *ld, const struct cfgnode *n, enum cfgnode_type t);

/* Scalar readers: each checks the type and range, reports an error at @n
 * and returns -EINVAL, or stores the value and returns 0. */
__must_check int cfg_read_bool(struct loader *ld, const struct cfgnode *n, bool *out);
__must_check int cfg_read_uint(struct loader *ld, const struct cfgnode *n, unsigned long min,
			       unsigned long max, unsigned int *out);
__must_check int cfg_read_duration(struct loader *ld, const struct cfgnode *n, unsigned int *ms);
__must_check int cfg_read_string(struct loader *ld, const struct cfgnode *n, char **out);
__must_check int cfg_read_path(struct loader *ld, const struct cfgnode *n, char **out);
__must_check int cfg_read_endpoint(struct loader *ld, const struct cfgnode *n,
				   struct endpoint *ep);
__must_check int cfg_read_tls_mode(struct loader *ld, const struct cfgnode *n,
				   enum tls_mode *out);
__must_check int cfg_read_min_version(struct loader *ld, const struct cfgnode *n, int *out);

/* Errors (strict) or "did you mean" warnings for keys of @map outside @known
 * (NULL-terminated). @also lists keys that are valid but not read. */
void cfg_check_keys(struct loader *ld, const struct cfgnode *map, const char *const *known,
		    const char *const *also, bool strict);

/* Parses "a.b.c.d:port", "[v6]:port" or "localhost:port". Returns 0 or
 * -EINVAL with a static reason in @why. */
__must_check int cfg_parse_endpoint(const char *s, struct endpoint *ep, const char **why);
/* Parses "10s", "500ms", "2m", "1h" or bare seconds into milliseconds. */
__must_check int cfg_parse_duration(const char *s, unsigned int *ms, const char **why);

/* config_gateway.c */
void cfg_load_gateway(struct loader *ld);
/* config_files.c */
void cfg_check_files(struct loader *ld);

#endif
