/* SPDX-License-Identifier: GPL-2.0 */
/* ELF files as libelf reads them: what more than one module of gilstat asks of one. */
#ifndef GILSTAT_ELFFILE_H
#define GILSTAT_ELFFILE_H

#include <gelf.h>
#include <libelf.h>
#include <linux/types.h>

struct elf_file {
	int fd;
	Elf *elf;
};

/* 0, -ENOEXEC when path is not an ELF file, or -errno when it cannot be opened. */
int elf_file_open(struct elf_file *f, const char *path);
void elf_file_close(struct elf_file *f);

/* The first section of this type (SHT_DYNSYM, SHT_NOTE, ...), its header in shdr; or NULL. */
Elf_Scn *elf_find_section(Elf *elf, Elf64_Word type, GElf_Shdr *shdr);

/* The file offset of the byte at vaddr, through the PT_LOAD segment that holds it; 0 if none. */
__u64 elf_vaddr_to_offset(Elf *elf, __u64 vaddr);

/* 1 if path is an ELF executable that needs a dynamic loader, 0 if not, -errno on error. */
int elf_is_dynamic(const char *path);

#endif
