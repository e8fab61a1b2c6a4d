// SPDX-License-Identifier: GPL-2.0
/*
 * CPython's GIL seen through its condition variables (see pygil.h and docs/python.md).
 *
 * take_gil() and drop_gil() are static functions; an LTO build inlines them into PyEval_SaveThread,
 * PyEval_RestoreThread and a dozen internal callers, and a stripped build names none of those.
 * What every copy still does is call libc: pthread_cond_signal(&gil->switch_cond) once the GIL is
 * taken, pthread_cond_signal(&gil->cond) once it is dropped, pthread_cond_timedwait(&gil->cond)
 * while it waits. libc's functions have exported, versioned symbols in every build, so uprobes on
 * them see every copy, and the BPF side keeps only the calls on a GIL's addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gilstat.h"
#include "pygil.h"

/* .gnu.version: a symbol version with this bit set is not the default one (name@VERSION). */
#define VERSYM_HIDDEN 0x8000
/* Switch intervals above this many microseconds (17 minutes) are not a GIL's. */
#define MAX_INTERVAL_US 1000000000ull
/* glibc's pthread_cond_t: __wrefs at byte 36; bit 0 process-shared, bit 1 CLOCK_MONOTONIC. */
#define COND_WREFS_OFFSET 36
#define COND_WREFS_SHARED 0x1
#define COND_WREFS_CLOCK  0x2
/* glibc's pthread_mutex_t: __kind at byte 16; 0 is PTHREAD_MUTEX_TIMED_NP, the default. */
#define MUTEX_KIND_OFFSET 16
/* &gil->mutex - &gil->cond: a pthread_cond_t */
#define GIL_MUTEX_AFTER_COND 48
/* the bytes from &gil->cond to the end of the struct: cond, mutex, switch_cond, switch_mutex */
#define GIL_TAIL_BYTES (PY_SWITCH_COND_OFFSET + GIL_MUTEX_AFTER_COND + 40)
/* _PyRuntime is a few hundred kilobytes (3.12: 450 KB); never read more than this of it. */
#define MAX_RUNTIME_BYTES (16u << 20)

static __u64 get_u64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

struct elf_file {
	int fd;
	Elf *elf;
};

static int elf_file_open(struct elf_file *f, const char *path)
{
	f->elf = NULL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		if (f->elf)
			elf_end(f->elf);
		close(f->fd);
		return -ENOEXEC;
	}
	return 0;
}

static void elf_file_close(struct elf_file *f)
{
	elf_end(f->elf);
	close(f->fd);
}

/* The file offset of the byte at vaddr, through the PT_LOAD segment that holds it; 0 if none. */
static __u64 vaddr_to_offset(Elf *elf, __u64 vaddr)
{
	size_t nr;

	if (elf_getphdrnum(elf, &nr))
		return 0;
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr < ph.p_vaddr + ph.p_filesz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

static Elf_Scn *find_section(Elf *elf, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, shdr) && shdr->sh_type == type)
			return scn;
	}
	return NULL;
}

int pygil_libc_open(const char *path, struct py_libc *libc, char *err, size_t err_len)
{
	static const char *const names[] = {"pthread_cond_init", "pthread_cond_signal",
					    "pthread_cond_timedwait", "pthread_cond_clockwait"};
	__u64 *slots[] = {&libc->cond_init, &libc->cond_signal, &libc->cond_timedwait,
			  &libc->cond_clockwait};
	Elf_Data *syms, *versyms = NULL;
	GElf_Shdr shdr, vshdr;
	struct elf_file f;
	Elf_Scn *scn;
	int ret;

	memset(libc, 0, sizeof(*libc));
	snprintf(libc->path, sizeof(libc->path), "%s", path);
	ret = elf_file_open(&f, path);
	if (ret) {
		snprintf(err, err_len, "cannot read the C library %s: %s", path,
			 ret == -ENOEXEC ? "not an ELF file" : strerror(-ret));
		return ret;
	}
	scn = find_section(f.elf, SHT_DYNSYM, &shdr);
	syms = scn ? elf_getdata(scn, NULL) : NULL;
	scn = find_section(f.elf, SHT_GNU_versym, &vshdr);
	if (scn)
		versyms = elf_getdata(scn, NULL);
	for (size_t i = 0; syms && shdr.sh_entsize && i < shdr.sh_size / shdr.sh_entsize; i++) {
		GElf_Versym ver = 0;
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(syms, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		if (versyms && gelf_getversym(versyms, i, &ver) && (ver & VERSYM_HIDDEN))
			continue;
		name = elf_strptr(f.elf, shdr.sh_link, sym.st_name);
		for (size_t n = 0; name && n < sizeof(names) / sizeof(names[0]); n++) {
			if (!strcmp(name, names[n]))
				*slots[n] = vaddr_to_offset(f.elf, sym.st_value);
		}
	}
	elf_file_close(&f);
	if (!libc->cond_signal || !libc->cond_init ||
	    (!libc->cond_timedwait && !libc->cond_clockwait)) {
		snprintf(err, err_len, "%s exports no pthread_cond_signal/_init/_timedwait", path);
		return -ENOENT;
	}
	return 0;
}

/* glibc's libc.so.6; an older glibc's libc-2.NN.so */
static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');
	int minor, n = 0;

	base = base ? base + 1 : path;
	if (!strcmp(base, "libc.so.6"))
		return true;
	return sscanf(base, "libc-2.%d.so%n", &minor, &n) == 1 && n && !base[n];
}

