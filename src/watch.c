/* SPDX-License-Identifier: MIT */
/* inotify watcher for certificate files. It watches directories, never the
 * files (a rename or a symlink swap replaces the inode a file watch would
 * follow). Any event in a watched directory re-arms a one-shot timer; when
 * it fires, each file's realpath and stat identity are compared with the
 * last ones, so unrelated files in the same directory never trigger. */
#include "watch.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define DIR_MASK                                                                             \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB | \
	 IN_DELETE_SELF | IN_MOVE_SELF)
#define EVENT_BUF (64 * (sizeof(struct inotify_event) + NAME_MAX + 1))

/* ---- identities ---- */

static void id_clear(struct watch_id *id)
{
	free(id->real);
	memset(id, 0, sizeof(*id));
}

static void id_take(const char *path, struct watch_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) < 0)
		return;
	id->exists = true;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	id->ctime = st.st_ctim;
	id->real = realpath(path, NULL);
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool id_eq(const struct watch_id *a, const struct watch_id *b)
{
	if (a->exists != b->exists)
		return false;
	if (!a->exists)
		return true;
	if ((!a->real) != (!b->real) || (a->real && strcmp(a->real, b->real)))
		return false;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       ts_eq(a->mtime, b->mtime) && ts_eq(a->ctime, b->ctime);
}

/* ---- directories ---- */

static int find_dir(const struct watch *w, int wd)
{
	unsigned int i;

	for (i = 0; i < w->n_dirs; i++)
		if (w->dirs[i].wd == wd)
			return (int)i;
	return -1;
}

static void drop_dir(struct watch *w, int i)
{
	free(w->dirs[i].path);
	w->dirs[i] = w->dirs[--w->n_dirs];
}

/* Watches the directory of @file (inotify returns the same wd for a
 * directory already watched). */
static int add_dir_of(struct watch *w, const char *file)
{
	char *dir, *slash;
	int wd, ret = 0;

	dir = strdup(file);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		return -EINVAL;
	}
	slash[slash == dir] = 0;	/* "/x" -> "/" */
	wd = inotify_add_watch(w->inofd, dir, DIR_MASK | IN_ONLYDIR);
	if (wd < 0)
		ret = -errno;
	else if (find_dir(w, wd) >= 0)
		ret = 0;
	else if (w->n_dirs == WATCH_DIRS_MAX)
		ret = -ENOSPC;
	else {
		w->dirs[w->n_dirs++] = (struct watch_dir){ .wd = wd, .path = dir };
		return 0;
	}
	free(dir);
	return ret;
}

/* The file's own directory must be watchable; its target's is a bonus
 * (in-place writes through a symlink). */
static int add_dirs(struct watch *w, const struct watch_file *f)
{
	int ret = add_dir_of(w, f->path);

	if (ret == 0 && f->id.real && add_dir_of(w, f->id.real) < 0)
		log_debug("watch: cannot watch the directory of %s", f->id.real);
	return ret;
}

/* ---- lifetime ---- */

struct watch *watch_new(unsigned int debounce_ms)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->debounce_ms = debounce_ms ? debounce_ms : 1;
	w->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->inofd < 0 || w->tfd < 0 || w->epfd < 0)
		goto out_fail;
	ev.data.fd = w->inofd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->inofd, &ev) < 0)
		goto out_fail;
	ev.data.fd = w->tfd;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->tfd, &ev) < 0)
		goto out_fail;
	return w;

out_fail:
	log_error("watch: cannot set up inotify: %s", strerror(errno));
	watch_free(w);
	return NULL;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void watch_free(struct watch *w)
{
	unsigned int i;

	if (!w)
		return;
	for (i = 0; i < w->n_files; i++) {
		free(w->files[i].path);
		id_clear(&w->files[i].id);
	}
	for (i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].path);
	/* closing the inotify fd removes every watch */
	close_fd(&w->epfd);
	close_fd(&w->inofd);
	close_fd(&w->tfd);
	free(w);
}

