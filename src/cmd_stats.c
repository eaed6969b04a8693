/* SPDX-License-Identifier: MIT */
/* `ktlsgw stats`: reads the running gateway's /metrics (found through the
 * config's gateway.metrics, or --url) and prints one row per tlsMode:
 * connections, bytes per leg, TLS overhead, handshake p50/p99, failures and
 * offload share. --watch redraws it every few seconds. */
#include "cmd.h"
#include "common.h"
#include "config.h"
#include "diag.h"
#include "metrics-t.h"
#include "httpget.h"
#include "promparse.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define STATS_TIMEOUT_MS 5000
#define STATS_BUCKETS_MAX 32

/* One tlsMode, summed over its listeners. Client leg: in = from the client;
 * upstream leg: out = to Milvus. */
struct mode_stats {
	bool seen;
	double conns, active, failures;
	double c_in, c_out, u_in, u_out;
	double hs_ktls, hs_user;
	unsigned int n_le;
	double le[STATS_BUCKETS_MAX], cum[STATS_BUCKETS_MAX];	/* cumulative, as exposed */
};

struct stats {
	struct mode_stats mode[TLS_MODE__COUNT];
	int bpf;			/* ktlsgw_bpf_enabled, -1 when absent */
};

/* gateway.metrics as conf/ktlsgw.yaml and docs/configuration.md suggest it. */
#define STATS_DEFAULT_URL "http://127.0.0.1:9464/metrics"

/* Rounds of --watch before returning; 0 = until interrupted (tests set it). */
static unsigned int watch_rounds;

static void usage(FILE *f)
{
	fprintf(f, "usage: ktlsgw stats [-c FILE | --url URL] [--watch [SECONDS]]\n\n"
		   "Per-tlsMode figures of a running gateway, read from its metrics endpoint:\n"
		   "connections, active, bytes on the client leg (ciphertext) and the upstream\n"
		   "leg (plaintext), TLS overhead, handshake p50/p99, failures, kTLS share.\n\n"
		   "  -c, --config FILE   the gateway's config: its gateway.metrics address\n"
		   "                      (an unspecified address 0.0.0.0/[::] is read on loopback)\n"
		   "  -u, --url URL       the endpoint itself, http://HOST:PORT[/metrics]\n"
		   "  -w, --watch [SECS]  redraw every SECS seconds (default 2) until interrupted\n"
		   "  -h, --help          this text\n\n"
		   "With neither, reads " STATS_DEFAULT_URL " (the documented default of\n"
		   "gateway.metrics). Exit 0, 1 when the gateway cannot be read,\n"
		   "2 on usage errors.\n");
}

/* ---- where to read ---- */

/* Returns 0, or prints why and returns 1 (exit status). */
static int target_of_config(const char *path, struct http_target *t)
{
	struct config *c;
	struct diag d;
	int ret = 1;

	diag_init(&d, path);
	c = config_load(path, &d);
	if (!c) {
		fputs(d.text ? d.text : "", stderr);
		fprintf(stderr, "ktlsgw stats: %s: invalid config\n", path);
	} else if (!c->has_metrics) {
		fprintf(stderr, "ktlsgw stats: gateway.metrics is not set in %s: the gateway "
				"exposes no metrics\n", path);
	} else {
		httpget_target_of(&c->metrics, t);
		ret = 0;
	}
	config_free(c);
	diag_free(&d);
	return ret;
}

/* ---- figures ---- */

static void add_bucket(struct mode_stats *m, double le, double v)
{
	unsigned int i;

	for (i = 0; i < m->n_le && m->le[i] != le; i++)
		;
	if (i == STATS_BUCKETS_MAX)
		return;
	if (i == m->n_le) {
		m->le[m->n_le] = le;
		m->cum[m->n_le++] = 0;
	}
	m->cum[i] += v;
}

static void add_bytes(struct mode_stats *m, const char *leg, const char *dir, double v)
{
	bool c2u = !strcmp(dir, "client_to_upstream");

	if (!strcmp(leg, "client"))
		*(c2u ? &m->c_in : &m->c_out) += v;
	else if (!strcmp(leg, "upstream"))
		*(c2u ? &m->u_out : &m->u_in) += v;
}

static void on_sample(const struct prom_sample *s, void *arg)
{
	const char *mode = promparse_label(s, "tls_mode"), *leg = promparse_label(s, "leg");
	const char *dir = promparse_label(s, "direction"), *x;
	struct stats *st = arg;
	struct mode_stats *m;
	bool client = leg && !strcmp(leg, "client");

	if (!strcmp(s->name, "ktlsgw_bpf_enabled"))
		st->bpf = s->value != 0;
	if (!mode || mode[0] < '0' || mode[0] > '2' || mode[1])
		return;
	m = &st->mode[mode[0] - '0'];
	m->seen = true;
	if (!strcmp(s->name, "ktlsgw_connections_total") && client)
		m->conns += s->value;
	else if (!strcmp(s->name, "ktlsgw_active_connections") && client)
		m->active += s->value;
	else if (!strcmp(s->name, "ktlsgw_bytes_total") && leg && dir)
		add_bytes(m, leg, dir, s->value);
	else if (!strcmp(s->name, "ktlsgw_handshakes_total") && (x = promparse_label(s, "offload")))
		*(!strcmp(x, "ktls") ? &m->hs_ktls : &m->hs_user) += s->value;
	else if (!strcmp(s->name, "ktlsgw_handshake_failures_total"))
		m->failures += s->value;
	else if (!strcmp(s->name, "ktlsgw_handshake_duration_seconds_bucket") &&
		 (x = promparse_label(s, "le")))
		add_bucket(m, strtod(x, NULL), s->value);
}

