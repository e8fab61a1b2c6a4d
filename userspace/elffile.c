// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "elffile.h"
#include "safeio.h"

int elf_file_open(struct elf_file *f, const char *path)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	f->elf = NULL;
	f->fd = safeio_open(path, 0, NULL, NULL);
	if (f->fd < 0)
		return f->fd;
	f->elf = safeio_elf_begin(f->fd);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		if (f->elf)
			elf_end(f->elf);
		close(f->fd);
		return -ENOEXEC;
	}
	return 0;
}

void elf_file_close(struct elf_file *f)
{
	elf_end(f->elf);
	close(f->fd);
}

Elf_Scn *elf_find_section(Elf *elf, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, shdr) && shdr->sh_type == type)
			return scn;
	}
	return NULL;
}

__u64 elf_vaddr_to_offset(Elf *elf, __u64 vaddr)
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

int elf_is_dynamic(const char *path)
{
	struct elf_file f;
	size_t nr_phdrs;
	int err, dynamic = 0;

	err = elf_file_open(&f, path);
	if (err)
		return err;
	if (elf_getphdrnum(f.elf, &nr_phdrs) == 0) {
		for (size_t i = 0; i < nr_phdrs; i++) {
			GElf_Phdr phdr;

			if (gelf_getphdr(f.elf, i, &phdr) && phdr.p_type == PT_INTERP)
				dynamic = 1;
		}
	}
	elf_file_close(&f);
	return dynamic;
}
