/* SPDX-License-Identifier: MIT */
/* watch.c in a scratch directory: in-place write, atomic rename over the
 * file, a Kubernetes Secret `..data` symlink swap (twice: the new target
 * directory is watched too), an unrelated file that must not trigger, and a
 * burst of writes debounced into one reload. */
#include "t.h"
#include "config-t.h"
#include "watch.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEBOUNCE_MS 60

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *p(const char *name)
{
	static char bufs[4][512];
	static int n;
	char *b = bufs[n++ % 4];

	snprintf(b, 512, "%s/%s", t_tmpdir(), name);
	return b;
}

static int put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Polls the watcher for @ms and counts the reloads it asks for; the time
 * of the last one goes to @at (if given). */
static int reloads_within(struct watch *w, long ms, long *at)
{
	long end = now_ms() + ms, left;
	struct pollfd pfd = { .fd = watch_fd(w), .events = POLLIN };
	int n = 0, ret;

	while ((left = end - now_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		ret = watch_read(w);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			n++;
			if (at)
				*at = now_ms();
		}
	}
	return n;
}

static struct watch *watch_one(const char *name)
{
	struct watch *w = watch_new(DEBOUNCE_MS);

	if (w && watch_add(w, p(name)) < 0) {
		watch_free(w);
		return NULL;
	}
	return w;
}

TEST(in_place_write_triggers_once)
{
	struct watch *w;

	ASSERT(put(p("server.pem"), "one") == 0);
	w = watch_one("server.pem");
	ASSERT(w);
	EXPECT_EQ(reloads_within(w, 150, NULL), 0);	/* quiet: nothing */
	ASSERT(put(p("server.pem"), "two") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	EXPECT_STR_EQ(watch_changed(w), p("server.pem"));
	watch_free(w);
}

TEST(atomic_rename_over_the_file_triggers)
{
	struct watch *w;

	ASSERT(put(p("server.key"), "old") == 0);
	w = watch_one("server.key");
	ASSERT(w);
	ASSERT(put(p(".server.key.tmp"), "new") == 0);
	ASSERT(rename(p(".server.key.tmp"), p("server.key")) == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	EXPECT_STR_EQ(watch_changed(w), p("server.key"));
	/* and the replacement is watched in turn */
	ASSERT(put(p("server.key"), "newer") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	watch_free(w);
}

/* What kubelet's atomic writer does: files in ..<timestamp>/, ..data
 * pointing at it, the visible names pointing through ..data; an update
 * writes a new directory and renames a fresh symlink over ..data. */
static int k8s_version(const char *dir, const char *pem)
{
	char path[512];

	if (mkdir(p(dir), 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/server.pem", p(dir));
	if (put(path, pem) < 0 || symlink(dir, p("..data_tmp")) < 0)
		return -1;
	return rename(p("..data_tmp"), p("..data"));
}

TEST(kubernetes_data_symlink_swap_triggers)
{
	struct watch *w;
	char path[512];

	ASSERT(k8s_version("..2026_x", "x") == 0);
	ASSERT(symlink("..data/server.pem", p("server.pem")) == 0);
	w = watch_one("server.pem");
	ASSERT(w);
	EXPECT_EQ(w->n_dirs, 2);	/* the Secret dir and ..2026_x */
	ASSERT(k8s_version("..2026_y", "y") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	EXPECT_STR_EQ(watch_changed(w), p("server.pem"));
	/* kubelet removes the old version: no reload for that alone */
	snprintf(path, sizeof(path), "%s/server.pem", p("..2026_x"));
	ASSERT(unlink(path) == 0 && rmdir(p("..2026_x")) == 0);
	EXPECT_EQ(reloads_within(w, 200, NULL), 0);
	/* a second swap is seen too, and a write inside the new version dir */
	ASSERT(k8s_version("..2026_z", "z") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	snprintf(path, sizeof(path), "%s/server.pem", p("..2026_z"));
	ASSERT(put(path, "z2") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	watch_free(w);
}

TEST(unrelated_file_in_the_same_dir_does_not_trigger)
{
	struct watch *w;

	ASSERT(put(p("ca.pem"), "ca") == 0);
	w = watch_one("ca.pem");
	ASSERT(w);
	ASSERT(put(p("notes.txt"), "hello") == 0);
	ASSERT(put(p(".ca.pem.swp"), "x") == 0);
	ASSERT(rename(p(".ca.pem.swp"), p("ca.pem.bak")) == 0);
	ASSERT(unlink(p("notes.txt")) == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 0);
	watch_free(w);
}

TEST(burst_is_debounced_into_one_reload)
{
	struct watch *w;
	long last = 0, at = 0;
	char text[32];
	int i;

	ASSERT(put(p("server.pem"), "0") == 0);
	ASSERT(put(p("server.key"), "0") == 0);
	w = watch_one("server.pem");
	ASSERT(w && watch_add(w, p("server.key")) == 0);
	for (i = 0; i < 10; i++) {	/* 10 writes, 15 ms apart: < DEBOUNCE_MS */
		snprintf(text, sizeof(text), "%d", i);
		ASSERT(put(p(i % 2 ? "server.key" : "server.pem"), text) == 0);
		last = now_ms();
		usleep(15000);
	}
	EXPECT_EQ(reloads_within(w, 400, &at), 1);
	EXPECT(at - last >= DEBOUNCE_MS - 5);	/* after the last event, not the first */
	watch_free(w);
}

TEST(missing_file_is_watched_and_appears)
{
	struct watch *w = watch_one("ca.crl");

	ASSERT(w);
	ASSERT(put(p("ca.crl"), "crl") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	watch_free(w);
}

TEST(bad_paths_are_refused)
{
	struct watch *w = watch_new(DEBOUNCE_MS);
	char name[32];
	int i;

	ASSERT(w);
	EXPECT_EQ(watch_add(w, "relative.pem"), -EINVAL);
	EXPECT_EQ(watch_add(w, p("no-such-dir/server.pem")), -ENOENT);
	for (i = 0; i < WATCH_FILES_MAX; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ASSERT(watch_add(w, p(name)) == 0);
	}
	EXPECT_EQ(watch_add(w, p("f0")), 0);	/* already watched */
	EXPECT_EQ(watch_add(w, p("one-too-many")), -ENOSPC);
	EXPECT_EQ(w->n_files, WATCH_FILES_MAX);
	watch_free(w);
}

TEST(config_files_are_all_watched)
{
	struct config c = { 0 };
	struct watch *w = watch_new(DEBOUNCE_MS);
	char *pem = strdup(p("server.pem")), *key = strdup(p("server.key"));
	char *ca = strdup(p("ca.pem")), *crl = strdup(p("ca.crl"));

	ASSERT(w && pem && key && ca && crl);
	c.tls = (struct tls_files){ .server_pem = pem, .server_key = key, .ca_pem = ca,
				    .crl_pem = crl };
	c.internaltls.ca_pem = ca;	/* the same file twice is watched once */
	EXPECT_EQ(watch_add_config(w, &c), 0);
	EXPECT_EQ(w->n_files, 4);
	EXPECT_EQ(w->n_dirs, 1);
	ASSERT(put(p("ca.crl"), "revoked") == 0);
	EXPECT_EQ(reloads_within(w, 300, NULL), 1);
	EXPECT_STR_EQ(watch_changed(w), crl);
	watch_free(w);
	free(pem), free(key), free(ca), free(crl);
}
