// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <signal.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command.h"
#include "elffile.h"
#include "gil_usdt.h"
#include "procfs.h"
#include "safeio.h"
#include "target.h"

#define STAPSDT_NOTE_TYPE 3
/*
 * Files already read, by identity: gilstat -a looks at every program started on the host, and
 * reading the notes of each library a short-lived program maps is most of what that costs.
 */
#define PROBE_VERDICTS 512

/* A stapsdt note's descriptor: three addresses, then "provider\0name\0arguments\0". */
struct sdt_note {
	__u64 pc, base, sema;
	const char *provider;
	const char *name;
	const char *args;
};

/* The sites of one gil probe, as file offsets (target_gil_sites()). */
struct gil_sites {
	const char *name;
	__u64 *offsets;
	__u64 *sema_offsets; /* the semaphore of each site, which the kernel counts up while attached */
	int max, nr;
	__u64 base_addr; /* where .stapsdt.base is: a prelinked file's notes are moved by it */
	bool has_base;
	Elf *elf;
};

static bool sdt_note_parse(Elf_Data *data, size_t desc_off, size_t desc_sz, size_t addr_sz,
			   struct sdt_note *note)
{
	const char *desc = (const char *)data->d_buf + desc_off, *end = desc + desc_sz, *p;

	if (desc_sz <= 3 * addr_sz || end[-1] != '\0')
		return false;
	if (addr_sz == 8) {
		memcpy(&note->pc, desc, 8);
		memcpy(&note->base, desc + 8, 8);
		memcpy(&note->sema, desc + 16, 8);
	} else {
		__u32 a[3];

		memcpy(a, desc, sizeof(a));
		note->pc = a[0];
		note->base = a[1];
		note->sema = a[2];
	}
	note->provider = p = desc + 3 * addr_sz;
	p += strlen(p) + 1;
	if (p >= end)
		return false;
	note->name = p;
	p += strlen(p) + 1;
	note->args = p < end ? p : "";
	return true;
}

/* Whether args names the first N call registers, in order, as GIL_USDT_ARGS_IN_REGS spells them. */
static bool args_in_regs(const char *args)
{
	size_t n = strlen(args);

	return n && !strncmp(args, GIL_USDT_ARGS_IN_REGS, n) &&
	       (GIL_USDT_ARGS_IN_REGS[n] == '\0' || GIL_USDT_ARGS_IN_REGS[n] == ' ');
}

/* Records note's site in sites when it is the probe sites asks for. */
static void add_site(struct gil_sites *sites, const struct sdt_note *note)
{
	__u64 pc = note->pc, off, sema_off = 0;

	if (strcmp(note->name, sites->name))
		return;
	if (sites->has_base)
		pc += sites->base_addr - note->base;
	off = elf_vaddr_to_offset(sites->elf, pc);
	if (note->sema)
		sema_off = elf_vaddr_to_offset(sites->elf, note->sema);
	if (!off || (note->sema && !sema_off) || sites->nr == sites->max) {
		sites->nr = -1; /* a site that cannot be placed: none is used */
		return;
	}
	sites->sema_offsets[sites->nr] = sema_off;
	sites->offsets[sites->nr++] = off;
}

/*
 * The gil probes of an ELF file: 1 when it has some, 0 when none, -errno when it cannot be read.
 * *in_regs, if given, tells whether every one of them has its arguments in the call registers;
 * sites, if given, gathers the sites of the probe it names.
 */
