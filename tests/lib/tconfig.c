/* SPDX-License-Identifier: MIT */
/* tconfig.h: run a table case through config_load_buffer() and compare the
 * verdict, the diagnostics text and the error count. */
#include "tconfig.h"
#include "t.h"
#include "config.h"
#include "diag.h"

struct config *tconfig_load(const char *yaml, struct diag *d)
{
	diag_init(d, "t.yaml");
	return config_load_buffer("t.yaml", t_tmpdir(), yaml, strlen(yaml), d);
}

void tconfig_run_case(const struct ccase *k, int line)
{
	struct config *c;
	struct diag d;
	size_t i;

	c = tconfig_load(k->yaml, &d);
	if (k->ok != (c != NULL))
		t_fail(__FILE__, line, "case %s: %s; diagnostics:\n%s", k->name,
		       k->ok ? "rejected" : "accepted", d.text ? d.text : "");
	for (i = 0; i < ARRAY_SIZE(k->want) && k->want[i]; i++)
		if (!d.text || !strstr(d.text, k->want[i]))
			t_fail(__FILE__, line, "case %s: lacks \"%s\"; got:\n%s", k->name,
			       k->want[i], d.text ? d.text : "");
	if (k->n_errors >= 0 && (int)d.n_errors != k->n_errors)
		t_fail(__FILE__, line, "case %s: %u errors, expected %d:\n%s", k->name,
		       d.n_errors, k->n_errors, d.text ? d.text : "");
	config_free(c);
	diag_free(&d);
}