int watch_add(struct watch *w, const char *path)
{
	struct watch_file *f;
	unsigned int i;
	int ret;

	for (i = 0; i < w->n_files; i++)
		if (!strcmp(w->files[i].path, path))
			return 0;
	if (path[0] != '/')
		return -EINVAL;
	if (w->n_files == WATCH_FILES_MAX)
		return -ENOSPC;
	f = &w->files[w->n_files];
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	f->base = strrchr(f->path, '/') + 1;
	id_take(f->path, &f->id);
	ret = add_dirs(w, f);
	if (ret < 0) {
		id_clear(&f->id);
		free(f->path);
		memset(f, 0, sizeof(*f));
		return ret;
	}
	w->n_files++;
	return 0;
}

static int add_logged(struct watch *w, const char *path, const char *key)
{
	int ret;

	if (!path)
		return 0;
	ret = watch_add(w, path);
	if (ret < 0)
		log_error("watch: %s: cannot watch '%s': %s", key, path, strerror(-ret));
	return ret;
}

int watch_add_config(struct watch *w, const struct config *c)
{
	const struct {
		const char *path, *key;
	} files[] = {
		{ c->tls.server_pem, "tls.serverPemPath" },
		{ c->tls.server_key, "tls.serverKeyPath" },
		{ c->tls.ca_pem, "tls.caPemPath" },
		{ c->tls.crl_pem, "tls.crlPemPath" },
		{ c->internaltls.server_pem, "internaltls.serverPemPath" },
		{ c->internaltls.server_key, "internaltls.serverKeyPath" },
		{ c->internaltls.ca_pem, "internaltls.caPemPath" },
		{ c->internaltls.crl_pem, "internaltls.crlPemPath" },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		ret = add_logged(w, files[i].path, files[i].key);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int watch_fd(const struct watch *w)
{
	return w->epfd;
}

const char *watch_changed(const struct watch *w)
{
	return w->changed;
}

/* ---- events ---- */

static void arm_timer(struct watch *w)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = w->debounce_ms / 1000,
			      .tv_nsec = (long)(w->debounce_ms % 1000) * 1000000 },
	};

	/* re-arming restarts the countdown: a burst ends in one reload */
	if (timerfd_settime(w->tfd, 0, &its, NULL) < 0)
		log_warn("watch: cannot arm the debounce timer: %s", strerror(errno));
}

static void note_write(struct watch *w, const struct inotify_event *ev)
{
	const char *dir = w->dirs[find_dir(w, ev->wd)].path;
	size_t n = strlen(dir);
	unsigned int i;

	for (i = 0; i < w->n_files; i++) {
		struct watch_file *f = &w->files[i];

		if (!strcmp(f->base, ev->name) && !strncmp(f->path, dir, n) &&
		    f->base == f->path + n + (n > 1))
			f->written = true;
	}
}

static void on_event(struct watch *w, const struct inotify_event *ev)
{
	int i;

	if (ev->mask & IN_Q_OVERFLOW) {
		arm_timer(w);	/* events lost: the identity check still sees it */
		return;
	}
	i = find_dir(w, ev->wd);
	if (i < 0)
		return;
	if (ev->mask & IN_IGNORED) {	/* the directory went away (old k8s data dir) */
		drop_dir(w, i);
		arm_timer(w);
		return;
	}
	if ((ev->mask & IN_CLOSE_WRITE) && ev->len)
		note_write(w, ev);
	arm_timer(w);
}

static int drain_events(struct watch *w)
{
	char buf[EVENT_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	for (;;) {
		n = read(w->inofd, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			on_event(w, ev);
		}
	}
}

/* Re-takes every identity and re-adds directories (a k8s swap moves the
 * target into a new ..YYYY directory). True when any file changed. */
static bool check_files(struct watch *w)
{
	struct watch_id now;
	bool changed = false;
	unsigned int i;

	for (i = 0; i < w->n_files; i++) {
		struct watch_file *f = &w->files[i];

		id_take(f->path, &now);
		if (!id_eq(&now, &f->id) || f->written) {
			if (!changed)
				w->changed = f->path;
			changed = true;
		}
		id_clear(&f->id);
		f->id = now;
		f->written = false;
		if (add_dirs(w, f) < 0)
			log_warn("watch: cannot watch the directory of '%s'", f->path);
	}
	return changed;
}

int watch_read(struct watch *w)
{
	uint64_t expirations;
	int ret;

	ret = drain_events(w);
	if (ret < 0)
		return ret;
	if (read(w->tfd, &expirations, sizeof(expirations)) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return check_files(w) ? 1 : 0;
}
