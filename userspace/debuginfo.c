// SPDX-License-Identifier: GPL-2.0
/*
 * Debug information for a stripped ELF file, found in the places and the order that gdb and perf
 * use (debuginfo.h). Each candidate must prove it belongs to the file before its symbols are
 * believed: a build-id equal to the file's (when both have one), the CRC32 that .gnu_debuglink
 * names, and an ELF header, section table and .symtab that libelf can read. The symbols of a
 * debug file for another build would put uprobes in the middle of unrelated instructions.
 */
#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "debuginfo.h"
#include "safeio.h"

#define DEFAULT_DEBUG_ROOT "/usr/lib/debug"
/* a build-id is 20 bytes (sha1) in practice; the note allows more */
#define MAX_BUILD_ID_LEN 64
/* MiniDebugInfo holds a few hundred KiB of symbols: far more is a decompression bomb */
#define MINIDEBUGINFO_MAX_BYTES (256u << 20)
#define COPY_CHUNK		(64 * 1024)

struct lookup {
	const char *path;
	const struct debuginfo_opts *opts;
	Elf *elf; /* the file itself */
	GElf_Ehdr ehdr;
	struct stat st;
	const unsigned char *build_id;
	ssize_t build_id_len;
	char build_id_hex[2 * MAX_BUILD_ID_LEN + 1];
	/* where it looked and what it found there, for the line of a failed lookup */
	char tried[1024];
};

const char *debuginfo_source_name(enum debuginfo_source kind)
{
	switch (kind) {
	case DEBUGINFO_SELF:
		return "the file itself";
	case DEBUGINFO_BUILD_ID:
		return "build-id";
	case DEBUGINFO_DEBUGLINK:
		return ".gnu_debuglink";
	case DEBUGINFO_MINIDEBUGINFO:
		return "MiniDebugInfo";
	case DEBUGINFO_DEBUGINFOD:
		return "debuginfod";
	}
	return "?";
}

