/* SPDX-License-Identifier: MIT */
/* loadgen: TLS (or plain TCP) load against one host:port. Parses options,
 * starts the threads of workload.c, steps them through warm-up, the
 * measured window and stop, samples the CPU and RSS of the process under test
 * (--pid) at the window's edges, and prints one key=value line on stdout
 * plus a human summary on stderr. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "lg.h"

struct result {
	struct lg_stats st;
	double secs;
	struct proc_sample base, p0, p1;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen -t HOST:PORT [-w WORKLOAD] [options]\n"
		"  -w, --workload W     bulk-up | bulk-down | rr | connect | resume | idle (rr)\n"
		"  -c, --conns N        concurrent connections (16)\n"
		"  -T, --threads N      threads, connections spread over them (1)\n"
		"  -d, --duration S     measured seconds (5); idle: seconds held\n"
		"      --warmup S       seconds after all connections are up (0.5)\n"
		"      --req N          rr request bytes (3100)\n"
		"      --resp N         rr reply bytes (1500)\n"
		"      --req-file F     rr request payload read from F (sets --req)\n"
		"      --tls            TLS (verification needs --ca and --name)\n"
		"      --ca F --name N  trusted CA file and the name the server must prove\n"
		"      --cert F --key F client certificate (mutual TLS)\n"
		"      --tls-version V  1.2 | 1.3 (both allowed by default)\n"
		"      --ciphers L --ciphersuites L --groups L   OpenSSL lists\n"
		"      --insecure       TLS without verifying the server (not for results)\n"
		"      --pid P[,P..]    sample CPU (utime+stime) and RSS of these processes\n"
		"  -q, --quiet          no human summary\n");
}

static __must_check int parse_target(struct lg_opts *o, const char *s)
{
	char host[256];
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hl;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (*h == '[' && hl >= 2 && colon[-1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -EINVAL;
	memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
	o->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	o->target = s;
	return 0;
}

static __must_check int parse_pids(struct lg_opts *o, char *s)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->npids >= LG_MAX_PIDS || atoi(tok) <= 0)
			return -EINVAL;
		o->pids[o->npids++] = (pid_t)atoi(tok);
	}
	return 0;
}

static __must_check int load_req_file(struct lg_opts *o, const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET))
		goto out_close;
	free(o->req_buf);
	o->req_buf = malloc((size_t)n);
	if (!o->req_buf || fread(o->req_buf, 1, (size_t)n, f) != (size_t)n)
		goto out_close;
	o->req = (size_t)n;
	fclose(f);
	return 0;

out_close:
	fclose(f);
	return -EINVAL;
}

enum {
	OPT_WARMUP = 256, OPT_REQ, OPT_RESP, OPT_REQ_FILE, OPT_TLS, OPT_CA, OPT_NAME, OPT_CERT,
	OPT_KEY, OPT_TLSVER, OPT_CIPHERS, OPT_SUITES, OPT_GROUPS, OPT_INSECURE, OPT_PID,
};

static const struct option longopts[] = {
	{ "target", required_argument, NULL, 't' },	{ "workload", required_argument, NULL, 'w' },
	{ "conns", required_argument, NULL, 'c' },	{ "threads", required_argument, NULL, 'T' },
	{ "duration", required_argument, NULL, 'd' },	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },		{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "req", required_argument, NULL, OPT_REQ },	{ "resp", required_argument, NULL, OPT_RESP },
	{ "req-file", required_argument, NULL, OPT_REQ_FILE },
	{ "tls", no_argument, NULL, OPT_TLS },		{ "ca", required_argument, NULL, OPT_CA },
	{ "name", required_argument, NULL, OPT_NAME },	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "tls-version", required_argument, NULL, OPT_TLSVER },
	{ "ciphers", required_argument, NULL, OPT_CIPHERS },
	{ "ciphersuites", required_argument, NULL, OPT_SUITES },
	{ "groups", required_argument, NULL, OPT_GROUPS },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "pid", required_argument, NULL, OPT_PID },	{ NULL, 0, NULL, 0 },
};

/* One option; 0, or -EINVAL for a bad value. */
static __must_check int set_opt(struct lg_opts *o, int ch, char *arg)
{
	switch (ch) {
	case 't': return parse_target(o, arg);
	case 'w': return (int)(o->wl = lg_workload_parse(arg)) < 0 ? -EINVAL : 0;
	case 'c': o->conns = (unsigned int)atoi(arg); return o->conns ? 0 : -EINVAL;
	case 'T': o->threads = (unsigned int)atoi(arg); return o->threads ? 0 : -EINVAL;
	case 'd': o->secs = atof(arg); return o->secs > 0 ? 0 : -EINVAL;
	case 'q': o->quiet = 1; return 0;
	case OPT_WARMUP: o->warmup = atof(arg); return o->warmup >= 0 ? 0 : -EINVAL;
	case OPT_REQ: o->req = (size_t)atol(arg); return o->req ? 0 : -EINVAL;
	case OPT_RESP: o->resp = (size_t)atol(arg); return o->resp ? 0 : -EINVAL;
	case OPT_REQ_FILE: return load_req_file(o, arg);
	case OPT_TLS: o->tls = 1; return 0;
	case OPT_CA: o->ca = arg; return 0;
	case OPT_NAME: o->name = arg; return 0;
	case OPT_CERT: o->cert = arg; return 0;
	case OPT_KEY: o->key = arg; return 0;
	case OPT_TLSVER:
		o->tls_ver = !strcmp(arg, "1.2") ? 12 : !strcmp(arg, "1.3") ? 13 : -1;
		return o->tls_ver > 0 ? 0 : -EINVAL;
	case OPT_CIPHERS: o->ciphers = arg; return 0;
	case OPT_SUITES: o->ciphersuites = arg; return 0;
	case OPT_GROUPS: o->groups = arg; return 0;
	case OPT_INSECURE: o->insecure = 1; return 0;
	case OPT_PID: return parse_pids(o, arg);
	default: return -EINVAL;
	}
}

