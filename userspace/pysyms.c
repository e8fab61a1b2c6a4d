// SPDX-License-Identifier: GPL-2.0
/*
 * A CPython's ELF file read for what python.c looks for: the symbols it wants by name (take_gil,
 * drop_gil, the C API's thread-state calls, Py_Version, ...), every function's extent for the walk
 * from the C API down to take_gil/drop_gil, and the libpython the file needs.
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

#include "pysyms.h"

static const struct {
	const char *name;
	enum sym_role role;
	bool clones; /* name.suffix counts too: .constprop.0, .lto_priv.0, .isra.0, ... */
} wanted_syms[] = {
	{"take_gil", SYM_TAKE_GIL, true},
	{"drop_gil", SYM_DROP_GIL, true},
	/* 3.13's eval breaker reaches take_gil/drop_gil through these */
	{"_PyThreadState_Attach", SYM_ATTACH, true},
	{"_PyThreadState_Detach", SYM_DETACH, true},
	/* where the eval breaker's code lives: inlined into the eval loop up to 3.11 */
	{"_PyEval_EvalFrameDefault", SYM_HANDLER, true},
	{"eval_frame_handle_pending", SYM_HANDLER, true},
	{"_Py_HandlePending", SYM_HANDLER, true},
	{"PyEval_RestoreThread", SYM_RESTORE_THREAD, false},
	{"PyEval_AcquireThread", SYM_ACQUIRE_THREAD, false},
	{"PyEval_SaveThread", SYM_SAVE_THREAD, false},
	{"PyEval_ReleaseThread", SYM_RELEASE_THREAD, false},
	/* defined by free-threaded (Py_GIL_DISABLED) builds only */
	{"_Py_MergeZeroLocalRefcount", SYM_FREE_THREADED, false},
	/* PY_VERSION_HEX, exported since 3.11 */
	{"Py_Version", SYM_VERSION, false},
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* libpython3.12.so.1.0, libpython3.6m.so, libpython3.13t.so; not the stable-ABI libpython3.so */
bool pysyms_is_libpython_name(const char *name)
{
	const char *p = base_name(name);
	int major, minor, n = 0;

	if (strncmp(p, "libpython", 9))
		return false;
	if (sscanf(p + 9, "%d.%d%n", &major, &minor, &n) != 2 || !n)
		return false;
	return strstr(p + 9 + n, ".so") != NULL;
}

void pysyms_close(struct py_elf *pe)
{
	if (pe->elf)
		elf_end(pe->elf);
	if (pe->fd >= 0)
		close(pe->fd);
	free(pe->funcs);
	pe->elf = NULL;
	pe->fd = -1;
	pe->funcs = NULL;
}

static int wanted_role(const char *name)
{
	for (size_t i = 0; i < sizeof(wanted_syms) / sizeof(wanted_syms[0]); i++) {
		size_t len = strlen(wanted_syms[i].name);

		if (strncmp(name, wanted_syms[i].name, len))
			continue;
		if (name[len] == '\0')
			return wanted_syms[i].role;
		if (name[len] != '.' || !wanted_syms[i].clones)
			continue;
		/* a .cold part is no entry point, but the eval breaker's code may sit in one */
		if (!strncmp(name + len, ".cold", 5) && wanted_syms[i].role != SYM_HANDLER)
			continue;
		return wanted_syms[i].role;
	}
	return -1;
}

static void add_func(struct py_elf *pe, __u64 addr, __u64 size, __u64 offset)
{
	if (pe->nr_funcs == pe->funcs_cap) {
		size_t cap = pe->funcs_cap ? 2 * pe->funcs_cap : 1024;
		struct py_func *funcs = realloc(pe->funcs, cap * sizeof(*funcs));

		/* without the list the walk finds nothing and probes the C API too: harmless */
		if (!funcs)
			return;
		pe->funcs = funcs;
		pe->funcs_cap = cap;
	}
	pe->funcs[pe->nr_funcs++] = (struct py_func){addr, size, offset};
}

static int func_cmp(const void *a, const void *b)
{
	const struct py_func *fa = a, *fb = b;

	return fa->addr < fb->addr ? -1 : fa->addr > fb->addr;
}

const struct py_func *pysyms_func_at(const struct py_elf *pe, __u64 addr)
{
	struct py_func key = {.addr = addr};

	if (!pe->nr_funcs)
		return NULL;
	return bsearch(&key, pe->funcs, pe->nr_funcs, sizeof(key), func_cmp);
}

/* The section of pe that holds the code at addr: a debug file's own sections are empty. */
static Elf_Scn *code_section_at(const struct py_elf *pe, __u64 addr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(pe->elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) && (shdr.sh_flags & SHF_ALLOC) &&
		    shdr.sh_type != SHT_NOBITS && addr >= shdr.sh_addr &&
		    addr < shdr.sh_addr + shdr.sh_size)
			return scn;
	}
	return NULL;
}