static int elf_gil_probes(int fd, bool *in_regs, struct gil_sites *sites)
{
	Elf *elf = safeio_elf_begin(fd);
	Elf_Scn *scn = NULL;
	size_t shstrndx, addr_sz;
	bool all_in_regs = true, done = false;
	int found = 0;

	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx)) {
		if (elf)
			elf_end(elf);
		return -ENOEXEC;
	}
	addr_sz = gelf_getclass(elf) == ELFCLASS32 ? 4 : 8;
	while (!done && (scn = elf_nextscn(elf, scn))) {
		size_t off = 0, name_off, desc_off;
		struct sdt_note note;
		GElf_Shdr shdr;
		GElf_Nhdr nhdr;
		Elf_Data *data;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE ||
		    shdr.sh_size > SAFEIO_MAX_SECTION_BYTES)
			continue;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!name || strcmp(name, ".note.stapsdt"))
			continue;
		if (sites) {
			Elf_Scn *b = NULL;
			GElf_Shdr bh;

			sites->elf = elf;
			while ((b = elf_nextscn(elf, b)))
				if (gelf_getshdr(b, &bh) &&
				    !strcmp(elf_strptr(elf, shstrndx, bh.sh_name) ?: "",
					    ".stapsdt.base")) {
					sites->base_addr = bh.sh_addr;
					sites->has_base = true;
				}
		}
		data = elf_getdata(scn, NULL);
		while (!done && data &&
		       (off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
			if (nhdr.n_type != STAPSDT_NOTE_TYPE ||
			    !sdt_note_parse(data, desc_off, nhdr.n_descsz, addr_sz, &note) ||
			    strcmp(note.provider, GIL_USDT_PROVIDER))
				continue;
			found = 1;
			all_in_regs = all_in_regs && args_in_regs(note.args);
			if (sites && sites->nr >= 0)
				add_site(sites, &note);
			/* The rest can change the answer only while every note so far is in registers. */
			done = !sites && (!in_regs || !all_in_regs);
		}
	}
	elf_end(elf);
	if (in_regs)
		*in_regs = found && all_in_regs;
	return found;
}

/* The identity of a file's contents: a file replaced, or written in place, is another one. */
struct probe_verdict {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool found;
};

