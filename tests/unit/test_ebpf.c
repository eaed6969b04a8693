/* SPDX-License-Identifier: MIT */
/* eBPF loader against the real kernel (root only; skipped with the reason
 * otherwise): attach to a child cgroup, exact connection counts per (tlsMode,
 * listener, leg) for tagged loopback sockets, bytes, sk_storage freed at
 * close, tag errors, and a detach that leaves no program and no cgroup. */
#include "../lib/t.h"
#include "../../src/ebpf.c"	/* white-box: the skeleton's maps and programs */

#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/wait.h>
#include <time.h>

#include "metrics.h"

static struct metrics_counters snap;

static bool proc_cgroup_has(const char *needle);

/* Opens with bpf: auto; skips (returns NULL) where BPF cannot run. */
static struct ebpf *open_or_skip(void)
{
	struct ebpf *e = NULL;

	if (geteuid() != 0) {
		t_skip("needs root to load BPF programs and create a cgroup");
		return NULL;
	}
	log_set_level(LOG_ERROR);
	if (ebpf_open(FEAT_AUTO, NULL, &e) < 0 || !e) {
		t_fail(__FILE__, __LINE__, "ebpf_open(auto) failed");
		return NULL;
	}
	if (!ebpf_is_enabled(e)) {
		t_skip(e->reason);
		ebpf_close(e);
		return NULL;
	}
	return e;
}

static int listen_lo(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	BUG_ON(fd < 0);
	BUG_ON(bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64));
	return fd;
}

/* A connected loopback pair: *c connected, *s accepted. */
static void tcp_pair(int lfd, int *c, int *s)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	BUG_ON(getsockname(lfd, (struct sockaddr *)&a, &al));
	*c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	BUG_ON(*c < 0 || connect(*c, (struct sockaddr *)&a, sizeof(a)));
	*s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	BUG_ON(*s < 0);
}

/* Writes @n bytes on @from and reads them all on @to. */
static void move_bytes(int from, int to, size_t n)
{
	static char buf[65536];
	size_t sent = 0, got = 0;
	ssize_t r;

	while (got < n) {
		if (sent < n) {
			r = write(from, buf, n - sent < sizeof(buf) ? n - sent : sizeof(buf));
			BUG_ON(r <= 0);
			sent += (size_t)r;
		}
		r = read(to, buf, sizeof(buf));
		BUG_ON(r <= 0);
		got += (size_t)r;
	}
}

static const struct metrics_conn *kconn(struct ebpf *e, unsigned int m, unsigned int l,
					unsigned int g)
{
	BUG_ON(ebpf_read(e, CFG_LISTENERS_MAX, &snap));
	return &snap.conn[m][l][g];
}

static uint64_t total_opened(struct ebpf *e)
{
	uint64_t n = 0;
	unsigned int m, l, g;

	BUG_ON(ebpf_read(e, CFG_LISTENERS_MAX, &snap));
	for (m = 0; m < TLS_MODE__COUNT; m++)
		for (l = 0; l < CFG_LISTENERS_MAX; l++)
			for (g = 0; g < METRICS_LEG__COUNT; g++)
				n += snap.conn[m][l][g].opened;
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls a kernel counter until it equals @want (2 s at most); never above. */
#define WAIT_EQ(expr, want)                                                            \
	do {                                                                           \
		uint64_t _w = (want), _v = 0;                                          \
		for (int _i = 0; _i < 200; _i++) {                                     \
			_v = (expr);                                                   \
			if (_v > _w)                                                   \
				t_fail(__FILE__, __LINE__, "%s = %llu above %llu", #expr, \
				       (unsigned long long)_v, (unsigned long long)_w); \
			if (_v >= _w)                                                  \
				break;                                                 \
			sleep_ms(10);                                                  \
		}                                                                      \
		EXPECT_EQ(_v, _w);                                                     \
	} while (0)

static uint64_t hist_count(const struct metrics_hist *h)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < METRICS_HIST_SLOTS; i++)
		n += h->slot[i];
	return n;
}

