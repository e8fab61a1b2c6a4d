/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening and reading files that other users choose: executables, their libraries and debug
 * files, and what lies under /proc/PID/root. gilstat runs as root; none of these may block it,
 * exhaust its memory, kill it with SIGBUS, or make it read a file its owner could not name.
 */
#ifndef GILSTAT_SAFEIO_H
#define GILSTAT_SAFEIO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <libelf.h>

/* The largest file parsed as ELF: far above any libpython with its symbols, far below RAM. */
#define SAFEIO_MAX_FILE_BYTES (1024ull << 20)
/* The largest single buffer read out of such a file (a function's code, a CRC chunk...). */
#define SAFEIO_MAX_READ_BYTES (16u << 20)
/* The largest section whose data is read (libelf allocates it whole): symbol tables, notes. */
#define SAFEIO_MAX_SECTION_BYTES (64u << 20)

/* The last component of the path may be a symlink: off for directories other users write. */
#define SAFEIO_NOFOLLOW 1u

/* The identity /proc reported for a file (a maps line, /proc/PID/exe): ino 0 checks nothing. */
struct safeio_id {
	dev_t dev;
	ino_t ino;
};

/*
 * A regular file opened for reading, without blocking on a FIFO or a device: its fd, or -errno
 * (-EINVAL: not a regular file, -ESTALE: not the file want names, -EFBIG: larger than
 * SAFEIO_MAX_FILE_BYTES). "/proc/PID/root/REST" resolves REST inside that root, as the process
 * would; no path may pass through a /proc magic link but /proc's own. st is filled if given.
 */
int safeio_open(const char *path, unsigned int flags, const struct safeio_id *want,
		struct stat *st);
/* The same for one file name (no '/') in the directory dirfd, never following a symlink. */
int safeio_open_in(int dirfd, const char *name, struct stat *st);
/* A directory for safeio_open_in(): "/proc/PID/root/..." resolved as above. fd or -errno. */
int safeio_open_dir(const char *path);

/* Exactly len bytes at off: 0, or -errno (-EIO when the file is shorter, -EFBIG when too long). */
int safeio_pread(int fd, void *buf, size_t len, off_t off);
/* len bytes at off in a new buffer (free()), or NULL; len is bounded by SAFEIO_MAX_READ_BYTES. */
void *safeio_pread_alloc(int fd, size_t len, off_t off);

/*
 * libelf over fd, which read(2)s what it needs: a file truncated while it is parsed gives a read
 * error, not the SIGBUS of a mapping. NULL for a file of more than SAFEIO_MAX_FILE_BYTES.
 */
Elf *safeio_elf_begin(int fd);

/*
 * The budget of one look at a process: reading its files stops, and each reader gives up, once
 * budget_ns have passed or a stop signal came (safeio_set_stop_flag()).
 */
void safeio_budget_start(uint64_t budget_ns);
void safeio_budget_end(void);
/* False once the budget is spent or a stop is asked: the caller gives up what it reads. */
bool safeio_budget_left(void);
/* Whether the last budget ran out (rather than the work ending within it). */
bool safeio_budget_exceeded(void);
void safeio_set_stop_flag(volatile sig_atomic_t *stop);

/* A name another user chose (comm, a function name) for a terminal: control bytes as \xNN. */
void safeio_escape(const char *name, char *out, size_t out_len);
/* The same, written to f. */
void safeio_fputs_escaped(const char *name, FILE *f);

#endif /* GILSTAT_SAFEIO_H */
