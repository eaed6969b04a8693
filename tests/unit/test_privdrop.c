/* SPDX-License-Identifier: MIT */
/* privdrop.c, as root, each case in a forked child (a drop is one-way): the
 * child reports what /proc/self/status and the kernel say afterwards
 * (uids, gids, groups, every capability set, no_new_privs, dumpable) and
 * whether it can bind a privileged port; the parent checks the report. */
#include "t.h"
#include "privdrop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIT(c) (1ull << (c))

struct report {
	int ret;			/* privdrop_to_user() */
	unsigned int uid[4], gid[4];	/* real, effective, saved, fs */
	int n_groups;
	unsigned int group0;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int no_new_privs, dumpable;
	long core_limit;
	int bind_err;			/* 0 = bound the privileged port */
	int setuid0_err;		/* 0 = got root back (must not) */
	char log[512];			/* what the module wrote on stderr */
};

static uint64_t hex_field(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? strtoull(p + strlen(key), NULL, 16) : ~0ull;
}

static void ids_field(const char *status, const char *key, unsigned int out[4])
{
	const char *p = strstr(status, key);

	if (!p || sscanf(p + strlen(key), "%u %u %u %u", &out[0], &out[1], &out[2], &out[3]) != 4)
		memset(out, 0xff, 4 * sizeof(out[0]));
}

static void read_status(struct report *r)
{
	char status[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, status, sizeof(status) - 1) : -1;
	gid_t groups[8];

	if (fd >= 0)
		close(fd);
	status[n > 0 ? n : 0] = 0;
	ids_field(status, "\nUid:", r->uid);
	ids_field(status, "\nGid:", r->gid);
	r->cap_inh = hex_field(status, "\nCapInh:");
	r->cap_prm = hex_field(status, "\nCapPrm:");
	r->cap_eff = hex_field(status, "\nCapEff:");
	r->cap_bnd = hex_field(status, "\nCapBnd:");
	r->cap_amb = hex_field(status, "\nCapAmb:");
	r->no_new_privs = (int)hex_field(status, "\nNoNewPrivs:");
	r->n_groups = getgroups(8, groups);
	r->group0 = r->n_groups > 0 ? groups[0] : 0;
}

static int bind_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, err = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* 443 unless busy here; then another port below 1024. */
static int privileged_port(void)
{
	int port;

	for (port = 443; port < 1024; port += 37)
		if (bind_port(port) == 0)
			return port;
	return -1;
}

struct drop_args {
	const char *user;
	const int *keep;
	unsigned int n_keep;
	bool harden, extra_thread;
	int port;
};

static void *sleeper(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

static void child(const struct drop_args *a, struct report *r)
{
	struct rlimit rl;
	pthread_t th;

	if (a->extra_thread)
		pthread_create(&th, NULL, sleeper, NULL);
	r->ret = a->user ? privdrop_to_user(a->user, a->keep, a->n_keep) : 0;
	if (a->harden && r->ret == 0)
		r->ret = privdrop_harden();
	read_status(r);
	r->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	r->core_limit = getrlimit(RLIMIT_CORE, &rl) == 0 ? (long)rl.rlim_cur : -2;
	r->bind_err = bind_port(a->port);
	r->setuid0_err = setresuid(0, 0, 0) == 0 ? 0 : errno;
}

/* Runs the drop in a child whose stderr goes to a file; fills @r. */
static bool run_drop(const struct drop_args *a, struct report *r)
{
	char logpath[512];
	int fds[2], status, lfd;
	pid_t pid;
	ssize_t n;

	memset(r, 0, sizeof(*r));
	snprintf(logpath, sizeof(logpath), "%s/stderr", t_tmpdir());
	if (pipe(fds) < 0)
		return false;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(lfd, 2);
		child(a, r);
		n = write(fds[1], r, sizeof(*r));
		_exit(n == sizeof(*r) ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], r, sizeof(*r));
	close(fds[0]);
	waitpid(pid, &status, 0);
	lfd = open(logpath, O_RDONLY);
	if (lfd >= 0) {
		if (read(lfd, r->log, sizeof(r->log) - 1) < 0)
			r->log[0] = 0;
		close(lfd);
	}
	return n == sizeof(*r) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	t_skip("needs root (switching users and capabilities)");
	return false;
}

static void expect_nobody(const struct report *r, unsigned int uid, unsigned int gid)
{
	int i;

	for (i = 0; i < 4; i++) {
		EXPECT_EQ(r->uid[i], uid);
		EXPECT_EQ(r->gid[i], gid);
	}
	/* initgroups(): the primary group only (nobody is in no other); root's
	 * group 0 is gone */
	EXPECT_EQ(r->n_groups, 1);
	EXPECT_EQ(r->group0, gid);
	EXPECT_EQ(r->cap_inh, 0);
	EXPECT_EQ(r->cap_amb, 0);
	EXPECT_EQ(r->setuid0_err, EPERM);
}