static void __attribute__((format(printf, 2, 3))) warn(const struct lookup *l, const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (l->opts->warn) {
		l->opts->warn(l->opts->warn_ctx, line);
		return;
	}
	/* the line names files and debug links other users chose */
	fprintf(stderr, "gilstat: ");
	safeio_fputs_escaped(line, stderr);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 2, 3))) tried(struct lookup *l, const char *fmt, ...)
{
	size_t len = strlen(l->tried);
	va_list ap;

	if (len && len + 2 < sizeof(l->tried)) {
		strcpy(l->tried + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(l->tried + len, sizeof(l->tried) - len, fmt, ap);
	va_end(ap);
}

static const char *debug_root(const struct lookup *l)
{
	return l->opts->debug_root ? l->opts->debug_root : DEFAULT_DEBUG_ROOT;
}

static void hex(const unsigned char *id, ssize_t len, char *out, size_t out_len)
{
	out[0] = '\0';
	for (ssize_t i = 0; i < len && (size_t)(2 * i + 2) < out_len; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* The SHT_SYMTAB section of elf, its entries and names readable; NULL if there is none. */
static Elf_Scn *readable_symtab(Elf *elf, const char **why)
{
	Elf_Scn *scn = NULL;

	*why = "no .symtab";
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *syms, *names;
		GElf_Shdr shdr, str_shdr;
		Elf_Scn *str;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB)
			continue;
		*why = "its .symtab cannot be read";
		syms = elf_getdata(scn, NULL);
		str = elf_getscn(elf, shdr.sh_link);
		if (!syms || !shdr.sh_entsize || syms->d_size < shdr.sh_entsize || !str ||
		    !gelf_getshdr(str, &str_shdr) || str_shdr.sh_type != SHT_STRTAB)
			return NULL;
		names = elf_getdata(str, NULL);
		if (!names || !names->d_size)
			return NULL;
		return scn;
	}
	return NULL;
}

/*
 * Takes fd (a candidate found as `what`) into di if it is a readable ELF file of the same
 * machine, build-id and .symtab; otherwise one warning line, fd closed and -1.
 */
static int accept_candidate(struct lookup *l, int fd, const char *what, enum debuginfo_source kind,
			    struct debuginfo *di)
{
	char other_hex[2 * MAX_BUILD_ID_LEN + 1];
	const void *other_id;
	const char *why;
	ssize_t other_len;
	GElf_Ehdr ehdr;
	Elf *elf;

	elf = safeio_elf_begin(fd);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		warn(l, "ignoring %s: not an ELF file", what);
		tried(l, "%s refused", what);
		goto refuse;
	}
	if (ehdr.e_ident[EI_CLASS] != l->ehdr.e_ident[EI_CLASS] ||
	    ehdr.e_machine != l->ehdr.e_machine) {
		warn(l, "ignoring %s: an ELF file for another machine than %s", what, l->path);
		tried(l, "%s refused", what);
		goto refuse;
	}
	other_len = dwelf_elf_gnu_build_id(elf, &other_id);
	if (l->build_id_len > 0 && other_len > 0 &&
	    (other_len != l->build_id_len || memcmp(other_id, l->build_id, other_len))) {
		hex(other_id, other_len, other_hex, sizeof(other_hex));
		warn(l, "ignoring %s: its build-id %s is not the one of %s (%s)", what, other_hex,
		     l->path, l->build_id_hex);
		tried(l, "%s refused", what);
		goto refuse;
	}
	if (!readable_symtab(elf, &why)) {
		warn(l, "ignoring %s: truncated or corrupt, %s (%s)", what, why, elf_errmsg(-1));
		tried(l, "%s refused", what);
		goto refuse;
	}
	di->fd = fd;
	di->elf = elf;
	di->kind = kind;
	snprintf(di->source, sizeof(di->source), "%s", what);
	return 0;
refuse:
	if (elf)
		elf_end(elf);
	close(fd);
	return -1;
}

static int from_build_id_tree(struct lookup *l, struct debuginfo *di)
{
	char path[PATH_MAX];
	int fd;

	if (l->build_id_len <= 0) {
		tried(l, "no build-id");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", debug_root(l), l->build_id_hex,
		 l->build_id_hex + 2);
	/* root's own tree, whose entries are symlinks to the debug files */
	fd = safeio_open(path, 0, NULL, NULL);
	if (fd < 0) {
		tried(l, "no %s", path);
		return -1;
	}
	return accept_candidate(l, fd, path, DEBUGINFO_BUILD_ID, di);
}

/* The CRC32 of the size bytes fd held when it was opened: a file that grows is not read on. */
static int crc32_of(int fd, off_t size, uLong *crc)
{
	unsigned char *buf = malloc(COPY_CHUNK);
	off_t off = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	*crc = crc32(0L, Z_NULL, 0);
	while (off < size && !err) {
		size_t n = size - off < COPY_CHUNK ? (size_t)(size - off) : COPY_CHUNK;

		if (!safeio_budget_left())
			err = -ETIME;
		else
			err = safeio_pread(fd, buf, n, off);
		if (!err)
			*crc = crc32(*crc, buf, n);
		off += n;
	}
	free(buf);
	return err;
}

/*
 * The directory of the file being looked up, opened where it is: if it no longer holds that very
 * file, what is beside it was not put there by the file's owner. -1 then.
 */
static int open_own_dir(const struct lookup *l, const char *dir, const char *real)
{
	const char *base = strrchr(real, '/');
	struct stat st;
	int dirfd = safeio_open_dir(dir);

	if (dirfd < 0)
		return -1;
	if (fstatat(dirfd, base ? base + 1 : real, &st, AT_SYMLINK_NOFOLLOW) ||
	    st.st_dev != l->st.st_dev || st.st_ino != l->st.st_ino) {
		close(dirfd);
		return -1;
	}
	return dirfd;
}

/*
 * The debug file name in one of the places gdb looks (place 0: beside the file, 1: in .debug/
 * there, 2: under the debug root), its path in path; fd, or -1. The first two are directories
 * the file's owner writes: no symlink is followed there, and only a regular file is read.
 */
static int open_debuglink(const struct lookup *l, const char *dir, const char *real,
			  const char *name, int place, char *path, size_t path_len, struct stat *st)
{
	int dirfd, subfd, fd;

	if (place == 2) {
		if (dir[0] != '/')
			return -1;
		snprintf(path, path_len, "%s%s/%s", debug_root(l), dir, name);
		return safeio_open(path, 0, NULL, st);
	}
	snprintf(path, path_len, place == 0 ? "%s/%s" : "%s/.debug/%s", dir, name);
	dirfd = open_own_dir(l, dir, real);
	if (dirfd < 0)
		return -1;
	if (place == 1) {
		subfd = openat(dirfd, ".debug", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dirfd);
		if (subfd < 0)
			return -1;
		dirfd = subfd;
	}
	fd = safeio_open_in(dirfd, name, st);
	close(dirfd);
	return fd;
}

/*
 * .gnu_debuglink names a file and its CRC32; gdb looks for it beside the file, in .debug/ there
 * and under the debug root followed by the file's directory.
 */
static int from_debuglink(struct lookup *l, struct debuginfo *di)
{
	char real[PATH_MAX], dir[PATH_MAX], path[2 * PATH_MAX], what[2 * PATH_MAX + 32];
	const char *name, *slash;
	GElf_Word want_crc;

	name = dwelf_elf_gnu_debuglink(l->elf, &want_crc);
	if (!name) {
		tried(l, "no .gnu_debuglink");
		return -1;
	}
	if (strchr(name, '/')) {
		warn(l, "ignoring the .gnu_debuglink of %s: '%s' is not a file name", l->path,
		     name);
		tried(l, ".gnu_debuglink refused");
		return -1;
	}
	/* /proc/PID/root/... must stay as it is: resolving it leaves the process's root */
	if (!strncmp(l->path, "/proc/", 6) || !realpath(l->path, real))
		snprintf(real, sizeof(real), "%s", l->path);
	slash = strrchr(real, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - real), real);
	else
		snprintf(dir, sizeof(dir), ".");

	for (int place = 0; place < 3; place++) {
		struct stat st;
		uLong crc = 0;
		int fd, ret;

		fd = open_debuglink(l, dir, real, name, place, path, sizeof(path), &st);
		if (fd < 0)
			continue;
		/* a file whose debuglink names itself */
		if (st.st_dev == l->st.st_dev && st.st_ino == l->st.st_ino) {
			close(fd);
			continue;
		}
		snprintf(what, sizeof(what), ".gnu_debuglink %s", path);
		ret = crc32_of(fd, st.st_size, &crc);
		if (ret || crc != want_crc) {
			if (ret)
				warn(l, "ignoring %s: cannot read it: %s", path, strerror(-ret));
			else
				warn(l,
				     "ignoring %s: its CRC32 is %08lx, the .gnu_debuglink of %s "
				     "wants %08x",
				     path, crc, l->path, want_crc);
			tried(l, "%s refused", path);
			close(fd);
			continue;
		}
		if (!accept_candidate(l, fd, what, DEBUGINFO_DEBUGLINK, di))
			return 0;
	}
	tried(l, "no %s beside it, in .debug/ or under %s", name, debug_root(l));
	return -1;
}

