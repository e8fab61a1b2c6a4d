// SPDX-License-Identifier: GPL-2.0
/* CPython code objects named from a process's memory: see pycode.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycode.h"

/* offsetof(PyASCIIObject, length): after ob_refcnt and ob_type, in every version */
#define PY_STR_LENGTH 16

/*
 * From 3.14 a frame's f_executable is a _PyStackRef, whose low bits are tags; objects are 8-byte
 * aligned, so the pointer is the value without its three low bits in every version.
 */
#define STACKREF_TAG_BITS 0x7ull

const char *const py_code_reasons[PY_CODE_REASONS] = {
	"code object unreadable",
	"name unreadable",
	"name not compact ASCII",
};

static int read_mem(int mem_fd, __u64 addr, void *buf, size_t len)
{
	if (mem_fd < 0 || !addr)
		return -EFAULT;
	return pread(mem_fd, buf, len, addr) == (ssize_t)len ? 0 : -EFAULT;
}

/*
 * A str object's characters, when it is a compact ASCII one (what the compiler makes of names
 * and file names as a rule); otherwise why not.
 */
static const char *read_py_str(int mem_fd, const struct py_code_offsets *c, __u64 str, char *out,
			       size_t out_len)
{
	__u64 length = 0;
	__u32 state = 0;
	size_t n;

	if (read_mem(mem_fd, str + PY_STR_LENGTH, &length, sizeof(length)) ||
	    read_mem(mem_fd, str + c->str_state, &state, sizeof(state)))
		return py_code_reasons[1];
	/* state: interned:2, kind:3, compact:1, ascii:1 */
	if (!(state >> 5 & 1) || !(state >> 6 & 1))
		return py_code_reasons[2];
	n = length < out_len - 1 ? length : out_len - 1;
	if (read_mem(mem_fd, str + c->ascii_data, out, n))
		return py_code_reasons[1];
	out[n] = '\0';
	return NULL;
}

/*
 * PyObject's ob_type, and a type's tp_name after its PyVarObject head: the same in every version
 * gilstat reads (the free-threaded builds, whose head differs, are refused).
 */
#define PY_OB_TYPE 8
#define PY_TP_NAME 24

/*
 * Whether the object at addr is None: the executable of the entry frames an interpreter pushes
 * where C calls into Python (3.13 and later), which are no function's.
 */
static bool is_none(int mem_fd, __u64 addr)
{
	__u64 type = 0, name = 0;
	char type_name[sizeof("NoneType")] = "";

	return !read_mem(mem_fd, addr + PY_OB_TYPE, &type, sizeof(type)) &&
	       !read_mem(mem_fd, type + PY_TP_NAME, &name, sizeof(name)) &&
	       !read_mem(mem_fd, name, type_name, sizeof(type_name)) &&
	       !memcmp(type_name, "NoneType", sizeof(type_name));
}

struct py_code *py_code_name(struct py_codes *pc, int mem_fd, const struct py_code_offsets *c,
			     __u64 tagged, bool read)
{
	__u64 name = 0, file = 0, addr = tagged & ~STACKREF_TAG_BITS;
	struct py_code *code;
	__s32 line = 0;

	for (size_t i = 0; i < pc->nr; i++)
		if (pc->codes[i].addr == addr)
			return &pc->codes[i];
	if (!read)
		return NULL;
	if (pc->nr == pc->cap) {
		size_t cap = pc->cap ? 2 * pc->cap : 64;
		struct py_code *grown = realloc(pc->codes, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		pc->codes = grown;
		pc->cap = cap;
	}
	code = &pc->codes[pc->nr++];
	memset(code, 0, sizeof(*code));
	code->addr = addr;
	if (is_none(mem_fd, addr)) {
		code->entry = true;
		snprintf(code->func, sizeof(code->func), "[entry]");
		return code;
	}
	if (read_mem(mem_fd, addr + (c->qualname >= 0 ? c->qualname : c->name), &name,
		     sizeof(name)) ||
	    read_mem(mem_fd, addr + c->filename, &file, sizeof(file)) ||
	    read_mem(mem_fd, addr + c->firstlineno, &line, sizeof(line)))
		code->why = py_code_reasons[0];
	else
		code->why = read_py_str(mem_fd, c, name, code->func, sizeof(code->func));
	if (code->why) {
		/* shown as [unknown], its reason counted once per code object */
		snprintf(code->func, sizeof(code->func), "[unknown]");
		pc->nr_unknown++;
		return code;
	}
	if (read_py_str(mem_fd, c, file, code->file, sizeof(code->file)))
		snprintf(code->file, sizeof(code->file), "[unknown]");
	code->line = line;
	/* 3.12's entry frames run a code object of its own, "<interpreter trampoline>" */
	code->entry = !strcmp(code->file, "<shim>");
	return code;
}

size_t py_code_unknown(const struct py_codes *pc, const char *why)
{
	size_t n = 0;

	for (size_t i = 0; i < pc->nr; i++)
		n += pc->codes[i].why && !strcmp(pc->codes[i].why, why);
	return n;
}

void py_codes_free(struct py_codes *pc)
{
	free(pc->codes);
	*pc = (struct py_codes){};
}
