/* SPDX-License-Identifier: MIT */
/* `ktlsgw check -c FILE`: load and validate a config; print a summary of the
 * listeners and the server certificate (exit 0), or every error (exit 1).
 * Usage errors exit 2. */
#include "cert.h"
#include "cmd.h"
#include "common.h"
#include "config.h"
#include "diag.h"

#include <getopt.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: ktlsgw check -c FILE\n\n"
		   "Validate a config (a milvus.yaml with a gateway: section) and print a\n"
		   "summary. Exit 0 when valid, 1 with every error otherwise, 2 on usage\n"
		   "errors.\n\n"
		   "  -c, --config FILE   the config to check\n"
		   "  -h, --help          this text\n");
}

static const char *version_name(int v)
{
	return v == 0x0304 ? "1.3" : v == 0x0303 ? "1.2" : "-";
}

/* "ip:port", or "name (ip:port)" for an address written as a host name. */
static void print_endpoint(const struct endpoint *ep)
{
	if (ep->name[0])
		printf("%s (%s)", ep->name, ep->text);
	else
		printf("%s", ep->text);
}

static void print_alpn(const struct listener_cfg *l)
{
	unsigned int i;

	printf("    alpn:         ");
	for (i = 0; i < l->n_alpn; i++) {
		printf("%s%s -> ", i ? ", " : "", l->alpn[i].proto);
		print_endpoint(l->alpn[i].has_upstream ? &l->alpn[i].upstream : &l->upstream);
	}
	printf("\n");
}

static void print_listener(const struct config *c, const struct listener_cfg *l)
{
	printf("  %s: ", l->name);
	print_endpoint(&l->bind);
	printf(" -> ");
	print_endpoint(&l->upstream);
	printf("\n");
	printf("    tlsMode:      %s\n", config_tls_mode_name(l->tls_mode));
	if (l->tls_mode != TLS_MODE_PLAIN) {
		printf("    min version:  TLS %s\n", version_name(l->min_version));
		print_alpn(l);
	}
	if (l->internal_tls)
		printf("    internal TLS: on (sni %s, ca %s)\n", c->internaltls_sni,
		       c->internaltls.ca_pem);
	else
		printf("    internal TLS: off\n");
	if (l->max_conns)
		printf("    max conns:    %u\n", l->max_conns);
}

static bool uses_tls(const struct config *c)
{
	unsigned int i;

	for (i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].tls_mode != TLS_MODE_PLAIN)
			return true;
	return false;
}

static bool uses_mutual(const struct config *c)
{
	unsigned int i;

	for (i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].tls_mode == TLS_MODE_MUTUAL)
			return true;
	return false;
}

struct dline {
	const char *text;	/* borrowed: points into the diag text */
	size_t len;
	long line, col;		/* 0 when the line has no position */
	size_t order;
};

/* "FILE:LINE:COL: ..." -> LINE and COL; the file name may hold colons, so
 * look for the first ":digits:digits: " after it. */
static void parse_pos(struct dline *l, size_t file_len)
{
	const char *p = l->text + file_len;
	char *end;

	l->line = l->col = 0;
	if (*p != ':')
		return;
	l->line = strtol(p + 1, &end, 10);
	if (*end == ':')
		l->col = strtol(end + 1, &end, 10);
	if (*end != ':')
		l->line = l->col = 0;
}

static int cmp_dline(const void *a, const void *b)
{
	const struct dline *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Prints the diagnostics in file order (they are collected per section). */
static void print_sorted(FILE *f, const struct diag *d)
{
	size_t n = 0, i = 0, flen = d->file ? strlen(d->file) : 0;
	struct dline *v;
	const char *p, *nl;

	for (p = d->text; p && *p; p = nl + 1, n++)
		nl = strchr(p, '\n');
	v = n ? calloc(n, sizeof(*v)) : NULL;
	if (!v) {
		fputs(d->text ? d->text : "", f);
		return;
	}
	for (p = d->text; *p; p = nl + 1, i++) {
		nl = strchr(p, '\n');
		v[i].text = p;
		v[i].len = (size_t)(nl - p) + 1;
		v[i].order = i;
		parse_pos(&v[i], flen);
	}
	qsort(v, n, sizeof(*v), cmp_dline);
	for (i = 0; i < n; i++)
		fwrite(v[i].text, 1, v[i].len, f);
	free(v);
}

static void print_cert(const char *path)
{
	char err[CERT_ERR_MAX];
	struct cert_info ci;

	if (cert_inspect(path, &ci, err) < 0) {
		printf("certificate: %s\n", err);
		return;
	}
	printf("server certificate: %s\n", path);
	printf("  subject:  %s\n", ci.subject);
	printf("  issuer:   %s\n", ci.issuer);
	printf("  SAN:      %s\n", ci.san[0] ? ci.san : "(none)");
	printf("  notAfter: %s (%ld days left)\n", ci.not_after_text,
	       cert_days_left(&ci, time(NULL)));
	if (ci.n_certs > 1)
		printf("  chain:    %u certificates in the file\n", ci.n_certs);
}

static void print_summary(const struct config *c, const struct diag *d)
{
	unsigned int i;

	printf("config: %s\n", c->path);
	printf("listeners:\n");
	for (i = 0; i < c->n_listeners; i++)
		print_listener(c, &c->listeners[i]);
	if (c->has_metrics)
		printf("metrics: http://%s/metrics\n", c->metrics.text);
	if (uses_tls(c))
		print_cert(c->tls.server_pem);
	if (uses_mutual(c))
		printf("client CA: %s\n", c->tls.ca_pem);
	if (d->n_warnings) {
		print_sorted(stdout, d);
		printf("%u warning%s\n", d->n_warnings, d->n_warnings == 1 ? "" : "s");
	}
	printf("OK\n");
}

static int check_file(const char *path)
{
	struct config *c;
	struct diag d;
	int ret = 0;

	diag_init(&d, path);
	c = config_load(path, &d);
	if (c) {
		print_summary(c, &d);
	} else {
		print_sorted(stderr, &d);
		fprintf(stderr, "%u error%s\n", d.n_errors, d.n_errors == 1 ? "" : "s");
		ret = 1;
	}
	config_free(c);
	diag_free(&d);
	return ret;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "ktlsgw check: bad option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!path || optind < argc) {
		fprintf(stderr, "ktlsgw check: %s\n",
			!path ? "missing -c FILE" : "unexpected argument");
		usage(stderr);
		return EXIT_USAGE;
	}
	return check_file(path);
}
