// SPDX-License-Identifier: GPL-2.0
/* Native frames named by libdwfl from a copy of a process's maps (see symbolizer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elfutils/libdwfl.h>

#include "procfs.h"
#include "symbolizer.h"

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
};

bool symbolizer_refresh(struct symbolizer *sz, pid_t pid)
{
	size_t len;
	char *text = proc_read_maps(pid, &len);
	FILE *mf;

	if (!text)
		return false;
	if (!len || (sz->maps && !strcmp(sz->maps, text))) {
		free(text);
		return false;
	}
	free(sz->maps);
	sz->maps = text;
	if (sz->dwfl)
		dwfl_end(sz->dwfl);
	sz->dwfl = dwfl_begin(&dwfl_callbacks);
	mf = fmemopen(sz->maps, len, "r");
	if (!sz->dwfl || !mf) {
		if (mf)
			fclose(mf);
		return true;
	}
	dwfl_report_begin(sz->dwfl);
	dwfl_linux_proc_maps_report(sz->dwfl, mf);
	dwfl_report_end(sz->dwfl, NULL, NULL);
	fclose(mf);
	return true;
}

void symbolizer_name(const struct symbolizer *sz, __u64 ip, bool return_address, char *func,
		     size_t len, char *file, size_t file_len, int *line)
{
	__u64 at = return_address && ip ? ip - 1 : ip;
	Dwfl_Module *mod = sz->dwfl ? dwfl_addrmodule(sz->dwfl, at) : NULL;
	const char *name = NULL, *mod_name = NULL, *src;
	Dwfl_Line *dl;
	GElf_Off off = 0;
	GElf_Sym sym;
	Dwarf_Addr start = 0;

	if (file)
		file[0] = '\0';
	if (line)
		*line = 0;
	if (mod) {
		name = dwfl_module_addrinfo(mod, at, &off, &sym, NULL, NULL, NULL);
		mod_name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	}
	if (name)
		snprintf(func, len, "%s", name);
	else if (mod_name)
		snprintf(func, len, "%s+0x%llx", strrchr(mod_name, '/') ? strrchr(mod_name, '/') + 1
								: mod_name,
			 (unsigned long long)(at - start));
	else
		snprintf(func, len, "0x%llx", (unsigned long long)ip);
	if (!file || !mod)
		return;
	dl = dwfl_module_getsrc(mod, at);
	src = dl ? dwfl_lineinfo(dl, NULL, line, NULL, NULL, NULL) : NULL;
	if (src)
		snprintf(file, file_len, "%s", src);
	else if (mod_name)
		snprintf(file, file_len, "%s", mod_name);
}

void symbolizer_free(struct symbolizer *sz)
{
	if (sz->dwfl)
		dwfl_end(sz->dwfl);
	free(sz->maps);
	*sz = (struct symbolizer){};
}