/* Decompresses the xz data of .gnu_debugdata into fd. */
static int unxz(const Elf_Data *data, int fd, const char **why)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	unsigned char *out = malloc(COPY_CHUNK);
	size_t total = 0;
	lzma_ret ret;
	int err = 0;

	if (!out)
		return -ENOMEM;
	if (lzma_stream_decoder(&strm, UINT64_MAX, 0) != LZMA_OK) {
		free(out);
		*why = "liblzma cannot start";
		return -EINVAL;
	}
	strm.next_in = data->d_buf;
	strm.avail_in = data->d_size;
	do {
		size_t n;

		strm.next_out = out;
		strm.avail_out = COPY_CHUNK;
		ret = lzma_code(&strm, LZMA_FINISH);
		n = COPY_CHUNK - strm.avail_out;
		total += n;
		if (!safeio_budget_left()) {
			*why = "out of time";
			err = -ETIME;
			break;
		}
		if (total > MINIDEBUGINFO_MAX_BYTES) {
			*why = "larger than 256 MiB uncompressed";
			err = -EFBIG;
			break;
		}
		if (n && write(fd, out, n) != (ssize_t)n) {
			*why = strerror(errno);
			err = -EIO;
			break;
		}
	} while (ret == LZMA_OK);
	if (!err && ret != LZMA_STREAM_END) {
		*why = ret == LZMA_FORMAT_ERROR ? "not xz data"
		       : ret == LZMA_DATA_ERROR ? "corrupt xz data"
		       : ret == LZMA_BUF_ERROR	? "truncated xz data"
						: "xz data liblzma cannot decode";
		err = -EINVAL;
	}
	lzma_end(&strm);
	free(out);
	return err;
}

