/* SPDX-License-Identifier: MIT */
/* Hardening after start-up: switch to gateway.user keeping only the
 * capabilities still needed, and keep key material out of core dumps. Both
 * must run while the process has a single thread: set*id() reach every
 * thread through glibc, but capabilities and prctl() flags are per thread. */
#ifndef KTLSGW_PRIVDROP_H
#define KTLSGW_PRIVDROP_H

#include "common.h"

/* Switches uid, gid and supplementary groups to @user's (getpwnam_r +
 * initgroups), keeping the @n_keep capabilities in @keep (CAP_* numbers from
 * <linux/capability.h>, e.g. CAP_NET_BIND_SERVICE) as permitted, effective
 * and bounding; all others leave every set, ambient and inheritable are
 * emptied. Already running as @user: only trims the capabilities.
 * Returns 0, or (logged): -ENOENT no such user, -EPERM not root, -EBUSY
 * more than one thread, -EINVAL a bad capability number, -errno of a
 * failed call (the process is then in an unknown state: exit). */
__must_check int privdrop_to_user(const char *user, const int *keep, unsigned int n_keep);

/* No core dumps (PR_SET_DUMPABLE 0, RLIMIT_CORE 0), and no privilege gain
 * through execve (PR_SET_NO_NEW_PRIVS). 0 or -errno (logged). */
__must_check int privdrop_harden(void);

#endif
