/* SPDX-License-Identifier: MIT */
/* Loader for bpf/conn_stats.bpf.c: finds or creates the cgroup v2, moves the
 * process in, loads the skeleton and attaches its two programs with links,
 * tags sockets, and sums the per-CPU counters for the metrics renderer. */
#include "ebpf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/conn_stats.h"
#include "conn_stats.skel.h"
#include "log.h"

_Static_assert(CS_MODES == TLS_MODE__COUNT, "tls modes");
_Static_assert(CS_LISTENERS == CFG_LISTENERS_MAX, "listeners");
_Static_assert(CS_LEGS == METRICS_LEG__COUNT, "legs");
_Static_assert(CS_RTT_SLOTS == METRICS_HIST_SLOTS, "rtt slots");

static __printf(2, 3) void set_reason(struct ebpf *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
}

/* libbpf's own messages (verifier log included) go to debug: the one line
 * that matters is ours, with the reason. */
__attribute__((format(printf, 2, 0))) static int libbpf_log(enum libbpf_print_level lvl,
							   const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (lvl == LIBBPF_DEBUG || log_get_level() < LOG_DEBUG)
		return 0;
	n = (size_t)vsnprintf(line, sizeof(line), fmt, ap);
	if (n > 0 && n < sizeof(line) && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

/* ---- cgroup v2 ---- */

/* snprintf into a path buffer; -ENAMETOOLONG instead of a cut path. */
static __printf(3, 4) int path_fmt(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The cgroup2 mount point, from /proc/self/mountinfo ("... - cgroup2 ..."). */
static int find_cgroup2_mount(char *mnt, size_t len)
{
	char line[1024], point[PATH_MAX];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - cgroup2 ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
			continue;
		if ((size_t)snprintf(mnt, len, "%s", point) >= len)
			ret = -ENAMETOOLONG;
		else
			ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* The process's cgroup v2 path relative to the mount ("0::/a/b" -> "/a/b"). */
static int find_own_cgroup(char *path, size_t len)
{
	char line[PATH_MAX + 8];
	int ret = -ENOENT;
	FILE *f;

	f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		ret = (size_t)snprintf(path, len, "%s", line + 3) >= len ? -ENAMETOOLONG : 0;
		break;
	}
	fclose(f);
	return ret;
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* Moves the whole process (every thread) into @dir. */
static int write_pid(const char *dir)
{
	char path[PATH_MAX + 16], pid[24];
	int fd, n, ret;

	ret = path_fmt(path, sizeof(path), "%s/cgroup.procs", dir);
	if (ret < 0)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)n) != n)
		ret = -errno;
	close(fd);
	return ret;
}

/* Resolves the target cgroup and remembers where the process is now. */
static int cgroup_pick(struct ebpf *e, const char *cgroup)
{
	char mnt[PATH_MAX], own[PATH_MAX];
	int ret;

	ret = find_cgroup2_mount(mnt, sizeof(mnt));
	if (ret < 0) {
		set_reason(e, "no cgroup v2 mount in /proc/self/mountinfo");
		return ret;
	}
	ret = find_own_cgroup(own, sizeof(own));
	if (ret < 0) {
		set_reason(e, "no cgroup v2 entry (0::) in /proc/self/cgroup");
		return ret;
	}
	ret = path_fmt(e->orig_path, sizeof(e->orig_path), "%s%s", mnt,
		       strcmp(own, "/") ? own : "");
	if (ret == 0 && cgroup)
		ret = path_fmt(e->cg_path, sizeof(e->cg_path), "%s", cgroup);
	else if (ret == 0)
		ret = path_fmt(e->cg_path, sizeof(e->cg_path), "%s/ktlsgw-%d", e->orig_path,
			       (int)getpid());
	if (ret < 0)
		set_reason(e, "cgroup path too long");
	return ret;
}

/* Removes the "ktlsgw-<pid>" cgroups that gateways which died without
 * ebpf_close() left next to ours (empty: their only process is gone). */
static void sweep_stale(const char *parent)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int pid;

	dir = opendir(parent);
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (sscanf(d->d_name, "ktlsgw-%d", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (path_fmt(path, sizeof(path), "%s/%s", parent, d->d_name) == 0 &&
		    rmdir(path) == 0)
			log_info("bpf: removed stale cgroup %s", path);
	}
	closedir(dir);
}

static int cgroup_enter(struct ebpf *e, const char *cgroup)
{
	int ret;

	ret = cgroup_pick(e, cgroup);
	if (ret < 0)
		return ret;
	if (!cgroup) {
		sweep_stale(e->orig_path);
		if (mkdir(e->cg_path, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			set_reason(e, "cannot create cgroup %s: %s", e->cg_path, strerror(-ret));
			return ret;
		}
		e->cg_created = true;
	}
	if (!is_cgroup2(e->cg_path)) {
		set_reason(e, "%s is not a cgroup v2 directory", e->cg_path);
		return -ENOTDIR;
	}
	ret = write_pid(e->cg_path);
	if (ret < 0) {
		set_reason(e, "cannot move the process into %s: %s", e->cg_path, strerror(-ret));
		return ret;
	}
	e->moved = true;
	return 0;
}

static void cgroup_leave(struct ebpf *e)
{
	int ret;

	if (e->moved) {
		ret = write_pid(e->orig_path);
		if (ret < 0)
			log_warn("bpf: cannot move back to cgroup %s: %s", e->orig_path,
				 strerror(-ret));
		e->moved = false;
	}
	if (e->cg_created) {
		if (rmdir(e->cg_path) < 0)
			log_warn("bpf: cannot remove cgroup %s: %s", e->cg_path, strerror(errno));
		e->cg_created = false;
	}
}

/* ---- programs ---- */

static int attach_one(struct ebpf *e, struct bpf_program *prog, struct bpf_link **link,
		      int cg_fd)
{
	*link = bpf_program__attach_cgroup(prog, cg_fd);
	if (!*link) {
		int ret = -errno;

		set_reason(e, "cannot attach %s to %s: %s", bpf_program__name(prog), e->cg_path,
			   strerror(-ret));
		return ret;
	}
	return 0;
}

/* Links, not legacy attachments: they go away with the process's fds, so
 * even a crash leaves nothing attached. */
static int progs_attach(struct ebpf *e)
{
	struct conn_stats_bpf *s = e->skel;
	int cg_fd, ret;

	cg_fd = open(e->cg_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		ret = -errno;
		set_reason(e, "cannot open %s: %s", e->cg_path, strerror(-ret));
		return ret;
	}
	ret = attach_one(e, s->progs.cs_sockops, &s->links.cs_sockops, cg_fd);
	if (ret == 0)
		ret = attach_one(e, s->progs.cs_tag, &s->links.cs_tag, cg_fd);
	close(cg_fd);
	return ret;
}

static int progs_load(struct ebpf *e)
{
	int ncpu, ret;

	libbpf_set_print(libbpf_log);
	e->skel = conn_stats_bpf__open_and_load();
	if (!e->skel) {
		ret = errno ? -errno : -EINVAL;
		set_reason(e, "cannot load the BPF program: %s%s", strerror(-ret),
			   ret == -EPERM ? " (needs root or CAP_BPF+CAP_NET_ADMIN)" : "");
		return ret;
	}
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0) {
		set_reason(e, "cannot count possible CPUs");
		return ncpu < 0 ? ncpu : -EINVAL;
	}
	e->n_cpus = (unsigned int)ncpu;
	e->percpu = calloc(e->n_cpus, sizeof(struct cs_counters));
	if (!e->percpu) {
		set_reason(e, "out of memory");
		return -ENOMEM;
	}
	e->stats_fd = bpf_map__fd(e->skel->maps.cs_stats);
	return 0;
}

static void progs_unload(struct ebpf *e)
{
	conn_stats_bpf__destroy(e->skel);	/* destroys the links: detach */
	e->skel = NULL;
	free(e->percpu);
	e->percpu = NULL;
}

static int enable(struct ebpf *e, const char *cgroup)
{
	int ret;

	ret = cgroup_enter(e, cgroup);
	if (ret < 0)
		goto out_leave;
	ret = progs_load(e);
	if (ret < 0)
		goto out_unload;
	ret = progs_attach(e);
	if (ret < 0)
		goto out_unload;
	e->enabled = true;
	return 0;

out_unload:
	progs_unload(e);
out_leave:
	cgroup_leave(e);
	return ret;
}

int ebpf_open(enum feature_mode mode, const char *cgroup, struct ebpf **out)
{
	struct ebpf *e = calloc(1, sizeof(*e));
	int ret;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->stats_fd = -1;
	if (mode == FEAT_OFF) {
		set_reason(e, "gateway.bpf is off");
		*out = e;
		return 0;
	}
	ret = enable(e, cgroup);
	if (ret < 0 && mode == FEAT_ON) {
		log_error("bpf: %s (gateway.bpf: on refuses to start without it)", e->reason);
		free(e);
		return ret;
	}
	if (ret < 0)
		log_warn("bpf: disabled: %s; connection metrics come from userspace counters",
			 e->reason);
	else
		log_info("bpf: connection metrics attached to cgroup %s", e->cg_path);
	*out = e;
	return 0;
}

void ebpf_close(struct ebpf *e)
{
	if (!e)
		return;
	progs_unload(e);
	cgroup_leave(e);
	free(e);
}

bool ebpf_is_enabled(const struct ebpf *e)
{
	return e && e->enabled;
}

int ebpf_tag_socket(const struct ebpf *e, int fd, enum tls_mode mode, unsigned int lst,
		    enum metrics_leg leg)
{
	struct cs_tag t = { .tls_mode = (__u8)mode, .leg = (__u8)leg, .listener = (__u16)lst };

	if (!ebpf_is_enabled(e))
		return 0;
	if ((unsigned int)mode >= CS_MODES || lst >= CS_LISTENERS ||
	    (unsigned int)leg >= CS_LEGS)
		return -EINVAL;
	if (setsockopt(fd, CS_SOL, CS_OPT_TAG, &t, sizeof(t)) < 0)
		return -errno;
	return 0;
}

static void sum_cpus(const struct cs_counters *v, unsigned int n, struct metrics_conn *c)
{
	unsigned int cpu, i;

	memset(c, 0, sizeof(*c));
	for (cpu = 0; cpu < n; cpu++, v++) {
		c->opened += v->opened;
		c->closed += v->closed;
		c->bytes_in += v->bytes_in;
		c->bytes_out += v->bytes_out;
		c->retrans += v->retrans;
		c->rtt.sum_us += v->rtt_sum_us;
		for (i = 0; i < CS_RTT_SLOTS; i++)
			c->rtt.slot[i] += v->rtt[i];
	}
}

int ebpf_read(struct ebpf *e, unsigned int n_listeners, struct metrics_counters *c)
{
	unsigned int m, l, g;
	__u32 key;

	if (!ebpf_is_enabled(e))
		return -ENODEV;
	if (n_listeners > CS_LISTENERS)
		n_listeners = CS_LISTENERS;
	for (m = 0; m < CS_MODES; m++)
		for (l = 0; l < n_listeners; l++)
			for (g = 0; g < CS_LEGS; g++) {
				key = (m * CS_LISTENERS + l) * CS_LEGS + g;
				if (bpf_map_lookup_elem(e->stats_fd, &key, e->percpu) < 0)
					return -errno;
				sum_cpus(e->percpu, e->n_cpus, &c->conn[m][l][g]);
			}
	return 0;
}