static Elf_Scn *section_named(Elf *elf, const char *want)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (gelf_getshdr(scn, &shdr) && (name = elf_strptr(elf, shstrndx, shdr.sh_name)) &&
		    !strcmp(name, want))
			return scn;
	}
	return NULL;
}

/* MiniDebugInfo: an ELF file holding a .symtab, xz-compressed into the section .gnu_debugdata. */
static int from_minidebuginfo(struct lookup *l, struct debuginfo *di)
{
	char what[PATH_MAX + 64];
	Elf_Scn *scn = section_named(l->elf, ".gnu_debugdata");
	const char *why = "";
	Elf_Data *data;
	GElf_Shdr shdr;
	int fd, err;

	if (!scn) {
		tried(l, "no .gnu_debugdata");
		return -1;
	}
	snprintf(what, sizeof(what), "MiniDebugInfo (.gnu_debugdata of %s)", l->path);
	if (!gelf_getshdr(scn, &shdr) || shdr.sh_size > SAFEIO_MAX_READ_BYTES) {
		warn(l, "ignoring %s: the section is larger than %u MiB", what,
		     SAFEIO_MAX_READ_BYTES >> 20);
		tried(l, ".gnu_debugdata refused");
		return -1;
	}
	data = elf_rawdata(scn, NULL);
	if (!data || !data->d_size) {
		warn(l, "ignoring %s: the section cannot be read (%s)", what, elf_errmsg(-1));
		tried(l, ".gnu_debugdata refused");
		return -1;
	}
	fd = memfd_create("gilstat-minidebuginfo", MFD_CLOEXEC);
	if (fd < 0) {
		warn(l, "ignoring %s: no memfd: %s", what, strerror(errno));
		tried(l, ".gnu_debugdata refused");
		return -1;
	}
	err = unxz(data, fd, &why);
	if (err) {
		warn(l, "ignoring %s: %s", what, why);
		tried(l, ".gnu_debugdata refused");
		close(fd);
		return -1;
	}
	return accept_candidate(l, fd, what, DEBUGINFO_MINIDEBUGINFO, di);
}

/*
 * libdebuginfod, opened when a lookup gets this far: linked, it would start libcurl and its TLS
 * library in every run of gilstat, 30 ms before main(), for the rare run that asks a server
 * (elfutils' libdwfl opens it the same way). It stays loaded: libcurl is not made to be unloaded.
 */