static void sort_buckets(struct mode_stats *m)
{
	unsigned int i, j;
	double t;

	for (i = 1; i < m->n_le; i++)
		for (j = i; j > 0 && m->le[j - 1] > m->le[j]; j--) {
			t = m->le[j], m->le[j] = m->le[j - 1], m->le[j - 1] = t;
			t = m->cum[j], m->cum[j] = m->cum[j - 1], m->cum[j - 1] = t;
		}
}

/* Prometheus's histogram_quantile: find the bucket holding rank q*count and
 * interpolate linearly inside it; the +Inf bucket answers its lower bound.
 * NaN without observations. Buckets must be sorted. */
static double quantile(const struct mode_stats *m, double q)
{
	double total, rank, lo, prev;
	unsigned int i;

	if (m->n_le < 2 || !isinf(m->le[m->n_le - 1]) || m->cum[m->n_le - 1] <= 0)
		return NAN;
	total = m->cum[m->n_le - 1];
	rank = q * total;
	for (i = 0; i < m->n_le - 1 && m->cum[i] < rank; i++)
		;
	if (i == m->n_le - 1)
		return m->le[m->n_le - 2];
	lo = i ? m->le[i - 1] : 0;
	prev = i ? m->cum[i - 1] : 0;
	if (m->cum[i] == prev)
		return m->le[i];
	return lo + (m->le[i] - lo) * (rank - prev) / (m->cum[i] - prev);
}

/* ---- the table ---- */

