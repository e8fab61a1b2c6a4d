/* SPDX-License-Identifier: GPL-2.0 */
/* A CPython's ELF file, its symbols read by role: python.c's view of it (pysyms.c). */
#ifndef GILSTAT_PYSYMS_H
#define GILSTAT_PYSYMS_H

#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/types.h>

#include "safeio.h"

enum sym_role {
	SYM_TAKE_GIL,
	SYM_DROP_GIL,
	SYM_ATTACH,
	SYM_DETACH,
	SYM_HANDLER,
	SYM_RESTORE_THREAD,
	SYM_ACQUIRE_THREAD,
	SYM_SAVE_THREAD,
	SYM_RELEASE_THREAD,
	SYM_FREE_THREADED,
	SYM_VERSION,
};

#define MAX_SYMS 64

struct py_sym {
	enum sym_role role;
	char name[64];
	__u64 addr, size, offset;
};

/* Every function, for the walk from the C API down to take_gil/drop_gil. */
struct py_func {
	__u64 addr, size, offset;
};

struct py_elf {
	int fd;
	Elf *elf;
	struct safeio_id id; /* the file read */
	GElf_Ehdr ehdr;
	bool dynamic;
	bool has_symtab;
	/* where the symbols came from, or why no symbol table was found (debuginfo.h) */
	char symbols_from[PATH_MAX + 64];
	char symbols_missing[1024];
	char needed_libpython[64]; /* DT_NEEDED entry naming a libpython, if any */
	int nr_syms;
	struct py_sym syms[MAX_SYMS];
	struct py_func *funcs; /* sorted by addr */
	size_t nr_funcs, funcs_cap;
};

/*
 * 0, -ENOEXEC if path is no ELF file, or another -errno if it cannot be read (-ESTALE: it is not
 * the file want names, when want is given).
 */
int pysyms_open(struct py_elf *pe, const char *path, const struct safeio_id *want);
void pysyms_close(struct py_elf *pe);
/* The symbols of a symbol table scn of sym_elf: pe's own, or a debug file's whose addresses are pe's. */
void pysyms_read(struct py_elf *pe, Elf *sym_elf, Elf_Scn *scn, GElf_Shdr *shdr);
/* The functions sorted by address, after the last pysyms_read(). */
void pysyms_sort(struct py_elf *pe);
/* The function that starts at addr, or NULL. */
const struct py_func *pysyms_func_at(const struct py_elf *pe, __u64 addr);
bool pysyms_has_role(const struct py_elf *pe, enum sym_role role);
bool pysyms_addr_has_role(const struct py_elf *pe, __u64 addr, enum sym_role a, enum sym_role b);
/* Whether the file holds the interpreter: PyEval_SaveThread or take_gil. */
bool pysyms_has_python_code(const struct py_elf *pe);
/* libpython3.12.so.1.0, libpython3.6m.so, libpython3.13t.so; not the stable-ABI libpython3.so */
bool pysyms_is_libpython_name(const char *name);

#endif