static struct {
	bool tried;
	const char *error;
	typeof(&debuginfod_begin) begin;
	typeof(&debuginfod_end) end;
	typeof(&debuginfod_find_debuginfo) find_debuginfo;
	typeof(&debuginfod_set_progressfn) set_progressfn;
	typeof(&debuginfod_set_user_data) set_user_data;
	typeof(&debuginfod_get_user_data) get_user_data;
	typeof(&debuginfod_get_url) get_url;
} dfd;

static bool load_debuginfod(void)
{
	void *lib;

	if (dfd.tried)
		return !dfd.error;
	dfd.tried = true;
	lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		dfd.error = "libdebuginfod.so.1 cannot be loaded";
		return false;
	}
	dfd.begin = dlsym(lib, "debuginfod_begin");
	dfd.end = dlsym(lib, "debuginfod_end");
	dfd.find_debuginfo = dlsym(lib, "debuginfod_find_debuginfo");
	dfd.set_progressfn = dlsym(lib, "debuginfod_set_progressfn");
	dfd.set_user_data = dlsym(lib, "debuginfod_set_user_data");
	dfd.get_user_data = dlsym(lib, "debuginfod_get_user_data");
	dfd.get_url = dlsym(lib, "debuginfod_get_url");
	if (!dfd.begin || !dfd.end || !dfd.find_debuginfo || !dfd.set_progressfn ||
	    !dfd.set_user_data || !dfd.get_user_data || !dfd.get_url)
		dfd.error = "libdebuginfod.so.1 lacks a function gilstat calls";
	return !dfd.error;
}

/*
 * The bound on a silent debuginfod server, kept in the client's user data. Until a server answers
 * with a Content-Length, libdebuginfod passes its loop count (not bytes) to the progress function:
 * then the whole wait is bounded. Once the download runs, only a stall of as long is: a large debug
 * file on a slow link may take longer but keeps coming.
 */
struct patience {
	int timeout_sec; /* <= 0: none */
	long bytes;
	struct timespec since; /* the call, or the last time data came */
	bool gave_up;
};

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

static int debuginfod_progress(debuginfod_client *client, long done, long total)
{
	struct patience *p = dfd.get_user_data(client);
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (total > 0 && done > p->bytes) {
		p->bytes = done;
		p->since = now;
		return 0;
	}
	/* the look's budget, or a stop signal, ends the wait too */
	if (!safeio_budget_left() ||
	    (p->timeout_sec > 0 && ms_between(&p->since, &now) >= p->timeout_sec * 1000L)) {
		p->gave_up = true;
		return 1;
	}
	return 0;
}

/* DEBUGINFOD_TIMEOUT (the client's own "no data within N seconds"), or ours. */
static int debuginfod_timeout_sec(const struct lookup *l)
{
	const char *env = getenv("DEBUGINFOD_TIMEOUT");
	char *end;
	long v;

	if (l->opts->debuginfod_timeout_sec)
		return l->opts->debuginfod_timeout_sec;
	if (env && *env) {
		v = strtol(env, &end, 10);
		if (!*end)
			return v > 0 && v < 86400 ? (int)v : 0;
	}
	return DEBUGINFO_DEFAULT_TIMEOUT_SEC;
}