int pygil_libc_of_pid(pid_t pid, struct py_libc *libc, char *err, size_t err_len)
{
	char maps_path[64], line[PATH_MAX + 256], path[PATH_MAX + 64];
	bool found = false;
	FILE *maps;

	snprintf(maps_path, sizeof(maps_path), "/proc/%d/maps", pid);
	maps = fopen(maps_path, "re");
	if (!maps) {
		snprintf(err, err_len, "cannot read %s: %s", maps_path, strerror(errno));
		return -errno;
	}
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long start, end;
		char *file;
		int n = 0;

		if (sscanf(line, "%lx-%lx %*s %*s %*s %*u %n", &start, &end, &n) != 2 || !n)
			continue;
		file = line + n;
		file[strcspn(file, "\n")] = '\0';
		if (*file != '/' || !is_libc_name(file))
			continue;
		/* through the process's root: the same file in a container's mount namespace */
		snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, start, end);
		found = true;
	}
	fclose(maps);
	if (!found) {
		snprintf(err, err_len, "PID %d maps no glibc (libc.so.6)", pid);
		return -ENOENT;
	}
	return pygil_libc_open(path, libc, err, err_len);
}

int pygil_runtime_symbol(const char *path, __u64 *vaddr, __u64 *size)
{
	static const Elf64_Word types[] = {SHT_DYNSYM, SHT_SYMTAB};
	struct elf_file f;
	int ret = -ENOENT;

	if (elf_file_open(&f, path))
		return -ENOENT;
	for (size_t t = 0; t < 2 && ret; t++) {
		GElf_Shdr shdr;
		Elf_Scn *scn = find_section(f.elf, types[t], &shdr);
		Elf_Data *data = scn ? elf_getdata(scn, NULL) : NULL;

		for (size_t i = 0; data && shdr.sh_entsize && i < shdr.sh_size / shdr.sh_entsize;
		     i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
				continue;
			name = elf_strptr(f.elf, shdr.sh_link, sym.st_name);
			if (name && !strcmp(name, "_PyRuntime")) {
				*vaddr = sym.st_value;
				*size = sym.st_size;
				ret = 0;
				break;
			}
		}
	}
	elf_file_close(&f);
	return ret;
}

/* _Py_DebugOffsets: char cookie[8]; uint64_t version; uint64_t free_threaded; ... */
#define DEBUG_COOKIE	   "xdebugpy"
#define DEBUG_COOKIE_LEN   8
#define DEBUG_OFFSETS_HEAD 24

int pygil_debug_offsets(const char *path, __u64 *version_hex, bool *free_threaded)
{
	unsigned char head[DEBUG_OFFSETS_HEAD];
	__u64 vaddr, size, offset;
	struct elf_file f;
	int ret = -ENOENT;

	if (pygil_runtime_symbol(path, &vaddr, &size) || size < sizeof(head) ||
	    elf_file_open(&f, path))
		return -ENOENT;
	offset = vaddr_to_offset(f.elf, vaddr);
	if (offset && pread(f.fd, head, sizeof(head), offset) == (ssize_t)sizeof(head) &&
	    !memcmp(head, DEBUG_COOKIE, DEBUG_COOKIE_LEN)) {
		*version_hex = get_u64(head + DEBUG_COOKIE_LEN);
		*free_threaded = get_u64(head + DEBUG_COOKIE_LEN + 8) != 0;
		ret = 0;
	}
	elf_file_close(&f);
	return ret;
}

int pygil_debug_offsets_read(const char *path, void *buf, size_t len)
{
	__u64 vaddr, size, offset;
	struct elf_file f;
	int ret = -ENOENT;

	if (pygil_runtime_symbol(path, &vaddr, &size) || size < len || elf_file_open(&f, path))
		return -ENOENT;
	offset = vaddr_to_offset(f.elf, vaddr);
	if (offset && pread(f.fd, buf, len, offset) == (ssize_t)len &&
	    !memcmp(buf, DEBUG_COOKIE, DEBUG_COOKIE_LEN))
		ret = 0;
	elf_file_close(&f);
	return ret;
}

