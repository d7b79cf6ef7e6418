// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

void xvip_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int xvip_read_file(const char *path, size_t max, char **bufp, size_t *lenp, const char **step)
{
	size_t len = 0, cap;
	char *buf = NULL, *p;
	const char *dummy;
	struct stat st;
	ssize_t n;
	int fd, ret;

	if (!step)
		step = &dummy;
	*step = "open";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*step = "stat";
	if (fstat(fd, &st)) {
		ret = -errno;
		goto err;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		ret = -EFBIG;
		goto err;
	}
	/*
	 * Room for the NUL and one byte more: the read that sees the end of a
	 * regular file needs no larger buffer, and one byte past max is what
	 * tells a file of max bytes from a longer one.
	 */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 2 : 65536;
	*step = "read";
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto err;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (len > max) {
				ret = -EFBIG;
				goto err;
			}
			cap = cap - 2 < max / 2 ? cap * 2 : max + 2;
			p = realloc(buf, cap);
			if (!p) {
				ret = -ENOMEM;
				goto err;
			}
			buf = p;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto err;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		ret = -EFBIG;
		goto err;
	}
	buf[len] = '\0';
	close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
err:
	free(buf);
	close(fd);
	return ret;
}

int xvip_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = reallocarray(*arr, ncap, size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
