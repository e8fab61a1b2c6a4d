// SPDX-License-Identifier: GPL-2.0
/*
 * Files other users choose, opened and read so that none of them can hold up or kill gilstat
 * (safeio.h). Three rules: a regular file only, opened without blocking and checked against the
 * inode /proc reported; paths under a process's root resolved inside that root; reads with
 * pread(2) into bounded buffers, never a mapping that a truncate would turn into SIGBUS.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "safeio.h"

static int openat2_or_at(int dirfd, const char *path, int oflags, __u64 resolve)
{
	struct open_how how = {.flags = (__u64)oflags, .resolve = resolve};
	int fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	/* before 5.6: no root to resolve in, only the magic links left unchecked */
	if (fd < 0 && errno == ENOSYS && !(resolve & RESOLVE_IN_ROOT))
		fd = openat(dirfd, path, oflags);
	return fd < 0 ? -errno : fd;
}

/* "/proc/PID/root" and what follows it in path, or false for any other path. */
static bool split_proc_root(const char *path, char *root, size_t root_len, const char **rest)
{
	int pid, n = 0;

	if (sscanf(path, "/proc/%d/root%n", &pid, &n) != 1 || !n ||
	    (path[n] != '/' && path[n] != '\0'))
		return false;
	snprintf(root, root_len, "/proc/%d/root", pid);
	*rest = path[n] ? path + n : ".";
	return true;
}

/* path opened with oflags: inside a process's root, through /proc's links, or as it is. */
static int open_resolved(const char *path, int oflags)
{
	const __u64 no_magic = RESOLVE_NO_MAGICLINKS;
	const char *rest;
	char root[64];
	int root_fd, fd;

	if (split_proc_root(path, root, sizeof(root), &rest)) {
		root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			return -errno;
		fd = openat2_or_at(root_fd, rest, oflags, RESOLVE_IN_ROOT | no_magic);
		close(root_fd);
		return fd;
	}
	/* /proc/PID/exe and map_files are links the kernel made to the very file */
	if (!strncmp(path, "/proc/", 6)) {
		fd = open(path, oflags);
		return fd < 0 ? -errno : fd;
	}
	return openat2_or_at(AT_FDCWD, path, oflags, no_magic);
}

static int check_opened(int fd, const struct safeio_id *want, struct stat *st)
{
	struct stat mine;

	if (!st)
		st = &mine;
	if (fstat(fd, st))
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (want && want->ino &&
	    (st->st_ino != want->ino || (want->dev && st->st_dev != want->dev)))
		return -ESTALE;
	if ((unsigned long long)st->st_size > SAFEIO_MAX_FILE_BYTES)
		return -EFBIG;
	return 0;
}

int safeio_open(const char *path, unsigned int flags, const struct safeio_id *want, struct stat *st)
{
	int oflags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	int fd, err;

	if (flags & SAFEIO_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	fd = open_resolved(path, oflags);
	if (fd < 0)
		return fd;
	err = check_opened(fd, want, st);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int safeio_open_in(int dirfd, const char *name, struct stat *st)
{
	int fd, err;

	if (strchr(name, '/'))
		return -EINVAL;
	fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	err = check_opened(fd, NULL, st);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int safeio_open_dir(const char *path)
{
	return open_resolved(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC);
}

int safeio_pread(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	if (len > SAFEIO_MAX_READ_BYTES || off < 0)
		return -EFBIG;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR && safeio_budget_left())
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

void *safeio_pread_alloc(int fd, size_t len, off_t off)
{
	void *buf;

	if (!len || len > SAFEIO_MAX_READ_BYTES)
		return NULL;
	buf = malloc(len);
	if (buf && safeio_pread(fd, buf, len, off)) {
		free(buf);
		return NULL;
	}
	return buf;
}

Elf *safeio_elf_begin(int fd)
{
	struct stat st;

	if (elf_version(EV_CURRENT) == EV_NONE || fstat(fd, &st) || !S_ISREG(st.st_mode))
		return NULL;
	if ((unsigned long long)st.st_size > SAFEIO_MAX_FILE_BYTES) {
		errno = EFBIG;
		return NULL;
	}
	return elf_begin(fd, ELF_C_READ, NULL);
}

static struct {
	uint64_t deadline_ns; /* 0: none */
	bool exceeded;
	volatile sig_atomic_t *stop;
} budget;

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

void safeio_budget_start(uint64_t budget_ns)
{
	budget.deadline_ns = monotonic_ns() + budget_ns;
	budget.exceeded = false;
}

void safeio_budget_end(void)
{
	budget.deadline_ns = 0;
}

bool safeio_budget_left(void)
{
	if (budget.stop && *budget.stop)
		return false;
	/* outside a look (no deadline) only a stop counts */
	if (!budget.deadline_ns)
		return true;
	if (!budget.exceeded && monotonic_ns() >= budget.deadline_ns)
		budget.exceeded = true;
	return !budget.exceeded;
}

bool safeio_budget_exceeded(void)
{
	return budget.exceeded;
}

void safeio_set_stop_flag(volatile sig_atomic_t *stop)
{
	budget.stop = stop;
}

/* The length of the UTF-8 sequence at s that encodes a printable code point (U+00A0 on), or 0. */
static size_t printable_utf8(const unsigned char *s)
{
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	uint32_t cp;

	if (!len || s[0] > 0xf4)
		return 0;
	cp = s[0] & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* C1 controls (U+0080-U+009F) are escape sequences on some terminals; overlong forms too */
	if (cp < 0xa0 || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void safeio_escape(const char *name, char *out, size_t out_len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t o = 0;

	if (!out_len)
		return;
	while (*s) {
		size_t len = *s >= 0x80 ? printable_utf8(s) : 0;

		if (len) {
			if (o + len >= out_len)
				break;
			memcpy(out + o, s, len);
			o += len;
			s += len;
		} else if (*s < 0x20 || *s >= 0x7f || *s == '\\') {
			if (o + 4 >= out_len)
				break;
			snprintf(out + o, 5, "\\x%02x", *s++);
			o += 4;
		} else {
			if (o + 1 >= out_len)
				break;
			out[o++] = (char)*s++;
		}
	}
	out[o] = '\0';
}

void safeio_fputs_escaped(const char *name, FILE *f)
{
	char buf[1024];

	safeio_escape(name, buf, sizeof(buf));
	fputs(buf, f);
}
