/* SPDX-License-Identifier: MIT */
/* Files of `ktlsgw cert`: each one staged as a temp file next to its target
 * (mkostemp: O_EXCL, 0600; then its mode; fsync) and renamed into place only
 * once every file of the run is staged; error messages go to the report. */
#include "certgen.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

int certgen_fail(struct certgen_report *r, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return ret;
}

int certgen_path_join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, CERTGEN_PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= CERTGEN_PATH_MAX ? -ENAMETOOLONG : 0;
}

int certgen_file_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = 0;
	return 0;
}

static int fd_fill(int fd, const char *data, size_t len, unsigned int mode)
{
	ssize_t n;

	if (fchmod(fd, mode) < 0)
		return -errno;
	while (len) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

int certgen_stage_file(struct certgen_stage *st, const char *name, const char *data, size_t len,
		       unsigned int mode, struct certgen_report *r)
{
	struct certgen_staged *s = &st->files[st->n];
	int fd, ret, n;

	BUG_ON(st->n >= CERTGEN_FILES);
	n = snprintf(s->tmp, sizeof(s->tmp), "%s/.%s.XXXXXX", st->dir, name);
	if (certgen_path_join(s->path, st->dir, name) < 0 || n < 0 || (size_t)n >= sizeof(s->tmp))
		return certgen_fail(r, -ENAMETOOLONG, "%s/%s: path too long", st->dir, name);
	fd = mkostemp(s->tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		s->tmp[0] = 0;
		return certgen_fail(r, ret, "%s: cannot create a temporary file: %s", s->path,
				    strerror(-ret));
	}
	st->n++; /* from here on certgen_stage_discard() unlinks it */
	s->mode = mode;
	ret = fd_fill(fd, data, len, mode);
	close(fd);
	if (ret < 0)
		return certgen_fail(r, ret, "%s: cannot write %s: %s", s->path, s->tmp,
				    strerror(-ret));
	return 0;
}

static void dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fsync(fd) < 0)
		log_debug("%s: fsync: %s", dir, strerror(errno));
	close(fd);
}

int certgen_stage_commit(struct certgen_stage *st, struct certgen_report *r)
{
	struct certgen_staged *s;
	struct certgen_file *f;
	unsigned int i;
	int ret;

	for (i = 0; i < st->n; i++) {
		s = &st->files[i];
		if (rename(s->tmp, s->path) < 0) {
			ret = -errno;
			return certgen_fail(r, ret, "%s: cannot rename %s into place: %s", s->path,
					    s->tmp, strerror(-ret));
		}
		s->tmp[0] = 0;
		f = &r->files[r->n_files++];
		snprintf(f->path, sizeof(f->path), "%s", s->path);
		f->mode = s->mode;
	}
	dir_sync(st->dir);
	return 0;
}

void certgen_stage_discard(struct certgen_stage *st)
{
	unsigned int i;

	for (i = 0; i < st->n; i++)
		if (st->files[i].tmp[0])
			unlink(st->files[i].tmp);
	st->n = 0;
}

static int mkdir_one(const char *p, struct certgen_report *r)
{
	int ret = mkdir(p, 0755) < 0 && errno != EEXIST ? -errno : 0;

	if (ret)
		return certgen_fail(r, ret, "%s: cannot create directory: %s", p, strerror(-ret));
	return 0;
}

int certgen_dir_make(const char *dir, struct certgen_report *r)
{
	char p[CERTGEN_PATH_MAX];
	struct stat st;
	char *s;
	int ret, n = snprintf(p, sizeof(p), "%s", dir);

	if (n < 0 || (size_t)n >= sizeof(p))
		return certgen_fail(r, -ENAMETOOLONG, "%s: path too long", dir);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		ret = mkdir_one(p, r);
		if (ret)
			return ret;
		*s = '/';
	}
	ret = mkdir_one(p, r);
	if (ret)
		return ret;
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
		return certgen_fail(r, -ENOTDIR, "%s: not a directory", p);
	return 0;
}