TEST(off_auto_on_semantics)
{
	struct ebpf *e = NULL;

	log_set_level(LOG_ERROR);
	EXPECT_EQ(ebpf_open(FEAT_OFF, NULL, &e), 0);
	ASSERT(e);
	EXPECT(!ebpf_is_enabled(e));
	EXPECT_EQ(ebpf_tag_socket(e, -1, TLS_MODE_ONEWAY, 0, METRICS_LEG_CLIENT), 0);
	EXPECT_EQ(ebpf_read(e, 1, &snap), -ENODEV);
	ebpf_close(e);

	EXPECT(ebpf_open(FEAT_ON, "/nonexistent/ktlsgw", &e) < 0);
	EXPECT(e == NULL);
	EXPECT(ebpf_open(FEAT_ON, t_tmpdir(), &e) == -ENOTDIR);	/* not a cgroup v2 */

	EXPECT_EQ(ebpf_open(FEAT_AUTO, "/nonexistent/ktlsgw", &e), 0);
	ASSERT(e);
	EXPECT(!ebpf_is_enabled(e));
	EXPECT_STR_CONTAINS(e->reason, "/nonexistent/ktlsgw");
	ebpf_close(e);
	ebpf_close(NULL);
}

/* In a child that dropped root: auto falls back with a reason, on refuses. */
static int unprivileged_child(bool drop)
{
	struct ebpf *e = NULL;

	if (drop &&
	    (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)))
		return 10;
	if (ebpf_open(FEAT_AUTO, NULL, &e) != 0 || !e)
		return 11;
	if (ebpf_is_enabled(e) || !e->reason[0])
		return 12;
	if (ebpf_tag_socket(e, 0, TLS_MODE_PLAIN, 0, METRICS_LEG_CLIENT) != 0)
		return 13;
	ebpf_close(e);
	e = NULL;
	if (ebpf_open(FEAT_ON, NULL, &e) >= 0 || e)
		return 14;
	return 0;
}

TEST(unprivileged_auto_falls_back_on_refuses)
{
	pid_t pid;
	int st;

	if (geteuid() != 0) {
		EXPECT_EQ(unprivileged_child(false), 0);	/* already unprivileged */
		return;
	}
	log_set_level(LOG_ERROR);
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0)
		_exit(unprivileged_child(true));
	ASSERT(waitpid(pid, &st, 0) == pid);
	EXPECT(WIFEXITED(st));
	EXPECT_EQ(WEXITSTATUS(st), 0);
	EXPECT(!proc_cgroup_has("ktlsgw-"));
}

TEST(rtt_bounds_match_kernel)
{
	static const __u32 k[CS_RTT_NBOUNDS] = CS_RTT_BOUNDS_US;
	unsigned int i;

	for (i = 0; i < CS_RTT_NBOUNDS; i++)
		EXPECT_EQ(k[i], metrics_rtt_bounds_us[i]);
}

static bool proc_cgroup_has(const char *needle)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/cgroup", "re");
	size_t n;

	BUG_ON(!f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static __u32 prog_id(struct bpf_program *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	BUG_ON(bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len));
	return info.id;
}

/* Each of our attach types on the cgroup holds exactly our program. */
static void expect_attached(struct ebpf *e)
{
	static const enum bpf_attach_type types[] = { BPF_CGROUP_SOCK_OPS, BPF_CGROUP_SETSOCKOPT };
	struct bpf_program *progs[] = { e->skel->progs.cs_sockops, e->skel->progs.cs_tag };
	__u32 ids[8], cnt;
	unsigned int i;
	int fd = open(e->cg_path, O_RDONLY | O_DIRECTORY);

	BUG_ON(fd < 0);
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		cnt = ARRAY_SIZE(ids);
		EXPECT_EQ(bpf_prog_query(fd, types[i], 0, NULL, ids, &cnt), 0);
		EXPECT_EQ(cnt, 1);
		EXPECT_EQ(ids[0], prog_id(progs[i]));
	}
	close(fd);
}

/* A dead gateway's leftover cgroup next to ours: ebpf_open removes it. */
static void make_stale(char *path, size_t len)
{
	char own[PATH_MAX], mnt[PATH_MAX];

	path[0] = '\0';
	if (geteuid() != 0 || kill(999999, 0) == 0 || errno != ESRCH)
		return;
	BUG_ON(find_cgroup2_mount(mnt, sizeof(mnt)) || find_own_cgroup(own, sizeof(own)));
	snprintf(path, len, "%s%s/ktlsgw-999999", mnt, strcmp(own, "/") ? own : "");
	if (mkdir(path, 0755) < 0)
		path[0] = '\0';
}

TEST(attach_moves_process_into_child_cgroup)
{
	char name[32], stale[2 * PATH_MAX + 32];
	struct ebpf *e;
	struct stat st;

	make_stale(stale, sizeof(stale));
	e = open_or_skip();
	if (!e)
		return;
	if (stale[0])
		EXPECT(stat(stale, &st) < 0 && errno == ENOENT);
	snprintf(name, sizeof(name), "/ktlsgw-%d\n", (int)getpid());
	EXPECT(proc_cgroup_has(name));
	expect_attached(e);
	ebpf_close(e);
	EXPECT(!proc_cgroup_has(name));
}