static bool same_file(const struct probe_verdict *v, const struct stat *st)
{
	return v->ino == st->st_ino && v->dev == st->st_dev && v->size == st->st_size &&
	       v->mtime.tv_sec == st->st_mtim.tv_sec && v->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The same, of the file want names (a mapping's), when want is given. */
static int has_gil_probes(const char *path, const struct safeio_id *want)
{
	static struct probe_verdict verdicts[PROBE_VERDICTS];
	static unsigned int nr_verdicts;
	struct probe_verdict *v;
	struct stat st;
	int fd, ret;

	fd = safeio_open(path, 0, want, &st);
	if (fd < 0)
		return fd;
	for (unsigned int i = 0; i < nr_verdicts && i < PROBE_VERDICTS; i++) {
		if (same_file(&verdicts[i], &st)) {
			close(fd);
			return verdicts[i].found;
		}
	}
	ret = elf_gil_probes(fd, NULL, NULL);
	close(fd);
	if (ret < 0)
		return ret;
	/* the oldest verdict makes room */
	v = &verdicts[nr_verdicts++ % PROBE_VERDICTS];
	*v = (struct probe_verdict){ .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
				     .mtime = st.st_mtim, .found = ret };
	return ret;
}

/* Called from one thread only: the one that looks at processes. */
int target_has_gil_probes(const char *path)
{
	return has_gil_probes(path, NULL);
}

bool target_gil_args_in_regs(const char *path)
{
	int fd = safeio_open(path, 0, NULL, NULL);
	bool in_regs = false;
	int ret;

	if (fd < 0)
		return false;
	ret = elf_gil_probes(fd, &in_regs, NULL);
	close(fd);
	return ret == 1 && in_regs;
}

int target_gil_sites(const char *path, const char *name, __u64 *offsets, __u64 *sema_offsets,
		     int max)
{
	struct gil_sites sites = {.name = name, .offsets = offsets, .sema_offsets = sema_offsets,
				  .max = max};
	int fd = safeio_open(path, 0, NULL, NULL);
	bool in_regs = false;
	int ret;

	if (fd < 0)
		return fd;
	ret = elf_gil_probes(fd, &in_regs, &sites);
	close(fd);
	if (ret < 0)
		return ret;
	if (!in_regs)
		return -EOPNOTSUPP;
	return sites.nr > 0 ? sites.nr : -ENOENT;
}

/* An executable mapping of a file that carries the gil probes. */
static bool mapping_has_probes(const struct proc_mapping *m, void *ctx)
{
	struct safeio_id id = {.dev = m->dev, .ino = m->ino};

	return m->perms[2] == 'x' && has_gil_probes(m->name, &id) == 1;
}

int target_find_probes_in_pid(pid_t pid, char *path, size_t path_len, char *err, size_t err_len)
{
	char maps_path[64], exe[PATH_MAX];
	struct proc_mapping m;
	struct safeio_id id = {};
	struct stat st;
	ssize_t n;
	int ret;

	snprintf(maps_path, sizeof(maps_path), "/proc/%d/exe", pid);
	n = readlink(maps_path, exe, sizeof(exe) - 1);
	if (n < 0) {
		int e = errno;

		if (kill(pid, 0) && errno == ESRCH) {
			snprintf(err, err_len, "no process with PID %d", pid);
			return -ESRCH;
		}
		if (e == ENOENT)
			snprintf(err, err_len, "PID %d has no executable (a kernel thread, or exiting)",
				 pid);
		else
			snprintf(err, err_len, "cannot read %s: %s", maps_path, strerror(e));
		return -e;
	}
	exe[n] = '\0';
	/* the name may now be another file, or a FIFO at "<exe> (deleted)": only the file will do */
	if (!stat(maps_path, &st))
		id = (struct safeio_id){.dev = st.st_dev, .ino = st.st_ino};
	if (id.ino && has_gil_probes(exe, &id) == 1) {
		snprintf(path, path_len, "%s", exe);
		return 0;
	}
	ret = proc_find_mapping(pid, mapping_has_probes, NULL, &m);
	if (ret < 0) {
		snprintf(err, err_len, "cannot read /proc/%d/maps: %s", pid, strerror(-ret));
		return ret;
	}
	path[0] = '\0';
	if (ret)
		snprintf(path, path_len, "%s", m.name);
	if (!path[0]) {
		snprintf(err, err_len, "PID %d has no gil probes (libgil is not loaded in %s)", pid,
			 exe);
		return -ENOENT;
	}
	return 0;
}

struct probes_lib {
	char *path;
	size_t path_len;
};

static bool lib_has_probes(const char *soname, const char *lib, void *ctx)
{
	struct probes_lib *p = ctx;

	if (target_has_gil_probes(lib) != 1)
		return false;
	/* The loader prints $ORIGIN paths as built, "dir/../lib": show the real one. */
	if (!realpath(lib, p->path))
		snprintf(p->path, p->path_len, "%s", lib);
	return true;
}

/* A library the dynamic loader would map for exe that carries the probes. */
static int find_probes_in_libs(const char *exe, char *path, size_t path_len)
{
	struct probes_lib p = {path, path_len};

	return command_loader_libs(exe, lib_has_probes, &p);
}

int target_find_probes_in_exe(const char *exe, char *path, size_t path_len, char *err, size_t err_len)
{
	int ret = target_has_gil_probes(exe);

	if (ret == -ENOEXEC) {
		snprintf(err, err_len, "%s is not an ELF executable", exe);
		return ret;
	}
	if (ret < 0) {
		snprintf(err, err_len, "cannot read %s: %s", exe, strerror(-ret));
		return ret;
	}
	if (ret == 1) {
		snprintf(path, path_len, "%s", exe);
		return 0;
	}
	if (elf_is_dynamic(exe) == 1 && find_probes_in_libs(exe, path, path_len) == 0)
		return 0;
	snprintf(err, err_len, "%s has no gil probes (not linked with libgil)", exe);
	return -ENOENT;
}

int child_fork(struct child *c, char *const argv[])
{
	int go[2], error[2];
	char byte;

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(error, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	c->pid = fork();
	if (c->pid < 0) {
		int e = -errno;

		close(go[0]);
		close(go[1]);
		close(error[0]);
		close(error[1]);
		return e;
	}
	if (c->pid == 0) {
		sigset_t none;
		int e;

		close(go[1]);
		close(error[0]);
		/* The command gets the signal state of a fresh process, not gilstat's. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* gilstat exiting before the start closes the pipe: do not run unobserved. */
		if (read(go[0], &byte, 1) != 1)
			_exit(127);
		execvp(argv[0], argv);
		e = errno;
		if (write(error[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(error[1]);
	c->go_fd = go[1];
	c->error_fd = error[0];
	return 0;
}

int child_start(struct child *c)
{
	char byte = 1;
	int e = 0;
	ssize_t n;

	if (write(c->go_fd, &byte, 1) != 1)
		return -errno;
	close(c->go_fd);
	c->go_fd = -1;
	/* The exec closes error_fd (O_CLOEXEC): EOF means the command is running. */
	n = read(c->error_fd, &e, sizeof(e));
	close(c->error_fd);
	c->error_fd = -1;
	return n == sizeof(e) ? -e : 0;
}