TEST(drop_to_nobody_keeping_net_bind_service)
{
	static const int keep[] = { CAP_NET_BIND_SERVICE };
	struct drop_args a = { "nobody", keep, 1, true, false, 0 };
	struct passwd *pw = getpwnam("nobody");
	struct report r;

	if (!need_root())
		return;
	ASSERT(pw);
	a.port = privileged_port();
	ASSERT(a.port > 0);
	ASSERT(run_drop(&a, &r));
	EXPECT_EQ(r.ret, 0);
	expect_nobody(&r, pw->pw_uid, pw->pw_gid);
	EXPECT_EQ(r.cap_prm, BIT(CAP_NET_BIND_SERVICE));
	EXPECT_EQ(r.cap_eff, BIT(CAP_NET_BIND_SERVICE));
	EXPECT_EQ(r.cap_bnd, BIT(CAP_NET_BIND_SERVICE));
	EXPECT_EQ(r.bind_err, 0);		/* port 443 (or the one chosen) still binds */
	EXPECT_EQ(r.no_new_privs, 1);
	EXPECT_EQ(r.dumpable, 0);
	EXPECT_EQ(r.core_limit, 0);
	EXPECT_STR_CONTAINS(r.log, "running as user 'nobody'");
}

TEST(drop_to_nobody_keeping_nothing_cannot_bind)
{
	struct drop_args a = { "nobody", NULL, 0, false, false, 0 };
	struct passwd *pw = getpwnam("nobody");
	struct report r;
	FILE *f;
	int start = 1024;

	if (!need_root())
		return;
	f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	if (f) {
		if (fscanf(f, "%d", &start) != 1)
			start = 1024;
		fclose(f);
	}
	if (start <= 443) {
		t_skip("net.ipv4.ip_unprivileged_port_start lets anyone bind port 443 here");
		return;
	}
	ASSERT(pw);
	a.port = privileged_port();
	ASSERT(a.port > 0 && a.port < start);
	ASSERT(run_drop(&a, &r));
	EXPECT_EQ(r.ret, 0);
	expect_nobody(&r, pw->pw_uid, pw->pw_gid);
	EXPECT_EQ(r.cap_prm, 0);
	EXPECT_EQ(r.cap_eff, 0);
	EXPECT_EQ(r.cap_bnd, 0);
	EXPECT_EQ(r.bind_err, EACCES);
	EXPECT_EQ(r.no_new_privs, 0);	/* privdrop_harden() not called here */
}

TEST(unknown_user_is_a_clear_error_and_changes_nothing)
{
	struct drop_args a = { "ktlsgw-no-such-user", NULL, 0, true, false, 443 };
	struct report r;

	if (!need_root())
		return;
	ASSERT(run_drop(&a, &r));
	EXPECT_EQ(r.ret, -ENOENT);
	EXPECT_STR_CONTAINS(r.log, "gateway.user: no such user 'ktlsgw-no-such-user'");
	EXPECT_EQ(r.uid[1], 0);
	EXPECT_EQ(r.cap_eff, r.cap_bnd);	/* still all of root's */
	EXPECT(r.cap_eff & BIT(CAP_SYS_ADMIN));
}

TEST(bad_capability_number_is_refused)
{
	static const int keep[] = { CAP_NET_BIND_SERVICE, 99 };
	struct drop_args a = { "nobody", keep, 2, false, false, 443 };
	struct report r;

	if (!need_root())
		return;
	ASSERT(run_drop(&a, &r));
	EXPECT_EQ(r.ret, -EINVAL);
	EXPECT_STR_CONTAINS(r.log, "unknown capability number 99");
	EXPECT_EQ(r.uid[1], 0);
}

TEST(refused_once_worker_threads_run)
{
	struct drop_args a = { "nobody", NULL, 0, false, true, 443 };
	struct report r;

	if (!need_root())
		return;
	ASSERT(run_drop(&a, &r));
	EXPECT_EQ(r.ret, -EBUSY);
	EXPECT_STR_CONTAINS(r.log, "must run before worker threads start (2 threads)");
	EXPECT_EQ(r.uid[0], 0);
}

/* Without gateway.user the gateway still hardens itself: still root, but
 * no core dump and no privilege gain through execve. */
TEST(harden_alone_stops_core_dumps)
{
	struct drop_args a = { NULL, NULL, 0, true, false, 443 };
	struct report r;

	if (!need_root())
		return;
	ASSERT(run_drop(&a, &r));
	EXPECT_EQ(r.ret, 0);
	EXPECT_EQ(r.uid[0], 0);
	EXPECT_EQ(r.dumpable, 0);
	EXPECT_EQ(r.core_limit, 0);
	EXPECT_EQ(r.no_new_privs, 1);
}
