/* SPDX-License-Identifier: MIT */
/* `ktlsgw cert gen|renew`: command-line options -> struct certgen_opts, the
 * work in certgen.c, then the files written and the server certificate's
 * summary. Exit 0 ok, 1 failure, 2 usage error. */
#include "certgen.h"
#include "cmd.h"
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum cert_verb { VERB_GEN = 0, VERB_RENEW, VERB__COUNT };

enum parse_result {
	PARSE_OK = 0,
	PARSE_HELP,  /* usage printed on stdout: exit 0 */
	PARSE_USAGE, /* error printed on stderr: exit 2 */
};

enum {
	OPT_DIR = 256,
	OPT_CN,
	OPT_SAN,
	OPT_DAYS,
	OPT_KEY_TYPE,
	OPT_BITS,
	OPT_FORCE,
};

static const char *const verb_names[VERB__COUNT] = { "gen", "renew" };

static const struct option long_opts[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "cn", required_argument, NULL, OPT_CN },
	{ "san", required_argument, NULL, OPT_SAN },
	{ "days", required_argument, NULL, OPT_DAYS },
	{ "key-type", required_argument, NULL, OPT_KEY_TYPE },
	{ "bits", required_argument, NULL, OPT_BITS },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ktlsgw cert gen   [--dir DIR] [--cn NAME] [--san DNS:x,IP:y,...] [--days "
		"N]\n"
		"                         [--key-type ec|rsa] [--bits 2048|3072] [--force]\n"
		"       ktlsgw cert renew [--dir DIR] [--cn NAME] [--san DNS:x,IP:y,...] [--days "
		"N]\n"
		"                         [--key-type ec|rsa] [--bits 2048|3072]\n"
		"\n"
		"gen writes the seven files of the Milvus documentation's gen.sh into DIR:\n"
		"ca.key ca.pem ca.srl server.key server.pem client.key client.pem. renew keeps\n"
		"ca.key and ca.pem, and issues new server.* and client.* under ca.srl's next "
		"serial.\n"
		"\n"
		"  --dir DIR        directory of the files (default: .; gen creates it, 0755)\n"
		"  --cn NAME        CommonName of both leaves, a DNS name or IP address; always\n"
		"                   also a subjectAltName (default: localhost)\n"
		"  --san LIST       more subjectAltNames, DNS:name or IP:address, "
		"comma-separated;\n"
		"                   may be repeated\n"
		"  --days N         validity of server and client certificates, 1..%d (default:\n"
		"                   %d); a new CA gets %d days\n"
		"  --key-type T     ec (P-256, the default) or rsa\n"
		"  --bits N         RSA key size: 2048 (default) or 3072\n"
		"  --force          gen: replace an existing CA (every certificate it signed\n"
		"                   stops verifying)\n"
		"\n"
		"Keys are written 0600, certificates and ca.srl 0644, each atomically.\n"
		"See docs/certificates.md.\n",
		CERTGEN_DAYS_MAX, CERTGEN_LEAF_DAYS, CERTGEN_CA_DAYS);
}

/* Decimal @s in [@lo, @hi]; 0 or -EINVAL. */
static int parse_uint(const char *s, unsigned int lo, unsigned int hi, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9)
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

static int bad_value(enum cert_verb verb, const char *opt, const char *why)
{
	fprintf(stderr, "ktlsgw cert %s: %s: %s\n", verb_names[verb], opt, why);
	return PARSE_USAGE;
}

/* Applies one option; PARSE_OK or PARSE_USAGE (message printed). */
static int opt_apply(struct certgen_opts *o, enum cert_verb verb, int opt, const char *arg,
		     bool *bits_set)
{
	char err[512];

	switch (opt) {
	case OPT_DIR:
		o->dir = arg;
		return arg[0] ? PARSE_OK : bad_value(verb, "--dir", "empty directory name");
	case OPT_CN:
		return certgen_set_cn(o, arg, err, sizeof(err)) ? bad_value(verb, "--cn", err)
								: PARSE_OK;
	case OPT_SAN:
		return certgen_add_sans(o, arg, err, sizeof(err)) ? bad_value(verb, "--san", err)
								  : PARSE_OK;
	case OPT_DAYS:
		snprintf(err, sizeof(err), "'%s': expected a whole number of days, 1 to %d", arg,
			 CERTGEN_DAYS_MAX);
		return parse_uint(arg, 1, CERTGEN_DAYS_MAX, &o->days)
			       ? bad_value(verb, "--days", err)
			       : PARSE_OK;
	case OPT_KEY_TYPE:
		if (strcmp(arg, "ec") && strcmp(arg, "rsa"))
			return bad_value(verb, "--key-type", "expected ec or rsa");
		o->key_type = strcmp(arg, "ec") ? CERTGEN_KEY_RSA : CERTGEN_KEY_EC;
		return PARSE_OK;
	case OPT_BITS:
		*bits_set = true;
		if (strcmp(arg, "2048") && strcmp(arg, "3072"))
			return bad_value(verb, "--bits", "RSA keys are 2048 or 3072 bits");
		o->bits = (unsigned int)atoi(arg);
		return PARSE_OK;
	case OPT_FORCE:
		if (verb != VERB_GEN)
			return bad_value(verb, "--force", "only gen replaces a CA; renew keeps it");
		o->force = true;
		return PARSE_OK;
	}
	BUG_ON(1);
	return PARSE_USAGE;
}

