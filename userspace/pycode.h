/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython code objects named from a process's memory (/proc/PID/mem): a function's qualified
 * name, its file and first line, read once each and kept, so that a report made after the process
 * has ended still names them. What cannot be read is [unknown], its reason counted.
 */
#ifndef GILSTAT_PYCODE_H
#define GILSTAT_PYCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "flamegraph.h"
#include "pygil.h"

struct py_code {
	__u64 addr;
	char func[128];
	char file[FLAME_NAME_LEN];
	int line;
	const char *why; /* NULL, or why it could not be named: func is then [unknown] */
	bool entry;	 /* a C caller's entry frame (None, or 3.12's trampoline): no function's */
};

/* The code objects named so far. Zeroed: none. */
struct py_codes {
	struct py_code *codes;
	size_t nr, cap;
	size_t nr_unknown; /* those that could not be named */
};

/* Why a code object could not be named: the reasons the reports count. */
#define PY_CODE_REASONS 3
extern const char *const py_code_reasons[PY_CODE_REASONS];

/*
 * The code object that a frame's f_code or f_executable (tagged, from 3.14) points at, named
 * from the memory behind mem_fd by the layout c. NULL if it is not named yet and read is false,
 * or when memory runs out.
 */
struct py_code *py_code_name(struct py_codes *pc, int mem_fd, const struct py_code_offsets *c,
			     __u64 tagged, bool read);
/* The code objects that could not be named for the reason why. */
size_t py_code_unknown(const struct py_codes *pc, const char *why);
void py_codes_free(struct py_codes *pc);

#endif