static __must_check int parse_args(struct lg_opts *o, int argc, char **argv)
{
	int ch;

	*o = (struct lg_opts){ .wl = WL_RR, .conns = 16, .threads = 1, .secs = 5,
			       .warmup = 0.5, .req = 3100, .resp = 1500 };
	while ((ch = getopt_long(argc, argv, "t:w:c:T:d:qh", longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			exit(0);
		}
		if (set_opt(o, ch, optarg) < 0) {
			fprintf(stderr, "loadgen: bad option -%c %s\n", ch < 256 ? ch : '-',
				optarg ? optarg : "");
			return -EINVAL;
		}
	}
	if (!o->target || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	if (o->threads > o->conns)
		o->threads = o->conns;
	return 0;
}

/* The request payload: a --req-file, else a byte pattern of --req bytes. */
static __must_check int make_req(struct lg_opts *o)
{
	size_t i;

	if (o->req_buf)
		return 0;
	o->req_buf = malloc(o->req);
	if (!o->req_buf)
		return -ENOMEM;
	for (i = 0; i < o->req; i++)
		o->req_buf[i] = (unsigned char)('a' + i % 26);
	return 0;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s,
			       .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void set_phase(enum lg_phase ph)
{
	__atomic_store_n(&lg_phase, ph, __ATOMIC_RELEASE);
}

/* True once no slot got up after a second and every slot has failed at least once. */
static int start_is_hopeless(const struct lg_opts *o, double waited)
{
	return waited > 1 && !__atomic_load_n(&lg_established, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&lg_failures, __ATOMIC_RELAXED) >= o->conns;
}

/* Bounded wait until every slot has been established once. */
static void wait_established(const struct lg_opts *o)
{
	double limit = 10 + o->conns / 200.0, waited = 0;

	if (o->wl == WL_CONNECT || o->wl == WL_RESUME)
		return;
	while (__atomic_load_n(&lg_established, __ATOMIC_RELAXED) < o->conns && waited < limit &&
	       !start_is_hopeless(o, waited)) {
		sleep_s(0.01);
		waited += 0.01;
	}
	if (__atomic_load_n(&lg_established, __ATOMIC_RELAXED) < o->conns)
		fprintf(stderr, "loadgen: only %u of %u connections up after %.1fs\n",
			__atomic_load_n(&lg_established, __ATOMIC_RELAXED), o->conns, waited);
}

static __must_check int threads_init(struct lg_thread *ths, const struct lg_opts *o,
				     struct ssl_ctx_st *ctx)
{
	unsigned int t, i, per;

	for (t = 0; t < o->threads; t++) {
		per = o->conns / o->threads + (t < o->conns % o->threads);
		ths[t] = (struct lg_thread){ .nconns = per, .o = o, .ctx = ctx };
		ths[t].conns = calloc(per, sizeof(*ths[t].conns));
		ths[t].ep = epoll_create1(EPOLL_CLOEXEC);
		if (!ths[t].conns || ths[t].ep < 0)
			return -ENOMEM;
		for (i = 0; i < per; i++)
			ths[t].conns[i] = (struct lg_conn){ .fd = -1, .th = &ths[t] };
	}
	return 0;
}

static void threads_free(struct lg_thread *ths, unsigned int n)
{
	unsigned int t;

	if (!ths)
		return;
	for (t = 0; t < n; t++) {
		free(ths[t].conns);
		if (ths[t].ep >= 0)
			close(ths[t].ep);
	}
	free(ths);
}

/* Runs the phases; fills @r with merged counters and the /proc samples. */
static __must_check int run(const struct lg_opts *o, struct ssl_ctx_st *ctx, struct result *r)
{
	struct lg_thread *ths = calloc(o->threads, sizeof(*ths));
	unsigned int t, started = 0;
	uint64_t t0, t1;
	int ret = -ENOMEM;

	if (!ths || threads_init(ths, o, ctx) < 0)
		goto out_free;
	proc_sample(o->pids, o->npids, &r->base);
	for (; started < o->threads; started++)
		if (pthread_create(&ths[started].tid, NULL, lg_thread_run, &ths[started]))
			goto out_stop;
	wait_established(o);
	sleep_s(o->warmup);
	proc_sample(o->pids, o->npids, &r->p0);
	t0 = lg_now_ns();
	set_phase(PH_MEASURE);
	sleep_s(o->secs);
	proc_sample(o->pids, o->npids, &r->p1);
	t1 = lg_now_ns();
	r->secs = (double)(t1 - t0) / 1e9;
	ret = 0;
out_stop:
	set_phase(PH_STOP);
	for (t = 0; t < started; t++) {
		pthread_join(ths[t].tid, NULL);
		r->st.bytes_up += ths[t].st.bytes_up;
		r->st.bytes_down += ths[t].st.bytes_down;
		r->st.reqs += ths[t].st.reqs;
		r->st.handshakes += ths[t].st.handshakes;
		r->st.resumed += ths[t].st.resumed;
		r->st.errors += ths[t].st.errors;
		hist_merge(&r->st.lat, &ths[t].st.lat);
	}
out_free:
	threads_free(ths, o->threads);
	return ret;
}

static double per(double num, double den)
{
	return den > 0 ? num / den : 0;
}

/* The derived figures of a run, computed once for both outputs. */
struct figures {
	double cpu;		/* CPU-s of the process under test in the window */
	double gb;		/* application bytes, both ways, in 1e9 */
	double rss10k;		/* kB of RSS growth per 10,000 connections */
	int have_cpu;
};

static void figures_of(const struct lg_opts *o, const struct result *r, struct figures *f)
{
	f->cpu = (double)(r->p1.cpu_ticks - r->p0.cpu_ticks) / (double)proc_ticks_per_s();
	f->gb = (double)(r->st.bytes_up + r->st.bytes_down) / 1e9;
	f->rss10k = per(((double)r->p1.rss_kb - (double)r->base.rss_kb) * 10000, o->conns);
	f->have_cpu = r->p0.ok && r->p1.ok;
}

/* The machine-readable line: key=value pairs, always the same keys in the same order. */
static void print_line(const struct lg_opts *o, const struct result *r, const struct figures *f)
{
	const struct lg_stats *st = &r->st;

	printf("workload=%s addr=%s tls=%s cipher=%s conns=%u threads=%u secs=%.3f reqs=%llu "
	       "errors=%llu handshakes=%llu resumed=%llu established=%u mb_up=%.1f mb_down=%.1f "
	       "mbps_up=%.1f mbps_down=%.1f rps=%.0f hsps=%.0f p50_us=%.1f p99_us=%.1f "
	       "p999_us=%.1f max_us=%.1f",
	       lg_workload_name(o->wl), o->target, o->tls ? lg_proto : "plain",
	       o->tls && lg_cipher[0] ? lg_cipher : "none", o->conns, o->threads, r->secs,
	       (unsigned long long)st->reqs, (unsigned long long)st->errors,
	       (unsigned long long)st->handshakes, (unsigned long long)st->resumed,
	       __atomic_load_n(&lg_established, __ATOMIC_RELAXED), st->bytes_up / 1e6,
	       st->bytes_down / 1e6, per(st->bytes_up / 1e6, r->secs),
	       per(st->bytes_down / 1e6, r->secs), per((double)st->reqs, r->secs),
	       per((double)st->handshakes, r->secs), hist_quantile(&st->lat, 0.5) / 1e3,
	       hist_quantile(&st->lat, 0.99) / 1e3, hist_quantile(&st->lat, 0.999) / 1e3,
	       st->lat.max / 1e3);
	if (f->have_cpu)
		printf(" cpu_s=%.3f cpu_s_per_gb=%.3f cpu_us_per_req=%.2f cpu_ms_per_hs=%.3f "
		       "rss_kb=%llu rss_base_kb=%llu rss_kb_per_10k=%.0f",
		       f->cpu, per(f->cpu, f->gb), per(f->cpu * 1e6, (double)st->reqs),
		       per(f->cpu * 1e3, (double)st->handshakes), (unsigned long long)r->p1.rss_kb,
		       (unsigned long long)r->base.rss_kb, f->rss10k);
	printf("\n");
	fflush(stdout);
}

static void print_summary(const struct lg_opts *o, const struct result *r,
			  const struct figures *f)
{
	const struct lg_stats *st = &r->st;

	fprintf(stderr,
		"%s on %s (%s %s), %u conns, %.2f s: %.0f req/s, %.0f handshakes/s "
		"(%llu resumed), up %.1f MB/s, down %.1f MB/s, latency p50 %.1f us p99 %.1f us "
		"p99.9 %.1f us, %llu errors\n",
		lg_workload_name(o->wl), o->target, o->tls ? lg_proto : "plain",
		o->tls ? lg_cipher : "", o->conns, r->secs, per((double)st->reqs, r->secs),
		per((double)st->handshakes, r->secs), (unsigned long long)st->resumed,
		per(st->bytes_up / 1e6, r->secs), per(st->bytes_down / 1e6, r->secs),
		hist_quantile(&st->lat, 0.5) / 1e3, hist_quantile(&st->lat, 0.99) / 1e3,
		hist_quantile(&st->lat, 0.999) / 1e3, (unsigned long long)st->errors);
	if (f->have_cpu)
		fprintf(stderr, "  process under test: %.2f CPU-s, %.3f s/GB, %.1f us/req, "
			"%.3f ms/handshake, RSS %llu kB (%.0f kB per 10k connections)\n",
			f->cpu, per(f->cpu, f->gb), per(f->cpu * 1e6, (double)st->reqs),
			per(f->cpu * 1e3, (double)st->handshakes),
			(unsigned long long)r->p1.rss_kb, f->rss10k);
}

static void report(const struct lg_opts *o, const struct result *r)
{
	struct figures f;

	figures_of(o, r, &f);
	print_line(o, r, &f);
	if (!o->quiet)
		print_summary(o, r, &f);
}

int main(int argc, char **argv)
{
	struct ssl_ctx_st *ctx = NULL;
	struct result r = { 0 };
	struct lg_opts o;
	int ret;

	if (parse_args(&o, argc, argv) < 0 || make_req(&o) < 0)
		return 2;
	lg_workload_init();
	if (o.tls) {
		ctx = lgtls_ctx_new(&o);
		if (!ctx)
			return 2;
	}
	ret = run(&o, ctx, &r);
	if (ret == 0)
		report(&o, &r);
	lgtls_ctx_free(ctx);
	free(o.req_buf);
	if (ret < 0) {
		fprintf(stderr, "loadgen: %s\n", strerror(-ret));
		return 1;
	}
	return r.st.errors ? 3 : 0;
}
