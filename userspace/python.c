// SPDX-License-Identifier: GPL-2.0
/*
 * Finding the GIL of a real CPython.
 *
 * Python/ceval_gil.c takes and drops the GIL in two static functions, take_gil() and drop_gil().
 * Builds that keep their symbol table name them as local symbols, sometimes with a compiler suffix
 * (take_gil.constprop.0 in 3.8): uprobes there see every acquisition and release (PY_VIEW_GIL).
 * Stripped builds only export the C API; every blocking call goes through PyEval_SaveThread() and
 * PyEval_RestoreThread(), but the eval loop's forced switches do not (PY_VIEW_THREADSTATE).
 *
 * A forced release is the eval breaker honouring a drop request. In every version from 3.6 to 3.13
 * it is the one place that releases the GIL and at once asks for it again, two calls a few bytes
 * apart: drop_gil(); take_gil(); inside _PyEval_EvalFrameDefault (up to 3.11, where the handler is
 * inlined) or _Py_HandlePending (3.12), and _PyThreadState_Detach(); _PyThreadState_Attach(); in
 * _Py_HandlePending (3.13, which reaches drop_gil through them). A uprobe on that release call
 * marks the thread's next drop_gil as forced.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"
#include "debuginfo.h"
#include "procfs.h"
#include "python.h"
#include "pysyms.h"
#include "safeio.h"

/* x86-64 call rel32: opcode and length */
#define CALL_REL32     0xe8
#define CALL_REL32_LEN 5
/* jmp rel32 and jmp rel8: tail calls, to a neighbour in the second form */
#define JMP_REL32    0xe9
#define JMP_REL8     0xeb
#define JMP_REL8_LEN 2
/* bytes between the release call and the acquire call: 3 to 6 seen, for the arguments */
#define RETAKE_WINDOW 32

/* C API -> _PyThreadState_Detach -> _PyEval_ReleaseLock -> drop_gil is the longest chain (3.13) */
#define REACH_DEPTH 3
/* no function on such a chain is anywhere near this big */
#define MAX_WALK_SIZE (64 * 1024)
/* all the code one walk reads: a few functions of a few KiB each, in a real CPython */
#define MAX_WALK_BYTES (4u << 20)
/* the largest eval-breaker handler scanned: _PyEval_EvalFrameDefault is 50-200 KiB */
#define MAX_HANDLER_SIZE (1u << 20)

static enum py_probes probes_wanted = PY_PROBES_AUTO;

void python_set_probes(enum py_probes probes)
{
	probes_wanted = probes;
}

