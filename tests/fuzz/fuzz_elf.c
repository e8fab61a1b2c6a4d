// SPDX-License-Identifier: GPL-2.0
/*
 * An ELF file a user chose (their executable, a library they map): its symbol table and where the
 * debug file of a stripped one is (debuginfo.c: build-id, .gnu_debuglink, MiniDebugInfo), its gil:*
 * USDT notes (target.c), its dynamic section (elffile.c), CPython's _PyRuntime and
 * _Py_DebugOffsets and libc's version (pygil.c). Beside the file lie what a user can place beside
 * their binary: a debug link to /dev/zero and a FIFO.
 */
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "debuginfo.h"
#include "elffile.h"
#include "fuzz.h"
#include "pygil.h"
#include "target.h"

static void quiet(void *ctx, const char *line)
{
}

static void plant(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/zero.debug", fuzz_dir());
	if (symlink("/dev/zero", path))
		perror(path);
	snprintf(path, sizeof(path), "%s/fifo.debug", fuzz_dir());
	if (mkfifo(path, 0600))
		perror(path);
	snprintf(path, sizeof(path), "%s/debug", fuzz_dir());
	if (mkdir(path, 0700))
		perror(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char root[256];
	struct debuginfo_opts opts = {.no_debuginfod = true, .warn = quiet};
	struct debuginfo di;
	struct py_libc libc;
	__u64 vaddr, sz, version;
	bool ft;
	char err[512];
	const char *path;

	if (!root[0]) {
		plant();
		snprintf(root, sizeof(root), "%s/debug", fuzz_dir());
	}
	opts.debug_root = root;
	path = fuzz_write("libpython3.12.so.1.0", data, size);
	if (!debuginfo_open(path, &opts, &di, err, sizeof(err)))
		debuginfo_close(&di);
	target_has_gil_probes(path);
	target_gil_args_in_regs(path);
	elf_is_dynamic(path);
	pygil_runtime_symbol(path, &vaddr, &sz);
	pygil_debug_offsets(path, &version, &ft);
	pygil_libc_open(path, &libc, err, sizeof(err));
	return 0;
}
