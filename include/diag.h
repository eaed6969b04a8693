/* SPDX-License-Identifier: MIT */
/* Diagnostics with positions: "file:line:col: key: reason" for errors,
 * "file:line:col: warning: key: reason" for warnings; a zero position (a
 * missing key, a built-in default) prints as "file: key: reason". */
#ifndef KTLSGW_DIAG_H
#define KTLSGW_DIAG_H

#include "common.h"
#include "config-t.h"
#include "diag-t.h"

void diag_init(struct diag *d, const char *file);
void diag_free(struct diag *d);
void diag_error(struct diag *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
	__printf(4, 5);
void diag_warn(struct diag *d, struct cfg_pos pos, const char *key, const char *fmt, ...)
	__printf(4, 5);

#endif