const char *python_view_name(enum py_view view)
{
	switch (view) {
	case PY_VIEW_GIL:
		return "take_gil/drop_gil";
	case PY_VIEW_THREADSTATE:
		return "PyEval_SaveThread/PyEval_RestoreThread";
	case PY_VIEW_NOGIL:
		return "no GIL";
	case PY_VIEW_CONDVAR:
		return "pthread_cond_signal/pthread_cond_timedwait on the GIL";
	}
	return "?";
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* "python3.13t" or "libpython3.9.so.1.0": the version and the ABI flags after it. */
static bool is_libpython_mapping(const struct proc_mapping *m, void *ctx)
{
	return pysyms_is_libpython_name(m->name);
}

static void version_from_name(const char *path, struct py_target *t)
{
	const char *p = strstr(base_name(path), "python");
	int major, minor, n = 0;

	if (!p || sscanf(p + 6, "%d.%d%n", &major, &minor, &n) != 2)
		return;
	t->major = major;
	t->minor = minor;
	for (p += 6 + n; *p && *p != '.' && *p != '-'; p++) {
		if (*p == 't')
			t->free_threaded = true;
	}
}

static struct debuginfo_opts debuginfo_opts;

void python_set_debuginfo_opts(const struct debuginfo_opts *opts)
{
	debuginfo_opts = opts ? *opts : (struct debuginfo_opts){};
}

/*
 * take_gil and drop_gil are local symbols: a stripped build keeps only .dynsym, and the names are
 * in its debug file, wherever debuginfo.c finds one. The code stays in path; only the symbols'
 * names, addresses and sizes come from the debug file.
 */
static void read_version(const struct py_elf *pe, struct py_target *t);

static void read_debug_symbols(struct py_elf *pe, const char *path)
{
	struct debuginfo_opts opts;
	__u64 vaddr, size;
	struct debuginfo di;
	Elf_Scn *scn = NULL;

	if (pe->has_symtab) {
		snprintf(pe->symbols_from, sizeof(pe->symbols_from), "%s",
			 debuginfo_source_name(DEBUGINFO_SELF));
		return;
	}
	if (!pysyms_has_python_code(pe) || (pysyms_has_role(pe, SYM_TAKE_GIL) && pysyms_has_role(pe, SYM_DROP_GIL)))
		return;
	/* the condition-variable view needs no symbols where it applies (use_libc()) */
	if (probes_wanted != PY_PROBES_SYMBOLS && !pygil_runtime_symbol(path, &vaddr, &size)) {
		static struct py_target version;

		memset(&version, 0, sizeof(version));
		version_from_name(path, &version);
		read_version(pe, &version);
		if (!version.major || version.major > 3 || version.minor >= 8)
			return;
	}
	/* the file pe read, not another one put at its path since */
	opts = debuginfo_opts;
	opts.want = pe->id;
	if (debuginfo_open(path, &opts, &di, pe->symbols_missing, sizeof(pe->symbols_missing)))
		return;
	while ((scn = elf_nextscn(di.elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_SYMTAB)
			pysyms_read(pe, di.elf, scn, &shdr);
	}
	pysyms_sort(pe);
	snprintf(pe->symbols_from, sizeof(pe->symbols_from), "%s", di.source);
	debuginfo_close(&di);
}

static void add_probe(struct py_probe *probes, int *nr, const char *name, __u64 offset)
{
	for (int i = 0; i < *nr; i++) {
		if (probes[i].offset == offset)
			return;
	}
	if (*nr == PY_MAX_PROBES)
		return;
	snprintf(probes[*nr].name, sizeof(probes[*nr].name), "%s", name);
	probes[*nr].offset = offset;
	(*nr)++;
}

static void add_probes(const struct py_elf *pe, enum sym_role role, struct py_probe *probes,
		       int *nr)
{
	for (int i = 0; i < pe->nr_syms; i++) {
		if (pe->syms[i].role == role)
			add_probe(probes, nr, pe->syms[i].name, pe->syms[i].offset);
	}
}

static __s32 read_rel32(const unsigned char *p)
{
	return (__s32)((__u32)p[0] | (__u32)p[1] << 8 | (__u32)p[2] << 16 | (__u32)p[3] << 24);
}

/*
 * The eval breaker's "release; retake" in one handler function: a call to drop_gil (or 3.13's
 * _PyThreadState_Detach) followed within RETAKE_WINDOW bytes by a call to take_gil (or
 * _PyThreadState_Attach). No other code in these functions releases and retakes the GIL, and a
 * stray 0xe8 byte would have to encode the exact distance to one of those functions, twice.
 */
static void scan_handler(const struct py_elf *pe, const struct py_sym *h, struct py_target *t)
{
	unsigned char *code;
	__u64 size = h->size;

	/* the size is the symbol's, which the file's owner wrote */
	if (size < 2 * CALL_REL32_LEN || size > MAX_HANDLER_SIZE || !safeio_budget_left())
		return;
	code = safeio_pread_alloc(pe->fd, size, h->offset);
	if (!code)
		return;
	for (__u64 i = 0; i + CALL_REL32_LEN <= size; i++) {
		__u64 next = i + CALL_REL32_LEN;

		if (code[i] != CALL_REL32 ||
		    !pysyms_addr_has_role(pe, h->addr + next + read_rel32(code + i + 1), SYM_DROP_GIL,
				   SYM_DETACH))
			continue;
		for (__u64 j = next; j <= next + RETAKE_WINDOW && j + CALL_REL32_LEN <= size; j++) {
			__u64 ret = j + CALL_REL32_LEN;
			char name[64];

			if (code[j] != CALL_REL32 ||
			    !pysyms_addr_has_role(pe, h->addr + ret + read_rel32(code + j + 1),
					   SYM_TAKE_GIL, SYM_ATTACH))
				continue;
			snprintf(name, sizeof(name), "%s+0x%llx", h->name, (unsigned long long)i);
			add_probe(t->forced, &t->nr_forced, name, h->offset + i);
			break;
		}
	}
	free(code);
}

/*
 * One walk from a C API function: the depth each function was read with (a function read with as
 * much depth before did not reach, or the walk would have ended), and what may still be read.
 */
struct walk {
	const struct py_elf *pe;
	unsigned char *depth_read; /* by index in pe->funcs */
	__u64 bytes_left;
};

/* Where a call or jump at i of f's code goes: an address, or 0 for no branch. */
static __u64 branch_target(const struct py_func *f, const unsigned char *code, __u64 i)
{
	if (code[i] == JMP_REL8)
		return f->addr + i + JMP_REL8_LEN + (__s8)code[i + 1];
	if ((code[i] == CALL_REL32 || code[i] == JMP_REL32) && i + CALL_REL32_LEN <= f->size)
		return f->addr + i + CALL_REL32_LEN + read_rel32(code + i + 1);
	return 0;
}

/*
 * Whether f calls or jumps (call rel32, jmp rel32/rel8) to a function of role, itself or through
 * up to depth - 1 functions in between. Each function is read once for each depth at most, and
 * the walk reads no more than MAX_WALK_BYTES: a file built to make it long ends it early.
 */
static bool reaches(struct walk *w, const struct py_func *f, enum sym_role role, int depth)
{
	const struct py_elf *pe = w->pe;
	size_t idx = f - pe->funcs;
	unsigned char *code;
	bool found = false;

	if (w->depth_read[idx] >= depth)
		return false;
	w->depth_read[idx] = depth;
	if (f->size < JMP_REL8_LEN || f->size > MAX_WALK_SIZE || f->size > w->bytes_left ||
	    !safeio_budget_left())
		return false;
	w->bytes_left -= f->size;
	code = safeio_pread_alloc(pe->fd, f->size, f->offset);
	if (!code)
		return false;
	for (__u64 i = 0; !found && i + JMP_REL8_LEN <= f->size; i++) {
		const struct py_func *callee;
		__u64 target = branch_target(f, code, i);

		if (!target || target == f->addr)
			continue;
		if (pysyms_addr_has_role(pe, target, role, role))
			found = true;
		else if (depth > 1 && (callee = pysyms_func_at(pe, target)))
			found = reaches(w, callee, role, depth - 1);
	}
	free(code);
	return found;
}

/*
 * An LTO build may inline take_gil or drop_gil into the C API and keep a copy for its other
 * callers (Debian's python3.11 has five inlined copies of drop_gil). Where a C API function no
 * longer reaches the copy, it is itself the probe point for its callers.
 */
static void add_inlining_callers(const struct py_elf *pe, enum sym_role api, enum sym_role role,
				 struct py_probe *probes, int *nr)
{
	struct walk w = {.pe = pe};

	if (!pe->nr_funcs)
		return;
	w.depth_read = malloc(pe->nr_funcs);
	if (!w.depth_read)
		return;
	for (int i = 0; i < pe->nr_syms; i++) {
		const struct py_sym *s = &pe->syms[i];
		const struct py_func *f;

		if (s->role != api || !(f = pysyms_func_at(pe, s->addr)))
			continue;
		memset(w.depth_read, 0, pe->nr_funcs);
		w.bytes_left = MAX_WALK_BYTES;
		if (!reaches(&w, f, role, REACH_DEPTH))
			add_probe(probes, nr, s->name, s->offset);
	}
	free(w.depth_read);
}

static void read_version(const struct py_elf *pe, struct py_target *t)
{
	unsigned char buf[8];
	__u64 hex = 0;

	for (int i = 0; i < pe->nr_syms; i++) {
		const struct py_sym *s = &pe->syms[i];

		if (s->role != SYM_VERSION || (s->size != 4 && s->size != 8) ||
		    pread(pe->fd, buf, s->size, s->offset) != (ssize_t)s->size)
			continue;
		for (__u64 b = 0; b < s->size; b++) {
			__u64 byte = pe->ehdr.e_ident[EI_DATA] == ELFDATA2MSB
					     ? buf[b]
					     : buf[s->size - 1 - b];
			hex = hex << 8 | byte;
		}
		/* PY_VERSION_HEX: 0xMMmmppRS */
		t->major = (hex >> 24) & 0xff;
		t->minor = (hex >> 16) & 0xff;
		return;
	}
}

/* The view and probes of the CPython code in pe, found at path (name: how the process calls it). */
static int fill_target(const struct py_elf *pe, const char *path, const char *name,
		       struct py_target *t, char *err, size_t err_len)
{
	__u64 runtime_vaddr, runtime_size, version_hex;
	bool free_threaded;

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s", path);
	snprintf(t->symbols_from, sizeof(t->symbols_from), "%s", pe->symbols_from);
	snprintf(t->symbols_missing, sizeof(t->symbols_missing), "%s", pe->symbols_missing);
	/* "python3" says less than the file it links to, "python3.12" */
	version_from_name(path, t);
	version_from_name(name, t);
	read_version(pe, t);
	if (pysyms_has_role(pe, SYM_FREE_THREADED))
		t->free_threaded = true;
	/* 3.13 and later say both in _PyRuntime, which even a stripped build exports */
	if (!pygil_debug_offsets(path, &version_hex, &free_threaded)) {
		t->major = (version_hex >> 24) & 0xff;
		t->minor = (version_hex >> 16) & 0xff;
		t->free_threaded |= free_threaded;
	}
	if (t->major && (t->major < 3 || (t->major == 3 && t->minor < 2))) {
		snprintf(err, err_len, "%s is CPython %d.%d: gilstat needs the GIL of 3.2 or later",
			 name, t->major, t->minor);
		return -ENOTSUP;
	}
	/* the condition-variable view, once the process's libc is known (use_libc()) */
	if ((!t->major || t->major > 3 || (t->major == 3 && t->minor >= 8)) &&
	    !pygil_runtime_symbol(path, &runtime_vaddr, &runtime_size))
		t->cond_offset = t->free_threaded ? PY_GIL_COND_OFFSET_FT : PY_GIL_COND_OFFSET;
	if (pysyms_has_role(pe, SYM_TAKE_GIL) && pysyms_has_role(pe, SYM_DROP_GIL)) {
		t->view = PY_VIEW_GIL;
		add_probes(pe, SYM_TAKE_GIL, t->acquire, &t->nr_acquire);
		add_probes(pe, SYM_DROP_GIL, t->release, &t->nr_release);
		if (pe->ehdr.e_machine == EM_X86_64) {
			for (int i = 0; i < pe->nr_syms; i++) {
				if (pe->syms[i].role == SYM_HANDLER)
					scan_handler(pe, &pe->syms[i], t);
			}
			add_inlining_callers(pe, SYM_RESTORE_THREAD, SYM_TAKE_GIL, t->acquire,
					     &t->nr_acquire);
			add_inlining_callers(pe, SYM_ACQUIRE_THREAD, SYM_TAKE_GIL, t->acquire,
					     &t->nr_acquire);
			add_inlining_callers(pe, SYM_SAVE_THREAD, SYM_DROP_GIL, t->release,
					     &t->nr_release);
			add_inlining_callers(pe, SYM_RELEASE_THREAD, SYM_DROP_GIL, t->release,
					     &t->nr_release);
		}
		if (!t->nr_forced)
			snprintf(t->blind_spot, sizeof(t->blind_spot),
				 "the eval breaker's drop_gil call was not found: forced switches "
				 "are missed or counted as voluntary");
		return 0;
	}
	if (pysyms_has_role(pe, SYM_SAVE_THREAD) && pysyms_has_role(pe, SYM_RESTORE_THREAD)) {
		t->view = PY_VIEW_THREADSTATE;
		add_probes(pe, SYM_RESTORE_THREAD, t->acquire, &t->nr_acquire);
		add_probes(pe, SYM_ACQUIRE_THREAD, t->acquire, &t->nr_acquire);
		add_probes(pe, SYM_SAVE_THREAD, t->release, &t->nr_release);
		add_probes(pe, SYM_RELEASE_THREAD, t->release, &t->nr_release);
		snprintf(t->blind_spot, sizeof(t->blind_spot),
			 "no take_gil/drop_gil symbols: only blocking calls are seen, not the eval "
			 "loop's forced switches (CPU-bound threads show no waits)");
		return 0;
	}
	snprintf(err, err_len, "%s holds no CPython interpreter (no PyEval_SaveThread)", name);
	return -ENOENT;
}

static void canonical(const char *path, char *out, size_t out_len)
{
	char real[PATH_MAX];

	snprintf(out, out_len, "%s", realpath(path, real) ? real : path);
}

/*
 * The condition-variable view needs the libc the process calls: found in a running process's
 * maps (pid), or asked of the dynamic loader for the executable a command runs (exe). Without it
 * the view stays PyEval_SaveThread/RestoreThread, and the report says why.
 */
static void use_libc(struct py_target *t, pid_t pid, const char *exe)
{
	char lib[PATH_MAX], why[PATH_MAX + 64];
	int ret;

	if (!t->cond_offset || probes_wanted == PY_PROBES_SYMBOLS ||
	    (t->view != PY_VIEW_GIL && t->view != PY_VIEW_THREADSTATE))
		return;
	if (pid) {
		ret = pygil_libc_of_pid(pid, &t->libc, why, sizeof(why));
	} else if (exe && !command_loader_path(exe, "libc.so.6", lib, sizeof(lib))) {
		ret = pygil_libc_open(lib, &t->libc, why, sizeof(why));
	} else {
		snprintf(why, sizeof(why), "the dynamic loader names no libc.so.6 for %s",
			 exe ? exe : t->path);
		ret = -ENOENT;
	}
	if (ret) {
		/* the symbols' view sees everything too, at a higher cost: keep it quiet */
		if (t->view == PY_VIEW_THREADSTATE)
			snprintf(t->blind_spot, sizeof(t->blind_spot),
				 "%.100s: only blocking calls are seen, not forced switches", why);
		return;
	}
	t->view = PY_VIEW_CONDVAR;
	t->blind_spot[0] = '\0';
}

int python_target_from_file(const char *path, struct py_target *t, char *err, size_t err_len)
{
	char lib[PATH_MAX], code_path[PATH_MAX];
	struct py_elf pe;
	int ret;

	ret = pysyms_open(&pe, path, NULL);
	if (ret == -ENOEXEC) {
		snprintf(err, err_len, "%s is not an ELF file", path);
		return ret;
	}
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	if (pysyms_has_python_code(&pe)) {
		canonical(path, code_path, sizeof(code_path));
		read_debug_symbols(&pe, path);
		ret = fill_target(&pe, code_path, path, t, err, err_len);
		pysyms_close(&pe);
		return ret;
	}
	if (!pe.dynamic || !pe.needed_libpython[0]) {
		snprintf(err, err_len,
			 "%s holds no CPython interpreter (no PyEval_SaveThread, no libpython)",
			 path);
		pysyms_close(&pe);
		return -ENOENT;
	}
	ret = command_loader_path(path, pe.needed_libpython, lib, sizeof(lib));
	if (ret) {
		snprintf(err, err_len, "the dynamic loader finds no %s for %s", pe.needed_libpython,
			 path);
		pysyms_close(&pe);
		return -ENOENT;
	}
	pysyms_close(&pe);
	ret = pysyms_open(&pe, lib, NULL);
	if (ret) {
		snprintf(err, err_len, "cannot read %s: %s", lib, strerror(-ret));
		return ret;
	}
	if (!pysyms_has_python_code(&pe)) {
		snprintf(err, err_len, "%s holds no CPython interpreter (no PyEval_SaveThread)",
			 lib);
		pysyms_close(&pe);
		return -ENOENT;
	}
	canonical(lib, code_path, sizeof(code_path));
	read_debug_symbols(&pe, lib);
	ret = fill_target(&pe, code_path, lib, t, err, err_len);
	pysyms_close(&pe);
	return ret;
}

/* The value of the interpreter option -X gil=..., or NULL: its options end at the script, -c, -m.
 */
static const char *x_gil_option(char *const argv[])
{
	const char *x_gil = NULL;

	/* an empty cmdline (a process turned zombie) has no argv[1] to read */
	if (!argv || !argv[0])
		return NULL;
	for (int i = 1; argv[i] && argv[i][0] == '-'; i++) {
		const char *opt = argv[i], *value = NULL;

		if (!strcmp(opt, "-c") || !strcmp(opt, "-m") || !strcmp(opt, "-") ||
		    !strcmp(opt, "--"))
			break;
		if (!strncmp(opt, "-X", 2))
			value = opt[2] ? opt + 2 : argv[++i];
		else if (!strcmp(opt, "-W") || !strcmp(opt, "--check-hash-based-pycs"))
			i++;
		if (!argv[i])
			break;
		while (value && *value == ' ')
			value++;
		if (value && !strncmp(value, "gil=", 4))
			x_gil = value + 4;
	}
	return x_gil;
}

static bool gil_disabled(const char *python_gil_env, const char *x_gil)
{
	if (x_gil)
		return strcmp(x_gil, "1") != 0;
	if (python_gil_env && *python_gil_env)
		return strcmp(python_gil_env, "1") != 0;
	return true;
}

bool python_gil_disabled(const char *python_gil_env, char *const argv[])
{
	return gil_disabled(python_gil_env, x_gil_option(argv));
}

/* A NUL-separated /proc/PID file (cmdline, environ) into buf and up to max - 1 pointers in v. */
#define ENVIRON_MAX (128 * 1024)
#define CMDLINE_MAX (32 * 1024)

/* A free-threaded process runs without its GIL unless its environment or options turn it on. */
static void apply_pid_gil_setting(struct py_target *t, pid_t pid)
{
	char *env[1024], *cmd[COMMAND_MAX_ARGS], *env_buf, *cmd_buf;
	const char *python_gil = NULL;

	if (!t->free_threaded)
		return;
	env_buf = malloc(ENVIRON_MAX);
	cmd_buf = malloc(CMDLINE_MAX);
	if (env_buf && proc_read_nul_list(pid, "environ", env_buf, ENVIRON_MAX, env, 1024) > 0) {
		for (int i = 0; env[i]; i++) {
			if (!strncmp(env[i], "PYTHON_GIL=", 11))
				python_gil = env[i] + 11;
		}
	}
	if (!cmd_buf || proc_read_nul_list(pid, "cmdline", cmd_buf, CMDLINE_MAX, cmd, COMMAND_MAX_ARGS) <= 0)
		cmd[0] = NULL;
	if (python_gil_disabled(python_gil, cmd))
		t->view = PY_VIEW_NOGIL;
	free(env_buf);
	free(cmd_buf);
}

static int target_from_mapped(pid_t pid, const char *path, const struct safeio_id *id,
			      const char *name, struct py_target *t, char *err, size_t err_len)
{
	struct py_elf pe;
	int ret;

	ret = pysyms_open(&pe, path, id);
	if (ret) {
		snprintf(err, err_len, "cannot read %s of PID %d: %s", name, pid, strerror(-ret));
		return ret;
	}
	if (!pysyms_has_python_code(&pe)) {
		pysyms_close(&pe);
		return -ENOENT;
	}
	read_debug_symbols(&pe, path);
	ret = fill_target(&pe, path, name, t, err, err_len);
	pysyms_close(&pe);
	return ret;
}

int python_target_from_pid(pid_t pid, const char *path_override, struct py_target *t, char *err,
			   size_t err_len)
{
	char link[64], exe[PATH_MAX], path[PATH_MAX], fallback[96];
	struct proc_mapping m;
	struct safeio_id id;
	struct stat st;
	ssize_t n;
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		if (errno == ENOENT)
			snprintf(err, err_len, "no process with PID %d", pid);
		else
			snprintf(err, err_len, "cannot read %s: %s", link, strerror(errno));
		return errno == ENOENT ? -ESRCH : -errno;
	}
	exe[n] = '\0';

	if (path_override) {
		ret = python_target_from_file(path_override, t, err, err_len);
		if (ret)
			return ret;
		if (stat(t->path, &st) || proc_find_inode(pid, st.st_ino, false, &m) != 1) {
			snprintf(err, err_len, "%s is not mapped in PID %d", t->path, pid);
			return -ENOENT;
		}
		apply_pid_gil_setting(t, pid);
		use_libc(t, pid, NULL);
		return 0;
	}

	ret = proc_find_mapping(pid, is_libpython_mapping, NULL, &m);
	if (ret < 0) {
		snprintf(err, err_len, "cannot read /proc/%d/maps: %s", pid, strerror(-ret));
		return ret;
	}
	if (ret == 1) {
		proc_map_file(pid, &m, fallback, sizeof(fallback));
		id = (struct safeio_id){.dev = m.dev, .ino = m.ino};
		proc_reachable_path(pid, m.name, &id, fallback, path, sizeof(path));
		ret = target_from_mapped(pid, path, &id, m.name, t, err, err_len);
		if (ret == -ENOENT)
			snprintf(err, err_len, "%s in PID %d holds no CPython interpreter", m.name,
				 pid);
		if (ret)
			return ret;
		apply_pid_gil_setting(t, pid);
		use_libc(t, pid, NULL);
		return 0;
	}

	/* a static build: the interpreter is in the executable */
	if (stat(link, &st)) {
		snprintf(err, err_len, "cannot read %s: %s", link, strerror(errno));
		return -errno;
	}
	id = (struct safeio_id){.dev = st.st_dev, .ino = st.st_ino};
	proc_reachable_path(pid, exe, &id, link, path, sizeof(path));
	ret = target_from_mapped(pid, path, &id, exe, t, err, err_len);
	if (ret == -ENOENT)
		snprintf(
			err, err_len,
			"no CPython interpreter found in PID %d (no libpython in /proc/%d/maps and "
			"the executable %s has no PyEval_SaveThread)",
			pid, pid, exe);
	if (ret)
		return ret;
	apply_pid_gil_setting(t, pid);
	use_libc(t, pid, NULL);
	return 0;
}

/*
 * Asks a wrapper named python* that is not itself an interpreter (a pyenv shim, a bash script
 * choosing a version) which interpreter it runs: in the same environment it makes the same choice
 * for the command. -I -S keep user code (site, PYTHON* variables) out of the answer.
 */
static int ask_wrapper(const char *wrapper, char *out, size_t out_len)
{
	char *argv[] = {(char *)wrapper,
			"-I",
			"-S",
			"-c",
			"import sys; sys.stdout.write(sys.executable)",
			NULL};
	int ret = command_capture(argv, NULL, out, out_len);

	if (ret)
		return ret;
	return out[0] == '/' ? 0 : -ENOENT;
}

int python_target_from_command(char *const argv[], const char *path_override, struct py_target *t,
			       char *err, size_t err_len)
{
	static struct command_resolved r;
	char exe[PATH_MAX], python_gil[64] = "", x_gil[16] = "";
	const char *env_gil = getenv("PYTHON_GIL"), *x;
	struct command_args a = {.n = 0};
	int ret;

	memset(t, 0, sizeof(*t));
	if (!argv || !argv[0]) {
		snprintf(err, err_len, "no command to run");
		return -EINVAL;
	}
	if (env_gil)
		snprintf(python_gil, sizeof(python_gil), "%s", env_gil);
	memset(&r, 0, sizeof(r));
	ret = command_args_copy(&a, argv);
	if (ret) {
		snprintf(err, err_len, "cannot copy the command's arguments: %s", strerror(-ret));
		goto out;
	}

	if (path_override) {
		ret = python_target_from_file(path_override, t, err, err_len);
		x = x_gil_option(a.v);
		/* the libc comes from the command's interpreter, the code from PATH */
		if (!ret && !command_resolve(&a, "python", "PYTHON_GIL", &r, err, err_len))
			use_libc(t, 0, r.file);
		goto gil;
	}

	ret = command_resolve(&a, "python", "PYTHON_GIL", &r, err, err_len);
	if (ret)
		goto out;
	x = x_gil_option(a.v);
	ret = python_target_from_file(r.file, t, err, err_len);
	if (ret == -ENOENT && r.wrapper[0]) {
		/* the interpreter's options follow the wrapper's name, not the shell's */
		command_args_free(&a);
		ret = command_args_copy(&a, argv);
		if (ret)
			goto out;
		x = x_gil_option(a.v);
		if (ask_wrapper(r.wrapper, exe, sizeof(exe))) {
			snprintf(err, err_len,
				 "%s runs %s, which holds no CPython interpreter, and does not say "
				 "which python it starts",
				 r.wrapper, r.file);
			ret = -ENOENT;
			goto out;
		}
		ret = python_target_from_file(exe, t, err, err_len);
		if (!ret)
			use_libc(t, 0, exe);
	} else if (!ret) {
		use_libc(t, 0, r.file);
	} else if (ret == -ENOENT && strcmp(base_name(argv[0]), base_name(r.file))) {
		snprintf(err, err_len, "%s runs %s, which holds no CPython interpreter", argv[0],
			 r.file);
	}
gil:
	/* PYTHON_GIL=... given by an env(1) on the way wins over gilstat's own environment */
	if (r.env_value[0])
		snprintf(python_gil, sizeof(python_gil), "%s", r.env_value);
	if (x)
		snprintf(x_gil, sizeof(x_gil), "%s", x);
	if (!ret && t->free_threaded &&
	    gil_disabled(python_gil[0] ? python_gil : NULL, x_gil[0] ? x_gil : NULL))
		t->view = PY_VIEW_NOGIL;
out:
	command_args_free(&a);
	return ret;
}