/* Reports what getopt_long() refused. */
static int opt_refused(enum cert_verb verb, int opt, char **argv)
{
	const char *what = argv[optind - 1];

	if (opt == ':')
		fprintf(stderr, "ktlsgw cert %s: option '%s' needs a value\n", verb_names[verb],
			what);
	else
		fprintf(stderr, "ktlsgw cert %s: unknown option '%s'\n", verb_names[verb], what);
	return PARSE_USAGE;
}

/* @argv[0] is the verb. */
static int opts_parse(int argc, char **argv, enum cert_verb verb, struct certgen_opts *o)
{
	bool bits_set = false;
	int opt, ret;

	optind = 0; /* glibc: full reset, the parse may run more than once */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:h", long_opts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return PARSE_HELP;
		}
		if (opt == '?' || opt == ':')
			return opt_refused(verb, opt, argv);
		ret = opt_apply(o, verb, opt, optarg, &bits_set);
		if (ret != PARSE_OK)
			return ret;
	}
	if (optind < argc) {
		fprintf(stderr, "ktlsgw cert %s: unexpected argument '%s'\n", verb_names[verb],
			argv[optind]);
		return PARSE_USAGE;
	}
	if (bits_set && o->key_type != CERTGEN_KEY_RSA)
		return bad_value(verb, "--bits", "only with --key-type rsa (EC keys are P-256)");
	return PARSE_OK;
}

static void report_print(enum cert_verb verb, const struct certgen_report *r)
{
	unsigned int i;

	if (r->note[0])
		fprintf(stderr, "ktlsgw cert %s: note: %s\n", verb_names[verb], r->note);
	printf("ktlsgw cert %s: wrote %u files\n", verb_names[verb], r->n_files);
	for (i = 0; i < r->n_files; i++)
		printf("  %04o  %s\n", r->files[i].mode, r->files[i].path);
	printf("server certificate\n"
	       "  subject: %s\n"
	       "  SAN:     %s\n"
	       "  serial:  %s\n"
	       "  expires: %s\n"
	       "client certificate\n"
	       "  serial:  %s\n",
	       r->subject, r->san, r->serial, r->not_after, r->client_serial);
}

static int verb_run(enum cert_verb verb, int argc, char **argv)
{
	struct certgen_report *r;
	struct certgen_opts o;
	int ret;

	certgen_opts_init(&o);
	ret = opts_parse(argc, argv, verb, &o);
	if (ret == PARSE_HELP)
		return 0;
	if (ret == PARSE_USAGE) {
		fprintf(stderr, "try 'ktlsgw cert %s --help'\n", verb_names[verb]);
		return EXIT_USAGE;
	}
	r = malloc(sizeof(*r)); /* ~10 KiB: keep it off the stack */
	if (!r) {
		fprintf(stderr, "ktlsgw cert %s: out of memory\n", verb_names[verb]);
		return 1;
	}
	ret = verb == VERB_GEN ? certgen_gen(&o, r) : certgen_renew(&o, r);
	if (ret < 0)
		fprintf(stderr, "ktlsgw cert %s: %s\n", verb_names[verb], r->err);
	else
		report_print(verb, r);
	free(r);
	return ret < 0 ? 1 : 0;
}

int cmd_cert(int argc, char **argv)
{
	unsigned int i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < VERB__COUNT; i++)
		if (!strcmp(argv[1], verb_names[i]))
			return verb_run((enum cert_verb)i, argc - 1, argv + 1);
	fprintf(stderr, "ktlsgw cert: unknown subcommand '%s' (expected gen or renew)\n", argv[1]);
	return EXIT_USAGE;
}