struct mode_case {
	enum tls_mode mode;
	unsigned int lst, n;
	size_t up, down;	/* bytes per connection, client->upstream and back */
};

static const struct mode_case cases[] = {
	{ TLS_MODE_PLAIN, 0, 2, 70001, 150003 },
	{ TLS_MODE_ONEWAY, 1, 3, 1000, 3100 },
	{ TLS_MODE_MUTUAL, 5, 4, 262144, 17 },
};

#define MAXC 4

/* The accepted side plays the client leg, the connecting side the upstream
 * leg: the client leg receives "up" bytes, the upstream leg sends them. */
static void open_case(struct ebpf *e, int lfd, const struct mode_case *k, int *cs, int *ss)
{
	unsigned int i;

	for (i = 0; i < k->n; i++) {
		tcp_pair(lfd, &cs[i], &ss[i]);
		EXPECT_EQ(ebpf_tag_socket(e, ss[i], k->mode, k->lst, METRICS_LEG_CLIENT), 0);
		EXPECT_EQ(ebpf_tag_socket(e, cs[i], k->mode, k->lst, METRICS_LEG_UPSTREAM), 0);
	}
}

/* While open, a socket's figures are published on each ACK of its own data
 * that carries an RTT sample (not every ACK does: the tail of a burst may
 * wait for the next exchange or the close). Never above the truth. */
static void check_live(struct ebpf *e, const struct mode_case *k)
{
	const struct metrics_conn *c = kconn(e, k->mode, k->lst, METRICS_LEG_CLIENT);
	const struct metrics_conn *u = &snap.conn[k->mode][k->lst][METRICS_LEG_UPSTREAM];

	EXPECT(c->bytes_in <= k->n * k->up);
	EXPECT(c->bytes_out > 0 && c->bytes_out <= k->n * k->down);
	EXPECT(u->bytes_out > 0 && u->bytes_out <= k->n * k->up);
	EXPECT(u->bytes_in <= k->n * k->down);
}

static void check_bytes(struct ebpf *e, const struct mode_case *k)
{
	unsigned int m = k->mode, l = k->lst;

	WAIT_EQ(kconn(e, m, l, METRICS_LEG_CLIENT)->bytes_in, k->n * k->up);
	WAIT_EQ(kconn(e, m, l, METRICS_LEG_CLIENT)->bytes_out, k->n * k->down);
	WAIT_EQ(kconn(e, m, l, METRICS_LEG_UPSTREAM)->bytes_out, k->n * k->up);
	WAIT_EQ(kconn(e, m, l, METRICS_LEG_UPSTREAM)->bytes_in, k->n * k->down);
}

static void check_closed(struct ebpf *e, const struct mode_case *k)
{
	const struct metrics_conn *c;
	unsigned int g;

	for (g = 0; g < METRICS_LEG__COUNT; g++) {
		WAIT_EQ(kconn(e, k->mode, k->lst, g)->closed, k->n);
		c = kconn(e, k->mode, k->lst, g);
		EXPECT_EQ(c->opened, k->n);
		EXPECT_EQ(hist_count(&c->rtt), k->n);
		EXPECT_EQ(c->retrans, 0);	/* loopback */
	}
	check_bytes(e, k);	/* exact once closed */
}

TEST(counts_connections_and_bytes_per_mode)
{
	struct ebpf *e = open_or_skip();
	int lfd, cs[ARRAY_SIZE(cases)][MAXC], ss[ARRAY_SIZE(cases)][MAXC], uc, us;
	uint64_t want_opened = 0;
	unsigned int i, j;

	if (!e)
		return;
	lfd = listen_lo();
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		open_case(e, lfd, &cases[i], cs[i], ss[i]);
		want_opened += 2 * cases[i].n;
		/* Counted at tag time, before any byte moves. */
		EXPECT_EQ(kconn(e, cases[i].mode, cases[i].lst, 0)->opened, cases[i].n);
		EXPECT_EQ(kconn(e, cases[i].mode, cases[i].lst, 1)->opened, cases[i].n);
	}
	tcp_pair(lfd, &uc, &us);	/* untagged: must count nowhere */
	move_bytes(uc, us, 5000);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		for (j = 0; j < cases[i].n; j++) {
			move_bytes(cs[i][j], ss[i][j], cases[i].up);
			move_bytes(ss[i][j], cs[i][j], cases[i].down);
		}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		check_live(e, &cases[i]);
		EXPECT_EQ(kconn(e, cases[i].mode, cases[i].lst, 0)->closed, 0);
	}
	EXPECT_EQ(total_opened(e), want_opened);
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		for (j = 0; j < cases[i].n; j++) {
			close(ss[i][j]);
			close(cs[i][j]);
		}
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_closed(e, &cases[i]);
	close(us);
	close(uc);
	sleep_ms(50);
	EXPECT_EQ(total_opened(e), want_opened);
	close(lfd);
	ebpf_close(e);
}

