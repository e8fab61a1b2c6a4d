// SPDX-License-Identifier: GPL-2.0
/* The harnesses' private directory and the redirection of /proc/FUZZ_PID (fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

unsigned long fuzz_proc_opens;
static char dir[64];

static void remove_dir(void)
{
	char cmd[128];

	/* the inputs may have left anything there: files, FIFOs, symlinks, a proc/ tree */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "fuzz: cannot remove %s\n", dir);
}

const char *fuzz_dir(void)
{
	char proc[96];

	if (dir[0])
		return dir;
	snprintf(dir, sizeof(dir), "%s/gilstat-fuzz.XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz: mkdtemp");
		abort();
	}
	snprintf(proc, sizeof(proc), "%s/proc", dir);
	if (mkdir(proc, 0700)) {
		perror("fuzz: mkdir");
		abort();
	}
	atexit(remove_dir);
	return dir;
}

const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
	static char path[256];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
	if (fd < 0) {
		perror(path);
		abort();
	}
	for (size_t done = 0; done < size; done += n) {
		n = write(fd, data + done, size - done);
		if (n <= 0) {
			perror(path);
			abort();
		}
	}
	close(fd);
	return path;
}

void fuzz_proc_write(const char *what, const uint8_t *data, size_t size)
{
	char name[128];

	snprintf(name, sizeof(name), "proc/%s", what);
	fuzz_write(name, data, size);
}

void fuzz_require(int reached, const char *what)
{
	if (reached)
		return;
	fprintf(stderr, "fuzz: the harness no longer reaches %s: update tests/fuzz/\n", what);
	abort();
}

/* "/proc/FUZZ_PID/X" as the private directory's proc/X; any other path as it is. */
static const char *redirect(const char *path, char *buf, size_t len)
{
	char prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "/proc/%d/", FUZZ_PID);

	if (!path || strncmp(path, prefix, n))
		return path;
	fuzz_proc_opens++;
	snprintf(buf, len, "%s/proc/%s", fuzz_dir(), path + n);
	return buf;
}

int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
FILE *__real_fopen(const char *path, const char *mode);

static mode_t mode_of(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

int __wrap_open(const char *path, int flags, ...)
{
	char buf[512];
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_of(flags, ap);
	va_end(ap);
	return __real_open(redirect(path, buf, sizeof(buf)), flags, mode);
}

int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
	char buf[512];
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_of(flags, ap);
	va_end(ap);
	return __real_openat(dirfd, redirect(path, buf, sizeof(buf)), flags, mode);
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
	char buf[512];

	return __real_fopen(redirect(path, buf, sizeof(buf)), mode);
}

ssize_t __real_readlink(const char *path, char *buf, size_t len);

ssize_t __wrap_readlink(const char *path, char *buf, size_t len)
{
	char redirected[512];

	return __real_readlink(redirect(path, redirected, sizeof(redirected)), buf, len);
}