static void fmt_bytes(char *buf, size_t len, double v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned int u = 0;

	while (v >= 1024 && u + 1 < ARRAY_SIZE(unit)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

static void fmt_seconds(char *buf, size_t len, double s)
{
	if (isnan(s))
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%.2f ms", s * 1000);
	else
		snprintf(buf, len, "%.2f s", s);
}

/* Client-leg bytes over upstream-leg bytes: what TLS framing and the
 * handshakes add (about 0% in mode 0). */
static void fmt_overhead(char *buf, size_t len, const struct mode_stats *m)
{
	double up = m->u_in + m->u_out, cl = m->c_in + m->c_out;

	if (up > 0)
		snprintf(buf, len, "%+.1f%%", (cl - up) / up * 100);
	else
		snprintf(buf, len, "-");
}

static void fmt_share(char *buf, size_t len, const struct mode_stats *m)
{
	double all = m->hs_ktls + m->hs_user;

	if (all > 0)
		snprintf(buf, len, "%.0f%%", m->hs_ktls / all * 100);
	else
		snprintf(buf, len, "-");
}

static void print_row(unsigned int mode, struct mode_stats *m)
{
	char b[4][24], over[16], p50[24], p99[24], share[16];

	sort_buckets(m);
	fmt_bytes(b[0], sizeof(b[0]), m->c_in);
	fmt_bytes(b[1], sizeof(b[1]), m->c_out);
	fmt_bytes(b[2], sizeof(b[2]), m->u_in);
	fmt_bytes(b[3], sizeof(b[3]), m->u_out);
	fmt_overhead(over, sizeof(over), m);
	fmt_seconds(p50, sizeof(p50), quantile(m, 0.5));
	fmt_seconds(p99, sizeof(p99), quantile(m, 0.99));
	fmt_share(share, sizeof(share), m);
	printf("%-16s %8.0f %7.0f %10s %10s %10s %10s %9s %9s %9s %7.0f %6s\n",
	       config_tls_mode_name(mode), m->conns, m->active, b[0], b[1], b[2], b[3], over, p50,
	       p99, m->failures, share);
}

static void print_table(const struct http_target *t, struct stats *st)
{
	unsigned int i;

	printf("gateway http://%s%s: connection figures %s\n", t->text, t->path,
	       st->bpf == 1 ? "from the kernel (eBPF, ktlsgw_bpf_enabled 1)"
			    : "from userspace counters (ktlsgw_bpf_enabled 0)");
	printf("%-16s %8s %7s %10s %10s %10s %10s %9s %9s %9s %7s %6s\n", "tlsMode", "conns",
	       "active", "client in", "client out", "up in", "up out", "overhead", "hs p50",
	       "hs p99", "failed", "ktls");
	for (i = 0; i < TLS_MODE__COUNT; i++)
		if (st->mode[i].seen)
			print_row(i, &st->mode[i]);
	printf("client in/out: bytes from/to clients (ciphertext in modes 1, 2); up in/out: from/to "
	       "Milvus;\noverhead: client-leg bytes over upstream-leg bytes; ktls: share of "
	       "handshakes offloaded to kTLS\n");
}

/* GETs the endpoint; 0, or 1 after printing why. */
static int fetch(const struct http_target *t, struct http_reply *r)
{
	int ret = httpget(t, STATS_TIMEOUT_MS, r);

	if (ret < 0 && !strcmp(r->failed_at, "connect"))
		fprintf(stderr, "ktlsgw stats: cannot reach the gateway at %s: %s\n", t->text,
			strerror(-ret));
	else if (ret < 0)
		fprintf(stderr, "ktlsgw stats: reading http://%s%s: %s\n", t->text, t->path,
			ret == -EBADMSG ? "not an HTTP answer" : strerror(-ret));
	else if (r->status != 200)
		fprintf(stderr, "ktlsgw stats: %s answered HTTP %d for %s\n", t->text, r->status,
			t->path);
	if (ret == 0 && r->status != 200)
		httpget_reply_free(r);
	return ret < 0 || r->status != 200;
}

/* One read and one table; 0, or 1 after printing why. */
static int show_once(const struct http_target *t)
{
	struct stats st = { .bpf = -1 };
	struct http_reply r;
	unsigned int n;

	if (fetch(t, &r))
		return 1;
	n = promparse_text(r.body, r.body_len, on_sample, &st, NULL);
	httpget_reply_free(&r);
	if (!n || st.bpf < 0) {
		fprintf(stderr, "ktlsgw stats: http://%s%s: not ktlsgw metrics (%u samples)\n",
			t->text, t->path, n);
		return 1;
	}
	print_table(t, &st);
	fflush(stdout);
	return 0;
}

/* Redraws until interrupted; a gateway that goes away is reported and
 * retried, except on the first round. */
static int watch(const struct http_target *t, unsigned int secs)
{
	bool tty = isatty(STDOUT_FILENO);
	unsigned int round;
	char when[32];
	time_t now;
	int ret;

	for (round = 0; !watch_rounds || round < watch_rounds; round++) {
		if (round)
			sleep(secs);
		if (tty)
			printf("\033[H\033[2J");
		now = time(NULL);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
		printf("%s (every %us, Ctrl-C to stop)\n", when, secs);
		ret = show_once(t);
		if (ret && !round)
			return ret;
	}
	return 0;
}

/* ---- arguments ---- */

struct opts {
	const char *config, *url;
	bool watch;
	unsigned int secs;
};

static int parse_secs(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v < 1 || v > 3600)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* --watch takes an optional separate argument: "--watch 5" and "--watch". */
static int parse_watch(int argc, char **argv, struct opts *o)
{
	o->watch = true;
	if (optarg)
		return parse_secs(optarg, &o->secs);
	if (optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
		return parse_secs(argv[optind++], &o->secs);
	return 0;
}

/* 0 to go on, -1 for --help, or EXIT_USAGE after printing why. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' }, { "url", required_argument, NULL, 'u' },
		{ "watch", optional_argument, NULL, 'w' },  { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0;	/* full reset: tests call us more than once */
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "c:u:w::h", lopts, NULL)) != -1) {
		if (ch == 'c')
			o->config = optarg;
		else if (ch == 'u')
			o->url = optarg;
		else if (ch == 'w' && parse_watch(argc, argv, o) < 0)
			return fprintf(stderr, "ktlsgw stats: --watch: seconds from 1 to 3600\n"),
			       EXIT_USAGE;
		else if (ch == 'h')
			return -1;
		else if (ch == '?')
			return EXIT_USAGE;
	}
	if (optind < argc)
		return fprintf(stderr, "ktlsgw stats: unexpected argument '%s'\n", argv[optind]),
		       EXIT_USAGE;
	if (o->config && o->url)
		return fprintf(stderr, "ktlsgw stats: give -c FILE or --url URL, not both\n"),
		       EXIT_USAGE;
	if (!o->config && !o->url)
		o->url = STATS_DEFAULT_URL;
	return 0;
}

int cmd_stats(int argc, char **argv)
{
	struct opts o = { .secs = 2 };
	struct http_target t;
	int ret;

	ret = parse_args(argc, argv, &o);
	if (ret) {
		usage(ret < 0 ? stdout : stderr);
		return ret < 0 ? 0 : ret;
	}
	if (o.url && httpget_parse_url(o.url, &t) < 0) {
		fprintf(stderr, "ktlsgw stats: --url '%s': expected http://HOST:PORT[/PATH]\n",
			o.url);
		return EXIT_USAGE;
	}
	if (o.config && target_of_config(o.config, &t))
		return 1;
	return o.watch ? watch(&t, o.secs) : show_once(&t);
}