static int lookup_sock(struct ebpf *e, int fd, struct cs_sock *v)
{
	int key = fd;

	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.cs_socks), &key, v) < 0)
		return -errno;
	return 0;
}

/* Both ends shut down but keep their fds: each socket reaches TCP_CLOSE
 * while still open, so a lookup by fd shows whether the entry is gone. */
TEST(sk_storage_freed_at_close)
{
	struct ebpf *e = open_or_skip();
	struct cs_sock v;
	int lfd, c, s, i, rc = 0;
	char b;

	if (!e)
		return;
	lfd = listen_lo();
	tcp_pair(lfd, &c, &s);
	EXPECT_EQ(lookup_sock(e, s, &v), 0);
	EXPECT_EQ(v.flags, CS_F_ARMED);	/* armed at ESTABLISHED, untagged */
	EXPECT_EQ(ebpf_tag_socket(e, s, TLS_MODE_MUTUAL, 2, METRICS_LEG_CLIENT), 0);
	EXPECT_EQ(lookup_sock(e, s, &v), 0);
	EXPECT_EQ(v.flags, CS_F_ARMED | CS_F_TAGGED);
	EXPECT_EQ(v.key, (2u * CS_LISTENERS + 2) * CS_LEGS + 0);
	move_bytes(c, s, 10);
	shutdown(s, SHUT_WR);
	shutdown(c, SHUT_WR);
	EXPECT_EQ(read(c, &b, 1), 0);
	EXPECT_EQ(read(s, &b, 1), 0);
	for (i = 0; i < 200; i++) {
		rc = lookup_sock(e, s, &v);
		if (rc == -ENOENT && lookup_sock(e, c, &v) == -ENOENT)
			break;
		sleep_ms(10);
	}
	EXPECT_EQ(rc, -ENOENT);
	EXPECT_EQ(lookup_sock(e, c, &v), -ENOENT);
	EXPECT_EQ(kconn(e, 2, 2, 0)->closed, 1);
	EXPECT_EQ(kconn(e, 2, 2, 0)->bytes_in, 10);
	/* Closed while the fd is still open: too late to tag. */
	EXPECT_EQ(ebpf_tag_socket(e, c, TLS_MODE_MUTUAL, 2, METRICS_LEG_UPSTREAM), -ENOTCONN);
	close(s);
	close(c);
	close(lfd);
	ebpf_close(e);
}

TEST(tag_errors_and_other_options_untouched)
{
	struct ebpf *e = open_or_skip();
	struct cs_tag bad = { .tls_mode = 3 };
	int lfd, c, s, udp, one = 1, val = 0;
	socklen_t len = sizeof(val);

	if (!e)
		return;
	lfd = listen_lo();
	tcp_pair(lfd, &c, &s);
	EXPECT_EQ(ebpf_tag_socket(e, lfd, TLS_MODE_PLAIN, 0, METRICS_LEG_CLIENT), -ENOTCONN);
	EXPECT_EQ(ebpf_tag_socket(e, s, TLS_MODE_PLAIN, 0, METRICS_LEG_CLIENT), 0);
	EXPECT_EQ(ebpf_tag_socket(e, s, TLS_MODE_PLAIN, 0, METRICS_LEG_CLIENT), -EEXIST);
	EXPECT_EQ(ebpf_tag_socket(e, c, TLS_MODE_PLAIN, CS_LISTENERS, METRICS_LEG_CLIENT),
		  -EINVAL);
	/* The kernel side checks too, for callers that bypass ebpf_tag_socket. */
	EXPECT_EQ(setsockopt(c, CS_SOL, CS_OPT_TAG, &bad, sizeof(bad)), -1);
	EXPECT_EQ(errno, EINVAL);
	EXPECT_EQ(setsockopt(c, CS_SOL, CS_OPT_TAG, &bad, 2), -1);
	EXPECT_EQ(errno, EINVAL);
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	EXPECT_EQ(ebpf_tag_socket(e, udp, TLS_MODE_PLAIN, 0, METRICS_LEG_CLIENT), -ENOTCONN);
	EXPECT_EQ(kconn(e, 0, 0, 0)->opened, 1);
	EXPECT_EQ(kconn(e, 0, 0, 1)->opened, 0);
	/* Every other option still reaches the kernel. */
	EXPECT_EQ(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	EXPECT_EQ(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &val, &len), 0);
	EXPECT_EQ(val, 1);
	EXPECT_EQ(setsockopt(c, SOL_SOCKET, 0x7fff, &one, sizeof(one)), -1);
	EXPECT_EQ(errno, ENOPROTOOPT);
	close(udp);
	close(s);
	close(c);
	close(lfd);
	ebpf_close(e);
}

