/* SPDX-License-Identifier: MIT */
/* Privilege drop with raw capget/capset (no libcap): bounding set first
 * (needs CAP_SETPCAP, so while still root), then PR_SET_KEEPCAPS across
 * setresgid/setresuid, then capset to exactly the kept set, and a check
 * that root cannot be regained. */
#include "privdrop.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CAPS_MAX 64	/* two 32-bit words in _LINUX_CAPABILITY_VERSION_3 */
#define PW_BUF 16384

struct account {
	uid_t uid;
	gid_t gid;
};

/* Threads of this process, from /proc/self/task; -errno when unreadable. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int keep_mask(const int *keep, unsigned int n, uint64_t *mask)
{
	unsigned int i;

	*mask = 0;
	for (i = 0; i < n; i++) {
		/* PR_CAPBSET_READ fails for numbers this kernel does not know */
		if (keep[i] < 0 || keep[i] >= CAPS_MAX || prctl(PR_CAPBSET_READ, keep[i]) < 0) {
			log_error("privilege drop: unknown capability number %d", keep[i]);
			return -EINVAL;
		}
		*mask |= 1ull << keep[i];
	}
	return 0;
}

static int lookup(const char *user, struct account *a)
{
	struct passwd pw, *res = NULL;
	char *buf = malloc(PW_BUF);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = getpwnam_r(user, &pw, buf, PW_BUF, &res);
	if (ret == 0 && !res)
		ret = ENOENT;
	if (ret == 0) {
		a->uid = pw.pw_uid;
		a->gid = pw.pw_gid;
	}
	free(buf);
	if (ret == ENOENT)
		log_error("gateway.user: no such user '%s' on this system", user);
	else if (ret)
		log_error("gateway.user: cannot look up '%s': %s", user, strerror(ret));
	return -ret;
}

static int drop_bounding(uint64_t keep)
{
	int cap;

	/* the loop ends at the first number this kernel does not know */
	for (cap = 0; cap < CAPS_MAX && prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
		if (!(keep & (1ull << cap)) && prctl(PR_CAPBSET_DROP, cap) < 0)
			return -errno;
	/* ambient capabilities would survive an execve: none */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/* Permitted = effective = @keep (intersected with what we have). */
static int set_caps(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	keep &= (uint64_t)data[1].permitted << 32 | data[0].permitted;
	data[0].permitted = data[0].effective = (uint32_t)keep;
	data[1].permitted = data[1].effective = (uint32_t)(keep >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

static int switch_ids(const char *user, const struct account *a)
{
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (initgroups(user, a->gid) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 ||
	    setresuid(a->uid, a->uid, a->uid) < 0)
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

static int fail(const char *user, const char *step, int ret)
{
	log_error("gateway.user: switching to '%s': %s failed: %s", user, step, strerror(-ret));
	return ret;
}

static int check_preconditions(const char *user, const struct account *a)
{
	int n = count_threads();

	if (n != 1) {
		log_error("privilege drop: must run before worker threads start (%d threads)", n);
		return -EBUSY;
	}
	if (geteuid() != 0 && geteuid() != a->uid) {
		log_error("gateway.user: cannot switch to '%s' (uid %u): started as uid %u, "
			  "not root", user, (unsigned int)a->uid, (unsigned int)geteuid());
		return -EPERM;
	}
	return 0;
}

int privdrop_to_user(const char *user, const int *keep, unsigned int n_keep)
{
	struct account a = { 0 };
	uint64_t mask;
	int ret;

	ret = keep_mask(keep, n_keep, &mask);
	if (ret < 0)
		return ret;
	ret = lookup(user, &a);
	if (ret < 0)
		return ret;
	ret = check_preconditions(user, &a);
	if (ret < 0)
		return ret;
	if (geteuid() == 0 && a.uid != 0) {
		ret = drop_bounding(mask);
		if (ret < 0)
			return fail(user, "dropping the bounding set", ret);
		ret = switch_ids(user, &a);
		if (ret < 0)
			return fail(user, "setgroups/setresgid/setresuid", ret);
	}
	ret = set_caps(mask);
	if (ret < 0)
		return fail(user, "capset", ret);
	if (a.uid != 0 && setresuid(0, 0, 0) == 0)
		return fail(user, "check (root regained)", -EPERM);
	log_info("running as user '%s' (uid %u, gid %u), capabilities kept: %#llx", user,
		 (unsigned int)a.uid, (unsigned int)a.gid, (unsigned long long)mask);
	return 0;
}

int privdrop_harden(void)
{
	const struct rlimit none = { 0, 0 };
	int ret;

	if (setrlimit(RLIMIT_CORE, &none) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		log_error("hardening (no core dumps, no new privileges) failed: %s",
			  strerror(-ret));
		return ret;
	}
	return 0;
}
