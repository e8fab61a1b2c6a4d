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

#include "elffile.h"
#include "gilstat.h"
#include "procfs.h"
#include "pygil.h"

/* .gnu.version: a symbol version with this bit set is not the default one (name@VERSION). */
#define VERSYM_HIDDEN 0x8000
/* sizeof(pthread_mutex_t) on x86-64 glibc: switch_mutex, the struct's last member */
#define GLIBC_MUTEX_SIZE 40
/* the bytes from &gil->cond to the end of the struct: cond, mutex, switch_cond, switch_mutex */
#define GIL_TAIL_BYTES (PY_SWITCH_COND_OFFSET + PY_GIL_MUTEX_AFTER_COND + GLIBC_MUTEX_SIZE)
/* _PyRuntime is a few hundred kilobytes (3.12: 450 KB); never read more than this of it. */
#define MAX_RUNTIME_BYTES (16u << 20)

static __u64 get_u64(const unsigned char *p)
{
	__u64 v;

	memcpy(&v, p, sizeof(v));
	return v;
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
	scn = elf_find_section(f.elf, SHT_DYNSYM, &shdr);
	syms = scn ? elf_getdata(scn, NULL) : NULL;
	scn = elf_find_section(f.elf, SHT_GNU_versym, &vshdr);
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
				*slots[n] = elf_vaddr_to_offset(f.elf, sym.st_value);
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
static bool is_libc_mapping(const struct proc_mapping *m, void *ctx)
{
	const char *base = strrchr(m->name, '/');
	int minor, n = 0;

	base = base ? base + 1 : m->name;
	if (!strcmp(base, "libc.so.6"))
		return true;
	return sscanf(base, "libc-2.%d.so%n", &minor, &n) == 1 && n && !base[n];
}

bool pygil_libc_mapped(pid_t pid)
{
	struct proc_mapping m;

	return proc_find_mapping(pid, is_libc_mapping, NULL, &m) == 1;
}

int pygil_libc_of_pid(pid_t pid, struct py_libc *libc, char *err, size_t err_len)
{
	char path[PATH_MAX], fallback[PATH_MAX];
	struct proc_mapping m;
	int ret = proc_find_mapping(pid, is_libc_mapping, NULL, &m);

	if (ret < 0) {
		snprintf(err, err_len, "cannot read /proc/%d/maps: %s", pid, strerror(-ret));
		return ret;
	}
	if (!ret) {
		snprintf(err, err_len, "PID %d maps no glibc (libc.so.6)", pid);
		return -ENOENT;
	}
	/*
	 * By name, or through the process's root in a container's mount namespace. A map_files
	 * entry is the last resort: it is named by the mapping's range, which the loader is still
	 * changing (segments mapped over, RELRO) while a process starts.
	 */
	proc_map_file(pid, &m, fallback, sizeof(fallback));
	proc_reachable_path(pid, m.name, &(struct safeio_id){.dev = m.dev, .ino = m.ino}, fallback,
			    path, sizeof(path));
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
		Elf_Scn *scn = elf_find_section(f.elf, types[t], &shdr);
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
#define DEBUG_VERSION	   DEBUG_COOKIE_LEN	  /* offsetof(_Py_DebugOffsets, version) */
#define DEBUG_FREE_THREADED (DEBUG_COOKIE_LEN + 8) /* offsetof(_Py_DebugOffsets, free_threaded) */
#define DEBUG_OFFSETS_HEAD 24

int pygil_debug_offsets(const char *path, __u64 *version_hex, bool *free_threaded)
{
	unsigned char head[DEBUG_OFFSETS_HEAD];

	if (pygil_debug_offsets_read(path, head, sizeof(head)))
		return -ENOENT;
	*version_hex = get_u64(head + DEBUG_VERSION);
	*free_threaded = get_u64(head + DEBUG_FREE_THREADED) != 0;
	return 0;
}

int pygil_debug_offsets_read(const char *path, void *buf, size_t len)
{
	__u64 vaddr, size, offset;
	struct elf_file f;
	int ret = -ENOENT;

	if (pygil_runtime_symbol(path, &vaddr, &size) || size < len || elf_file_open(&f, path))
		return -ENOENT;
	offset = elf_vaddr_to_offset(f.elf, vaddr);
	if (offset && pread(f.fd, buf, len, offset) == (ssize_t)len &&
	    !memcmp(buf, DEBUG_COOKIE, DEBUG_COOKIE_LEN))
		ret = 0;
	elf_file_close(&f);
	return ret;
}

/* What the file's virtual addresses are moved by in pid: 0 for ET_EXEC. */
static int load_bias(pid_t pid, const char *path, __u64 *bias)
{
	__u64 first_vaddr = UINT64_MAX;
	struct proc_mapping m;
	struct elf_file f;
	struct stat st;
	GElf_Ehdr ehdr;
	size_t nr = 0;
	int ret;

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
	ret = proc_find_inode(pid, st.st_ino, true, &m);
	if (ret <= 0)
		return ret ?: -ENOENT;
	*bias = m.start - first_vaddr;
	return 0;
}

static __u32 get_u32(const unsigned char *p)
{
	__u32 v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool is_monotonic_private(__u32 wrefs)
{
	return (wrefs & GLIBC_COND_WREFS_CLOCK) && !(wrefs & GLIBC_COND_WREFS_SHARED);
}

static bool is_gil_cond(const unsigned char *cond)
{
	return (is_monotonic_private(get_u32(cond + GLIBC_COND_WREFS)) ||
		is_monotonic_private(get_u32(cond + GLIBC_2_41_COND_WREFS))) &&
	       get_u32(cond + PY_GIL_MUTEX_AFTER_COND + GLIBC_MUTEX_KIND) == 0;
}

/* Does a GIL's cond sit at p, in the layout gilstat.h describes? */
static bool looks_like_gil(const unsigned char *p)
{
	__u64 interval_us = get_u64(p - PY_GIL_INTERVAL_BEFORE_COND);
	__u32 locked = get_u32(p - PY_GIL_LOCKED_BEFORE_COND);
	__u32 pad = get_u32(p - PY_GIL_LOCKED_BEFORE_COND + 4);

	return interval_us && interval_us <= PY_GIL_MAX_INTERVAL_US && locked <= 1 && !pad &&
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

/* 3.8-3.12 by their headers (x86-64, checked with gdb's ptype/o on pyenv's builds). */
static const struct {
	int minor_min, minor_max;
	struct py_layout l;
} py_layouts[] = {
	{8, 10, {{24, -1, 24, 32, 8, 0}, {112, -1, 104, 40, 48, 32}}},
	{11, 11, {{56, 8, 48, 32, 8, 0}, {120, 128, 112, 72, 48, 32}}},
	{12, 12, {{56, 0, 8, 0, 8, 0}, {120, 128, 112, 68, 40, 32}}},
};

/*
 * _Py_DebugOffsets is an array of u64 whose order changes with every minor version (3.14 and 3.15
 * added fields to the interpreter and thread states and the frame), so the sections the walk
 * needs are found by what CPython's own structs make true of them, not by index: a new minor
 * version needs no table. Each section starts with its struct's size. Read as found in sid's
 * 3.13.18, 3.14.10, 3.15.2 and pyenv's 3.13.0:
 * - thread_state: size, prev 0, next 8, interp 16, current_frame;
 * - interpreter_frame: size, previous 8, executable 0 (the first two members since 3.13);
 * - code_object: size, filename, name, qualname, linetable (four pointers in a row), firstlineno;
 * - unicode_object: size, state, length, asciiobject_size, where length follows the object
 *   header (16), the hash the length, the state the hash, and the data the state's word.
 * A section that is not found exactly once refuses the layout rather than misread a frame.
 */
#define DBG_FIRST_SECTION 3 /* after the cookie, the version and free_threaded */

/* The index after 'from' where the n values of want[] start (~0: any), or -1 if not exactly one. */
static int dbg_find(const __u64 *dbg, int len, int from, const __u64 *want, int n,
		    bool (*ok)(const __u64 *at))
{
	int found = -1;

	for (int i = from; i + n <= len; i++) {
		bool match = true;

		for (int j = 0; j < n && match; j++)
			match = want[j] == ~0ull || dbg[i + j] == want[j];
		if (!match || (ok && !ok(dbg + i)))
			continue;
		if (found >= 0)
			return -1;
		found = i;
	}
	return found;
}

static bool dbg_thread_ok(const __u64 *at)
{
	return at[0] >= 64 && at[0] <= 65536 && at[4] >= 24 && at[4] < at[0] && !(at[4] % 8);
}

static bool dbg_frame_ok(const __u64 *at)
{
	return at[0] >= 16 && at[0] <= 1024;
}

static bool dbg_code_ok(const __u64 *at)
{
	return at[2] == at[1] + 8 && at[3] == at[2] + 8 && at[4] == at[3] + 8 && at[0] > at[4] &&
	       at[0] <= 4096 && at[5] + 4 <= at[0];
}

static bool dbg_unicode_ok(const __u64 *at)
{
	/* PyUnicodeObject extends the compact object, which adds utf8_length and utf8 */
	return at[0] >= at[3] + 16 && at[0] <= 256;
}

int pygil_layout_from_debug(const __u64 *dbg, int len, struct py_layout *l, char *why,
			    size_t why_len)
{
	static const __u64 thread[] = {~0ull, 0, 8, 16, ~0ull};
	static const __u64 frame[] = {~0ull, 8, 0};
	static const __u64 code[] = {~0ull, ~0ull, ~0ull, ~0ull, ~0ull, ~0ull};
	/* sizeof(PyObject) 16, then the length, the hash, the state's word, the data */
	static const __u64 unicode[] = {~0ull, 32, 16, 40};
	int t, f, c, u;

	memset(l, 0, sizeof(*l));
	t = dbg_find(dbg, len, DBG_FIRST_SECTION, thread, 5, dbg_thread_ok);
	f = t < 0 ? -1 : dbg_find(dbg, len, t + 5, frame, 3, dbg_frame_ok);
	c = f < 0 ? -1 : dbg_find(dbg, len, f + 3, code, 6, dbg_code_ok);
	u = c < 0 ? -1 : dbg_find(dbg, len, c + 6, unicode, 4, dbg_unicode_ok);
	if (u < 0) {
		snprintf(why, why_len, "Python frames: no %s section in _Py_DebugOffsets laid out as "
				       "gilstat reads it",
			 t < 0 ? "thread state" : f < 0 ? "frame" : c < 0 ? "code object" : "string");
		return -ENOTSUP;
	}
	l->frames.tstate_frame = dbg[t + 4];
	l->frames.cframe_current = -1;
	l->frames.frame_back = 8;
	l->frames.frame_code = 0;
	l->frames.gil_last_holder = PY_GIL_LAST_HOLDER_OFFSET;
	l->code.filename = dbg[c + 1];
	l->code.name = dbg[c + 2];
	l->code.qualname = dbg[c + 3];
	l->code.firstlineno = dbg[c + 5];
	l->code.str_state = dbg[u + 1];
	l->code.ascii_data = dbg[u + 3];
	return 0;
}

/* Enough of _Py_DebugOffsets for the sections the walk needs, with room for versions to grow. */
#define DBG_LEN 256

/* The layout from the _Py_DebugOffsets of the file at path, which must be of major.minor. */
static int layout_from_file(int major, int minor, const char *path, struct py_layout *l,
			    char *why, size_t why_len)
{
	__u64 dbg[DBG_LEN], version, want = (__u64)major << 24 | (__u64)minor << 16;

	if (pygil_debug_offsets_read(path, dbg, sizeof(dbg))) {
		snprintf(why, why_len, "Python frames: %s has no _Py_DebugOffsets (CPython %d.%d)",
			 path, major, minor);
		return -ENOTSUP;
	}
	version = dbg[DEBUG_VERSION / 8];
	if ((version & 0xffff0000) != want) {
		snprintf(why, why_len, "Python frames: %s's _Py_DebugOffsets are of CPython %d.%d, "
				       "not %d.%d", path, (int)(version >> 24 & 0xff),
			 (int)(version >> 16 & 0xff), major, minor);
		return -ENOTSUP;
	}
	if (dbg[DEBUG_FREE_THREADED / 8]) {
		snprintf(why, why_len, "Python frames: a free-threaded build's objects are not read "
				       "(CPython %d.%dt)", major, minor);
		return -ENOTSUP;
	}
	return pygil_layout_from_debug(dbg, DBG_LEN, l, why, why_len);
}

int pygil_layout_for(int major, int minor, const char *path, struct py_layout *l, char *why,
		  size_t why_len)
{
	memset(l, 0, sizeof(*l));
	if (major != 3 || minor < 8) {
		snprintf(why, why_len, "Python frames: CPython %d.%d has no layout gilstat knows "
				       "(3.8 and later)", major, minor);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(py_layouts) / sizeof(py_layouts[0]); i++) {
		if (minor >= py_layouts[i].minor_min && minor <= py_layouts[i].minor_max) {
			*l = py_layouts[i].l;
			return 0;
		}
	}
	return layout_from_file(major, minor, path, l, why, why_len);
}
