/* SPDX-License-Identifier: MIT */
/* One sample of the Prometheus text exposition format: name, labels with
 * their values unescaped, and the value. Fixed sizes: no allocation. */
#ifndef KTLSGW_PROMPARSE_T_H
#define KTLSGW_PROMPARSE_T_H

#include <stddef.h>

#define PROM_NAME_MAX 128	/* metric and label names, with the NUL */
#define PROM_VALUE_MAX 256	/* unescaped label values, with the NUL */
#define PROM_LABELS_MAX 16

struct prom_label {
	char name[PROM_NAME_MAX];
	char value[PROM_VALUE_MAX];
};

struct prom_sample {
	char name[PROM_NAME_MAX];
	unsigned int n_labels;
	struct prom_label labels[PROM_LABELS_MAX];
	double value;
};

/* Called for each sample of a text; @arg is the caller's. */
typedef void prom_sample_fn(const struct prom_sample *s, void *arg);

#endif
