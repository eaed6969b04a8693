/* SPDX-License-Identifier: MIT */
/* A line-at-a-time parser for the Prometheus text format 0.0.4: what
 * `ktlsgw stats` reads from the endpoint. Pure: no I/O, no allocation. */
#ifndef KTLSGW_PROMPARSE_H
#define KTLSGW_PROMPARSE_H

#include "common.h"
#include "promparse-t.h"

/* Parses one line (@len bytes, no '\n'; a trailing '\r' is ignored).
 * Returns 1 with *s filled for a sample `name{l="v",...} value [timestamp]`,
 * 0 for a line without one (blank, # HELP, # TYPE, # comment), -EINVAL for a
 * malformed line, -E2BIG when a name, a value or the label count exceeds
 * the limits of promparse-t.h. */
__must_check int promparse_line(const char *line, size_t len, struct prom_sample *s);

/* Calls @fn for every sample of @text (@len bytes). Returns the number of
 * samples; *n_bad (when not NULL) gets the number of lines refused. */
unsigned int promparse_text(const char *text, size_t len, prom_sample_fn *fn, void *arg,
			    unsigned int *n_bad);

/* The value of label @name in @s, or NULL. */
const char *promparse_label(const struct prom_sample *s, const char *name);

#endif