/* A symbol of sym_elf: pe's own table, or a debug file's whose addresses are pe's. */
static void add_sym(struct py_elf *pe, Elf *sym_elf, GElf_Shdr *symshdr, GElf_Sym *sym)
{
	const char *name = elf_strptr(sym_elf, symshdr->sh_link, sym->st_name);
	int type = GELF_ST_TYPE(sym->st_info), role;
	struct py_sym *s;
	GElf_Shdr shdr;
	Elf_Scn *scn;

	if (!name || (type != STT_FUNC && type != STT_OBJECT) || sym->st_shndx == SHN_UNDEF ||
	    sym->st_shndx >= SHN_LORESERVE)
		return;
	scn = sym_elf == pe->elf ? elf_getscn(pe->elf, sym->st_shndx)
				 : code_section_at(pe, sym->st_value);
	if (!scn || !gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
		return;
	if (type == STT_FUNC && sym->st_size)
		add_func(pe, sym->st_value, sym->st_size,
			 sym->st_value - shdr.sh_addr + shdr.sh_offset);
	role = wanted_role(name);
	if (role < 0 || pe->nr_syms == MAX_SYMS)
		return;
	/* .symtab and .dynsym both list the exported ones */
	for (int i = 0; i < pe->nr_syms; i++) {
		if (pe->syms[i].addr == sym->st_value && !strcmp(pe->syms[i].name, name))
			return;
	}
	s = &pe->syms[pe->nr_syms++];
	s->role = role;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->addr = sym->st_value;
	s->size = sym->st_size;
	/* symbol values are addresses; uprobes want the place in the file */
	s->offset = sym->st_value - shdr.sh_addr + shdr.sh_offset;
}

void pysyms_read(struct py_elf *pe, Elf *sym_elf, Elf_Scn *scn, GElf_Shdr *shdr)
{
	Elf_Data *data;
	size_t n;

	if (shdr->sh_size > SAFEIO_MAX_SECTION_BYTES || !(data = elf_getdata(scn, NULL)) ||
	    !shdr->sh_entsize)
		return;
	n = shdr->sh_size / shdr->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;

		if (i % 4096 == 0 && !safeio_budget_left())
			return;
		if (gelf_getsym(data, i, &sym))
			add_sym(pe, sym_elf, shdr, &sym);
	}
}

static void read_needed(struct py_elf *pe, Elf_Scn *scn, GElf_Shdr *shdr)
{
	Elf_Data *data;
	size_t n;

	if (shdr->sh_size > SAFEIO_MAX_SECTION_BYTES || !(data = elf_getdata(scn, NULL)) ||
	    !shdr->sh_entsize)
		return;
	n = shdr->sh_size / shdr->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		const char *name;
		GElf_Dyn dyn;

		if (!gelf_getdyn(data, i, &dyn) || dyn.d_tag != DT_NEEDED)
			continue;
		name = elf_strptr(pe->elf, shdr->sh_link, dyn.d_un.d_val);
		if (name && pysyms_is_libpython_name(name))
			snprintf(pe->needed_libpython, sizeof(pe->needed_libpython), "%s", name);
	}
}

/* 0, -ENOEXEC if path is no ELF file, or another -errno if it cannot be read. */
int pysyms_open(struct py_elf *pe, const char *path, const struct safeio_id *want)
{
	Elf_Scn *scn = NULL;
	size_t nr_phdrs;
	struct stat st;

	memset(pe, 0, sizeof(*pe));
	pe->fd = -1;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	pe->fd = safeio_open(path, 0, want, &st);
	if (pe->fd < 0)
		return pe->fd;
	pe->id = (struct safeio_id){.dev = st.st_dev, .ino = st.st_ino};
	pe->elf = safeio_elf_begin(pe->fd);
	if (!pe->elf || elf_kind(pe->elf) != ELF_K_ELF || !gelf_getehdr(pe->elf, &pe->ehdr)) {
		pysyms_close(pe);
		return -ENOEXEC;
	}
	if (elf_getphdrnum(pe->elf, &nr_phdrs) == 0) {
		for (size_t i = 0; i < nr_phdrs; i++) {
			GElf_Phdr phdr;

			if (gelf_getphdr(pe->elf, i, &phdr) && phdr.p_type == PT_INTERP)
				pe->dynamic = true;
		}
	}
	while ((scn = elf_nextscn(pe->elf, scn))) {
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr))
			continue;
		if (shdr.sh_type == SHT_SYMTAB)
			pe->has_symtab = true;
		if (shdr.sh_type == SHT_SYMTAB || shdr.sh_type == SHT_DYNSYM)
			pysyms_read(pe, pe->elf, scn, &shdr);
		else if (shdr.sh_type == SHT_DYNAMIC)
			read_needed(pe, scn, &shdr);
	}
	pysyms_sort(pe);
	return 0;
}

bool pysyms_has_role(const struct py_elf *pe, enum sym_role role)
{
	for (int i = 0; i < pe->nr_syms; i++) {
		if (pe->syms[i].role == role)
			return true;
	}
	return false;
}

bool pysyms_addr_has_role(const struct py_elf *pe, __u64 addr, enum sym_role a, enum sym_role b)
{
	for (int i = 0; i < pe->nr_syms; i++) {
		if (pe->syms[i].addr == addr && (pe->syms[i].role == a || pe->syms[i].role == b))
			return true;
	}
	return false;
}

bool pysyms_has_python_code(const struct py_elf *pe)
{
	return pysyms_has_role(pe, SYM_SAVE_THREAD) || pysyms_has_role(pe, SYM_TAKE_GIL);
}

void pysyms_sort(struct py_elf *pe)
{
	if (pe->nr_funcs)
		qsort(pe->funcs, pe->nr_funcs, sizeof(pe->funcs[0]), func_cmp);
}