/* What the file's virtual addresses are moved by in pid: 0 for ET_EXEC. */
static int load_bias(pid_t pid, const char *path, __u64 *bias)
{
	char maps_path[64], line[PATH_MAX + 256];
	__u64 first_vaddr = UINT64_MAX;
	struct elf_file f;
	struct stat st;
	GElf_Ehdr ehdr;
	size_t nr = 0;
	int ret = -ENOENT;
	FILE *maps;

	if (stat(path, &st))
		return -errno;
	ret = elf_file_open(&f, path);
	if (ret)
		return ret;
	if (!gelf_getehdr(f.elf, &ehdr) || elf_getphdrnum(f.elf, &nr)) {
		elf_file_close(&f);
		return -ENOEXEC;
	}
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(f.elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < first_vaddr)
			first_vaddr = ph.p_vaddr & ~(ph.p_align ? ph.p_align - 1 : 0);
	}
	elf_file_close(&f);
	if (ehdr.e_type == ET_EXEC) {
		*bias = 0;
		return 0;
	}
	snprintf(maps_path, sizeof(maps_path), "/proc/%d/maps", pid);
	maps = fopen(maps_path, "re");
	if (!maps)
		return -errno;
	ret = -ENOENT;
	while (ret && fgets(line, sizeof(line), maps)) {
		unsigned long start, offset, inode;

		if (sscanf(line, "%lx-%*x %*s %lx %*s %lu", &start, &offset, &inode) == 3 &&
		    inode == st.st_ino && offset == 0) {
			*bias = start - first_vaddr;
			ret = 0;
		}
	}
	fclose(maps);
	return ret;
}

static __u32 get_u32(const unsigned char *p)
{
	__u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool is_gil_cond(const unsigned char *cond)
{
	__u32 wrefs = get_u32(cond + COND_WREFS_OFFSET);

	return (wrefs & COND_WREFS_CLOCK) && !(wrefs & COND_WREFS_SHARED) &&
	       get_u32(cond + GIL_MUTEX_AFTER_COND + MUTEX_KIND_OFFSET) == 0;
}

/* Does a GIL's cond sit at p, in the layout pygil.h describes? */
static bool looks_like_gil(const unsigned char *p)
{
	__u64 interval_us = get_u64(p - 32);
	__u32 locked = get_u32(p - 16), pad = get_u32(p - 12);

	return interval_us && interval_us <= MAX_INTERVAL_US && locked <= 1 && !pad &&
	       is_gil_cond(p) && is_gil_cond(p + PY_SWITCH_COND_OFFSET);
}

int pygil_find_gils(pid_t pid, const char *path, __u64 cond_offset, __u64 *gils, int max_gils,
		    char *err, size_t err_len)
{
	__u64 vaddr, size, bias, start;
	char mem_path[64];
	unsigned char *buf;
	int fd, nr = 0, ret;
	ssize_t len;

	if (pygil_runtime_symbol(path, &vaddr, &size) || !size) {
		snprintf(err, err_len, "%s has no _PyRuntime symbol", path);
		return -ENOENT;
	}
	ret = load_bias(pid, path, &bias);
	if (ret) {
		snprintf(err, err_len, "cannot find where PID %d maps %s: %s", pid, path,
			 strerror(-ret));
		return ret;
	}
	if (size > MAX_RUNTIME_BYTES)
		size = MAX_RUNTIME_BYTES;
	buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	snprintf(mem_path, sizeof(mem_path), "/proc/%d/mem", pid);
	fd = open(mem_path, O_RDONLY | O_CLOEXEC);
	start = vaddr + bias;
	len = fd < 0 ? -1 : pread(fd, buf, size, start);
	if (fd >= 0)
		close(fd);
	if (len != (ssize_t)size) {
		snprintf(err, err_len, "cannot read _PyRuntime in PID %d: %s", pid,
			 len < 0 ? strerror(errno) : "short read");
		free(buf);
		return len < 0 ? -errno : -EIO;
	}
	for (__u64 off = cond_offset; off + GIL_TAIL_BYTES <= size && nr < max_gils; off += 8) {
		if (looks_like_gil(buf + off))
			gils[nr++] = start + off - cond_offset;
	}
	free(buf);
	if (!nr)
		snprintf(err, err_len, "no GIL found in the _PyRuntime of PID %d", pid);
	return nr;
}
