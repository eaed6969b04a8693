/* SPDX-License-Identifier: MIT */
/* Certificate-file watcher state: inotify on the files' directories, a
 * timerfd for the debounce, both behind one epoll fd the loop can poll. */
#ifndef KTLSGW_WATCH_T_H
#define KTLSGW_WATCH_T_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#define WATCH_FILES_MAX 16
#define WATCH_DIRS_MAX (2 * WATCH_FILES_MAX)	/* each file's dir and its target's */

/* What a path resolves to: a change of any field is a change of the file. */
struct watch_id {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char *real;		/* owned: realpath(), NULL when missing */
};

struct watch_file {
	char *path;		/* owned: absolute, as configured */
	const char *base;	/* borrowed: points into path */
	struct watch_id id;	/* at the last check */
	bool written;		/* IN_CLOSE_WRITE on this very name */
};

struct watch_dir {
	int wd;			/* inotify watch descriptor */
	char *path;		/* owned */
};

struct watch {
	int epfd;		/* owned: what the loop polls; holds inofd and tfd */
	int inofd;		/* owned */
	int tfd;		/* owned: one-shot debounce timer */
	unsigned int debounce_ms;
	unsigned int n_files, n_dirs;
	struct watch_file files[WATCH_FILES_MAX];
	struct watch_dir dirs[WATCH_DIRS_MAX];
	const char *changed;	/* borrowed: files[].path of the last reload cause */
};

#endif
