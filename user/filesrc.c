// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <json.h>

#include "filesrc.h"
#include "log.h"
#include "util.h"

/*
 * Tells a rewrite with the same content from a change. Eight bytes a step
 * (a byte-wise FNV-1a took 100 ms over a 91 MB file, on every change);
 * not a cryptographic hash, nothing needs one here.
 */
static uint64_t content_hash(const char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;
	size_t i = 0;

	for (; i + sizeof(w) <= len; i += sizeof(w)) {
		memcpy(&w, buf + i, sizeof(w));
		h = (h ^ (w * 0x9e3779b97f4a7c15ULL)) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ULL;
	return h;
}

static int setup_inotify(const char *path)
{
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return -errno;
	/*
	 * Watch the directory: editors and ConfigMap volumes replace the file
	 * by rename, which a watch on the file itself would lose.
	 */
	if (inotify_add_watch(fd, dirname(dir), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
				  IN_DELETE | IN_MODIFY) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Reads the pending inotify events of the file's directory: true if one is
 * about the file itself, or about a name starting with ".." (a ConfigMap
 * volume swaps its "..data" symlink). Anything else written there (the
 * "services.json.tmp" a writer renames into place, an editor's swap file)
 * would otherwise have the whole file read and hashed again for each write.
 */
static bool file_events(int fd, const char *path)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *base = strrchr(path, '/');
	bool hit = false;
	ssize_t n;

	base = base ? base + 1 : path;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			/* IN_Q_OVERFLOW (no name): events were lost, read the file. */
			if (!ev->len || !strcmp(ev->name, base) || !strncmp(ev->name, "..", 2))
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return hit;
}

int xvip_filesrc_init(struct xvip_filesrc *fs, const char *path, const struct xvip_model_opts *mo,
		      void (*apply)(void *ctx, const struct xvip_model *m, const char *what),
		      void *ctx)
{
	memset(fs, 0, sizeof(*fs));
	fs->path = path;
	fs->mo = mo;
	fs->apply = apply;
	fs->ctx = ctx;
	fs->fd = setup_inotify(path);
	return fs->fd < 0 ? fs->fd : 0;
}

void xvip_filesrc_fini(struct xvip_filesrc *fs)
{
	if (fs->path && fs->fd >= 0)
		close(fs->fd);
	fs->fd = -1;
}

int xvip_filesrc_fd(const struct xvip_filesrc *fs)
{
	return fs->fd;
}

void xvip_filesrc_dispatch(struct xvip_filesrc *fs)
{
	if (file_events(fs->fd, fs->path))
		xvip_filesrc_sync(fs, false);
}

void xvip_filesrc_sync(struct xvip_filesrc *d, bool force)
{
	struct json_object *doc = NULL;
	struct xvip_model m = {};
	char err[512] = "";
	char *buf = NULL;
	size_t len = 0;
	uint64_t h;
	int ret;

	ret = xvip_read_file(d->path, SIZE_MAX, &buf, &len, NULL);
	if (ret) {
		log_err("read services file %s: %s (%d); keeping the programmed state",
			d->path, strerror(-ret), ret);
		return;
	}
	h = content_hash(buf, len);
	if (!force && h == d->applied_hash) {
		free(buf);
		return;
	}
	ret = xvip_model_from_json_doc(buf, len, d->mo, &m, &doc, err, sizeof(err));
	free(buf);
	if (ret) {
		json_object_put(doc);
		log_err("%s: %s; keeping the programmed state", d->path, err);
		d->applied_hash = h;	/* report a bad file once, not on every tick */
		return;
	}
	d->apply(d->ctx, &m, d->path);
	d->applied_hash = h;
	xvip_model_free(&m);
	/* The document's tree only now: freeing it is the slow part of a reload's end. */
	json_object_put(doc);
}
