/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The symbol table of an ELF file that was stripped, found where perf and gdb look for it:
 *   1. the file's own .symtab;
 *   2. <debug_root>/.build-id/xx/rest.debug, by the file's build-id;
 *   3. .gnu_debuglink, CRC32 checked, in the file's directory, its .debug/ and
 *      <debug_root>/<its directory>;
 *   4. MiniDebugInfo: .gnu_debugdata, an xz-compressed ELF holding a .symtab;
 *   5. debuginfod (libdebuginfod: DEBUGINFOD_URLS, its cache, a bounded wait).
 * A candidate whose build-id differs from the file's, or that is truncated or corrupt, is refused
 * with one warning line and the lookup goes on. The symbols found have the file's virtual
 * addresses; the code itself must still be read from the file (a debug file's .text is NOBITS).
 */
#ifndef GILSTAT_DEBUGINFO_H
#define GILSTAT_DEBUGINFO_H

#include "safeio.h"
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* how long a debuginfod server may stay silent when DEBUGINFOD_TIMEOUT does not say */
#define DEBUGINFO_DEFAULT_TIMEOUT_SEC 10

struct debuginfo_opts {
	/* the root of the build-id tree and of debuglink's third place; NULL: /usr/lib/debug */
	const char *debug_root;
	/* do not ask debuginfod servers (--no-debuginfod) */
	bool no_debuginfod;
	/* seconds without data before a debuginfod server is given up; 0: DEBUGINFOD_TIMEOUT or 10
	 */
	int debuginfod_timeout_sec;
	/* receives each refused candidate's line; NULL: printed as "gilstat: LINE" on stderr */
	void (*warn)(void *ctx, const char *line);
	void *warn_ctx;
	/* the file elf_path must be (the one a process maps); ino 0: any */
	struct safeio_id want;
};

enum debuginfo_source {
	DEBUGINFO_SELF,
	DEBUGINFO_BUILD_ID,
	DEBUGINFO_DEBUGLINK,
	DEBUGINFO_MINIDEBUGINFO,
	DEBUGINFO_DEBUGINFOD,
};

struct debuginfo {
	int fd;	  /* the ELF file holding the .symtab: a debug file, a memfd, or the file itself */
	Elf *elf; /* read from fd; its SHT_SYMTAB section is the symbol table */
	enum debuginfo_source kind;
	/* for the user: "the file itself", "/usr/lib/debug/.build-id/ab/cdef.debug", ... */
	char source[PATH_MAX + 64];
};

/*
 * Finds a .symtab for elf_path. 0 with di filled in (release it with debuginfo_close()); -ENOENT
 * with one line in err saying where it looked; another negative errno (and err) when elf_path
 * itself cannot be read as ELF.
 */
int debuginfo_open(const char *elf_path, const struct debuginfo_opts *opts, struct debuginfo *di,
		   char *err, size_t err_len);

void debuginfo_close(struct debuginfo *di);

const char *debuginfo_source_name(enum debuginfo_source kind);

#endif