TEST(detach_leaves_nothing)
{
	struct ebpf *e = open_or_skip();
	char path[PATH_MAX];
	__u32 ids[2];
	unsigned int i;
	int fd = -1, n;
	struct stat st;

	if (!e)
		return;
	ids[0] = prog_id(e->skel->progs.cs_sockops);
	ids[1] = prog_id(e->skel->progs.cs_tag);
	snprintf(path, sizeof(path), "%s", e->cg_path);
	ebpf_close(e);
	EXPECT(stat(path, &st) < 0 && errno == ENOENT);
	EXPECT(!proc_cgroup_has("ktlsgw-"));
	/* A program attached anywhere would still exist; freeing is RCU-deferred. */
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		for (n = 0; n < 200; n++) {
			fd = bpf_prog_get_fd_by_id(ids[i]);
			if (fd < 0)
				break;
			close(fd);
			sleep_ms(10);
		}
		EXPECT(fd < 0 && errno == ENOENT);
	}
}

/* Keeps HELP/TYPE lines and each sample's name and labels, drops values. */
static char *strip_values(const char *txt)
{
	char *out = malloc(strlen(txt) + 1), *o = out;
	const char *line = txt, *nl, *sp;

	BUG_ON(!out);
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		sp = nl;
		if (line[0] != '#')
			while (sp > line && *sp != ' ')
				sp--;
		memcpy(o, line, (size_t)(sp - line));
		o += sp - line;
		*o++ = '\n';
	}
	*o = '\0';
	return out;
}

static char *render_view(const struct metrics_view *v)
{
	size_t n = metrics_render(v, NULL, 0);
	char *buf = malloc(n + 1);

	BUG_ON(!buf);
	metrics_render(v, buf, n + 1);
	return buf;
}

/* With bpf off the userspace counters feed the same series names. */
TEST(fallback_renders_same_series)
{
	struct listener_cfg l[2] = { { .name = "grpc", .tls_mode = TLS_MODE_MUTUAL },
				     { .name = "rest", .tls_mode = TLS_MODE_PLAIN } };
	struct metrics_view v = { .c = &snap, .listeners = l, .n_listeners = 2 };
	struct ebpf *e = open_or_skip();
	struct metrics *m;
	char *on, *off, *on_k, *off_k;
	int lfd, c, s;

	if (!e)
		return;
	m = metrics_new(1);
	ASSERT(m);
	lfd = listen_lo();
	tcp_pair(lfd, &c, &s);
	EXPECT_EQ(ebpf_tag_socket(e, s, TLS_MODE_MUTUAL, 0, METRICS_LEG_CLIENT), 0);
	memset(&snap, 0, sizeof(snap));
	EXPECT_EQ(ebpf_read(e, 2, &snap), 0);
	EXPECT_EQ(snap.conn[2][0][0].opened, 1);
	v.bpf_enabled = true;
	on = render_view(&v);
	metrics_conn_open(metrics_shard(m, 0), TLS_MODE_MUTUAL, 0, METRICS_LEG_CLIENT);
	metrics_collect(m, &snap);
	v.bpf_enabled = false;
	off = render_view(&v);
	on_k = strip_values(on);
	off_k = strip_values(off);
	EXPECT_STR_EQ(on_k, off_k);
	EXPECT_STR_CONTAINS(on, "\nktlsgw_bpf_enabled 1\n");
	EXPECT_STR_CONTAINS(off, "\nktlsgw_bpf_enabled 0\n");
	free(on_k);
	free(off_k);
	free(on);
	free(off);
	metrics_free(m);
	close(s);
	close(c);
	close(lfd);
	ebpf_close(e);
}