static int from_debuginfod(struct lookup *l, struct debuginfo *di)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	struct patience p = {.timeout_sec = debuginfod_timeout_sec(l)};
	char what[PATH_MAX + 256];
	debuginfod_client *client;
	char *path = NULL;
	const char *url;
	int fd;

	if (l->opts->no_debuginfod) {
		tried(l, "debuginfod off (--no-debuginfod)");
		return -1;
	}
	if (!urls || !urls[strspn(urls, " \t")]) {
		tried(l, "no debuginfod server (DEBUGINFOD_URLS is empty)");
		return -1;
	}
	if (l->build_id_len <= 0)
		return -1;
	if (!load_debuginfod()) {
		warn(l, "debuginfod: %s", dfd.error);
		tried(l, "debuginfod unavailable");
		return -1;
	}
	client = dfd.begin();
	if (!client) {
		warn(l, "cannot start a debuginfod client: %s", strerror(errno));
		tried(l, "debuginfod failed");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &p.since);
	dfd.set_user_data(client, &p);
	dfd.set_progressfn(client, debuginfod_progress);
	fd = dfd.find_debuginfo(client, l->build_id, l->build_id_len, &path);
	url = dfd.get_url(client);
	if (fd >= 0) {
		if (url)
			snprintf(what, sizeof(what), "debuginfod %s", url);
		else
			snprintf(what, sizeof(what), "debuginfod's cache %s", path ? path : "");
	}
	dfd.end(client);
	if (fd >= 0) {
		free(path);
		return accept_candidate(l, fd, what, DEBUGINFO_DEBUGINFOD, di);
	}
	free(path);
	if (p.gave_up) {
		warn(l, "debuginfod: no answer for %s within %d s%s, going on without it",
		     l->build_id_hex, p.timeout_sec,
		     getenv("DEBUGINFOD_TIMEOUT") ? " (DEBUGINFOD_TIMEOUT)"
						  : " (DEBUGINFOD_TIMEOUT sets how long)");
		tried(l, "debuginfod timed out");
	} else if (fd == -ENOENT) {
		tried(l, "debuginfod found no %s", l->build_id_hex);
	} else {
		warn(l, "debuginfod: no debug file for %s: %s", l->build_id_hex, strerror(-fd));
		tried(l, "debuginfod failed");
	}
	return -1;
}

int debuginfo_open(const char *elf_path, const struct debuginfo_opts *opts, struct debuginfo *di,
		   char *err, size_t err_len)
{
	static const struct debuginfo_opts no_opts;
	struct lookup l = {.path = elf_path, .opts = opts ? opts : &no_opts};
	const char *why;
	const void *id;
	int fd, ret;

	memset(di, 0, sizeof(*di));
	di->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, err_len, "libelf is too old: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	fd = safeio_open(elf_path, 0, &l.opts->want, &l.st);
	if (fd < 0) {
		snprintf(err, err_len, "cannot read %s: %s", elf_path, strerror(-fd));
		return fd;
	}
	l.elf = safeio_elf_begin(fd);
	if (!l.elf || elf_kind(l.elf) != ELF_K_ELF || !gelf_getehdr(l.elf, &l.ehdr)) {
		snprintf(err, err_len, "%s is not an ELF file", elf_path);
		if (l.elf)
			elf_end(l.elf);
		close(fd);
		return -ENOEXEC;
	}
	if (readable_symtab(l.elf, &why)) {
		di->fd = fd;
		di->elf = l.elf;
		di->kind = DEBUGINFO_SELF;
		snprintf(di->source, sizeof(di->source), "%s",
			 debuginfo_source_name(DEBUGINFO_SELF));
		return 0;
	}
	tried(&l, "%s in the file", why);
	l.build_id_len = dwelf_elf_gnu_build_id(l.elf, &id);
	if (l.build_id_len > MAX_BUILD_ID_LEN)
		l.build_id_len = -1;
	if (l.build_id_len > 0) {
		l.build_id = id;
		hex(l.build_id, l.build_id_len, l.build_id_hex, sizeof(l.build_id_hex));
	}

	ret = from_build_id_tree(&l, di);
	if (ret)
		ret = from_debuglink(&l, di);
	if (ret)
		ret = from_minidebuginfo(&l, di);
	if (ret)
		ret = from_debuginfod(&l, di);
	/* the build-id points into l.elf: done with it only now */
	elf_end(l.elf);
	close(fd);
	if (ret) {
		snprintf(err, err_len, "no symbol table for %s: %s", elf_path, l.tried);
		return -ENOENT;
	}
	return 0;
}

void debuginfo_close(struct debuginfo *di)
{
	if (di->elf)
		elf_end(di->elf);
	if (di->fd >= 0)
		close(di->fd);
	di->elf = NULL;
	di->fd = -1;
}
