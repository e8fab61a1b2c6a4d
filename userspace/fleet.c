// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "debuginfo.h"
#include "exporter.h"
#include "elffile.h"
#include "fleet.h"
#include "gilstat.h"
#include "gilstat.skel.h"
#include "now_ns.h"
#include "procfs.h"
#include "reaper.h"
#include "safeio.h"
#include "pygil.h"
#include "python.h"
#include "target.h"
#include "tracer.h"

#define NS_PER_MS 1000000ull
/* An exec'd process is attached within this long, or left alone. */
#define ATTACH_WITHIN_NS (1000 * NS_PER_MS)
/* How often a process whose libraries are still loading, or whose GIL is not there yet, is read. */
#define RETRY_NS (2 * NS_PER_MS)
#define GIL_RETRY_NS (10 * NS_PER_MS)
/* A second look, this long after libc appeared, before a program is taken for neither kind. */
#define SETTLE_NS (20 * NS_PER_MS)
/* libc's init, signal, timed and clock waits, the waits' returns */
#define MAX_PROC_LINKS TRACER_MAX_MULTI_LINKS
#define MAX_GILS_SEEN 8
/*
 * The most one look at a process may take. Its files are another user's: one that makes the look
 * longer (a huge, slow or endless file) loses that process, not the tracing of the others.
 */
#define LOOK_BUDGET_NS (500 * NS_PER_MS)
/* The looks of one poll stop after this long, so that the exec events are read in between. */
#define POLL_SLICE_NS (50 * NS_PER_MS)
enum verdict {
	EXE_OTHER,  /* neither a CPython nor a libgil program: its execs are ignored */
	EXE_TARGET, /* was one: its processes are retried for the whole second */
};

struct exe_seen {
	dev_t dev;
	ino_t ino;
	enum verdict verdict;
};

/* A file with libgil's probes, attached once for every process that maps it. */
struct gil_file {
	dev_t dev;
	ino_t ino;
	struct probe_link links[3];
};

struct proc {
	pid_t pid;
	int pidfd; /* while traced */
	bool traced, python, gil_known;
	bool attached; /* links were made: the BPF side may hold state of it */
	dev_t exe_dev;
	ino_t exe_ino;
	__u64 retry_ns;	  /* the next look while pending or without a GIL */
	__u64 give_up_ns; /* attached by then, or left alone */
	__u64 libc_seen_ns;
	__u64 seen_ns; /* exec event or scan */
	char *py_path; /* the file holding _PyRuntime, as reachable from here */
	__u64 cond_offset;
	int links[MAX_PROC_LINKS]; /* uprobe_multi link descriptors */
	int nr_links;
};

struct fleet {
	struct fleet_opts o;
	struct reaper reaper;
	int epfd;
	struct proc *procs;
	size_t nr_procs;
	struct exe_seen *exes;
	size_t nr_exes;
	struct gil_file *files;
	size_t nr_files;
	__u64 nr_execs;
	__u64 nr_traced_total;
	/* where the fields the clean-up looks for sit in the maps' values (from the object's BTF) */
	__u32 gil_tgid_off, thread_tgid_off, waiter_id_off, waiter_waiting_off;
};

static void note(const struct fleet *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Its lines name other users' processes and files: their control bytes are escaped. */
static void note(const struct fleet *f, const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;

	if (!f->o.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gilstat: ");
	safeio_fputs_escaped(line, stderr);
	fprintf(stderr, "\n");
}

/* The byte offset of a member of a map's value, from the BPF object's BTF; -1 if absent. */
static long member_offset(const struct bpf_object *obj, const struct bpf_map *map,
			  const char *name)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_type *t;
	const struct btf_member *m;

	if (!btf)
		return -1;
	t = btf__type_by_id(btf, bpf_map__btf_value_type_id(map));
	if (!t || !btf_is_struct(t))
		return -1;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), name))
			return btf_member_bit_offset(t, i) / 8;
	return -1;
}

static struct proc *find_proc(struct fleet *f, pid_t pid)
{
	for (size_t i = 0; i < f->nr_procs; i++)
		if (f->procs[i].pid == pid)
			return &f->procs[i];
	return NULL;
}

static struct exe_seen *find_exe(struct fleet *f, dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < f->nr_exes; i++)
		if (f->exes[i].dev == dev && f->exes[i].ino == ino)
			return &f->exes[i];
	return NULL;
}

static void remember_exe(struct fleet *f, dev_t dev, ino_t ino, enum verdict v)
{
	struct exe_seen *e = find_exe(f, dev, ino), *grown;

	if (e) {
		e->verdict = v;
		return;
	}
	grown = realloc(f->exes, (f->nr_exes + 1) * sizeof(*grown));
	if (!grown)
		return;
	f->exes = grown;
	f->exes[f->nr_exes++] = (struct exe_seen){ .dev = dev, .ino = ino, .verdict = v };
}

/* The processes' entries in a map whose value has a field equal to pid (a tgid, or a pid_tgid). */
static void delete_entries_of(int fd, __u32 key_size, __u32 value_size, __u32 off, bool pid_tgid,
			      pid_t pid, void (*on_delete)(struct fleet *, const void *),
			      struct fleet *f)
{
	char key[64], next[64], *value = malloc(value_size), *doomed = NULL;
	size_t nr = 0, cap = 0;
	void *prev = NULL;

	if (!value || key_size > sizeof(key))
		goto out;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, value))
			continue;
		if (pid_tgid ? (*(__u64 *)(value + off) >> 32) != (__u64)pid
			     : *(__u32 *)(value + off) != (__u32)pid)
			continue;
		if (nr == cap) {
			char *grown = realloc(doomed, (cap = cap ? 2 * cap : 16) * key_size);

			if (!grown)
				break;
			doomed = grown;
		}
		memcpy(doomed + nr++ * key_size, key, key_size);
		if (on_delete)
			on_delete(f, value);
	}
	for (size_t i = 0; i < nr; i++)
		bpf_map_delete_elem(fd, doomed + i * key_size);
out:
	free(doomed);
	free(value);
}

/* A waiter that was waiting when its process ended: the scheduler programs stop counting it. */
static void waiter_gone(struct fleet *f, const void *value)
{
	if (*(const __u32 *)((const char *)value + f->waiter_waiting_off))
		__sync_fetch_and_add(&f->o.tr->skel->bss->nr_waiters, -1);
}

/* The entries of pid in a hash map whose key holds a tgid at tgid_off (py_conds, key_stats). */
static void forget_keys_of(int fd, __u32 key_size, __u32 tgid_off, pid_t pid)
{
	char key[64], next[64], doomed[64][64];
	void *prev;
	int nr;

	if (key_size > sizeof(key))
		return;
	do {
		nr = 0;
		prev = NULL;
		while (nr < 64 && !bpf_map_get_next_key(fd, prev, next)) {
			memcpy(key, next, key_size);
			prev = key;
			if (*(__u32 *)(key + tgid_off) == (__u32)pid)
				memcpy(doomed[nr++], key, key_size);
		}
		for (int i = 0; i < nr; i++)
			bpf_map_delete_elem(fd, doomed[i]);
	} while (nr == 64);
}

/* What the BPF side keeps of an ended process: its GILs' state, its threads, its waiters. */
static void forget_bpf_state(struct fleet *f, pid_t pid)
{
	struct gilstat_bpf *skel = f->o.tr->skel;
	const struct bpf_map *gils = skel->maps.gils;
	__u32 size = bpf_map__value_size(gils);
	char *state = calloc(1, size), *zero = calloc(1, size);
	int fd = bpf_map__fd(gils);

	/* the gils array: a slot whose GIL belongs to pid is free again */
	for (__u32 slot = 0; state && zero && slot < bpf_map__max_entries(gils); slot++) {
		if (bpf_map_lookup_elem(fd, &slot, state) || !*(__u64 *)state ||
		    *(__u32 *)(state + f->gil_tgid_off) != (__u32)pid)
			continue;
		bpf_map_update_elem(fd, &slot, zero, BPF_ANY);
	}
	free(state);
	free(zero);
	forget_keys_of(bpf_map__fd(skel->maps.py_conds), sizeof(struct py_cond_key),
		       offsetof(struct py_cond_key, tgid), pid);
	delete_entries_of(bpf_map__fd(skel->maps.py_threads), sizeof(__u32),
			  bpf_map__value_size(skel->maps.py_threads), f->thread_tgid_off, false,
			  pid, NULL, f);
	delete_entries_of(bpf_map__fd(skel->maps.waiters), sizeof(__u64),
			  bpf_map__value_size(skel->maps.waiters), f->waiter_id_off, true, pid,
			  waiter_gone, f);
}

static void proc_free(struct fleet *f, struct proc *p)
{
	for (int i = 0; i < p->nr_links; i++)
		reaper_add(&f->reaper, p->links[i]);
	p->nr_links = 0;
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p->py_path);
}

/* Forgets p: detached, its BPF state dropped and, if it was traced, its series ended. */
static void proc_remove(struct fleet *f, struct proc *p)
{
	/* attached but gone before it was traced: py_cond_init() may have seen its GIL */
	bool attached = p->traced || p->attached;

	if (p->traced) {
		bpf_map_delete_elem(bpf_map__fd(f->o.tr->skel->maps.fleet_tgids), &(__u32){ p->pid });
		epoll_ctl(f->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
		exporter_target_ended(f->o.ex, p->pid);
		note(f, "PID %d ended: detached", p->pid);
	}
	proc_free(f, p);
	if (attached)
		forget_bpf_state(f, p->pid);
	/*
	 * The exporter drops a traced process's breakdown entries after the grace period; one gone
	 * before it could be traced was never the exporter's, and its events made entries all the same.
	 */
	if (attached && !p->traced)
		forget_keys_of(bpf_map__fd(f->o.tr->skel->maps.key_stats), sizeof(struct gil_key),
			       offsetof(struct gil_key, tgid), p->pid);
	*p = f->procs[--f->nr_procs];
}

static struct proc *proc_add(struct fleet *f, pid_t pid, __u64 give_up_ns)
{
	struct proc *grown = realloc(f->procs, (f->nr_procs + 1) * sizeof(*grown)), *p;

	if (!grown)
		return NULL;
	f->procs = grown;
	p = &f->procs[f->nr_procs++];
	*p = (struct proc){ .pid = pid, .pidfd = -1, .give_up_ns = give_up_ns, .seen_ns = now_ns() };
	return p;
}

/*
 * Links of a process that could not be traced. Closed at once when it still runs: the reapers
 * would leave it time to make BPF state through them after its state is forgotten. A process
 * that is gone (ESRCH) makes none, and its links go the usual way.
 */
static void abandon_links(struct proc *p, int err)
{
	if (err == -ESRCH)
		return;
	for (int i = 0; i < p->nr_links; i++)
		close(p->links[i]);
	p->nr_links = 0;
}

/* The main GIL in the process's _PyRuntime, or one py_cond_init() has recorded already. */
static bool find_gil(struct fleet *f, struct proc *p)
{
	int fd = bpf_map__fd(f->o.tr->skel->maps.py_conds), nr;
	struct py_cond_key key, *prev = NULL;
	__u64 gils[MAX_GILS_SEEN];
	char why[PATH_MAX + 128];

	while (!bpf_map_get_next_key(fd, prev, &key)) {
		if (key.tgid == (__u32)p->pid)
			return true;
		prev = &key;
	}
	nr = pygil_find_gils(p->pid, p->py_path, p->cond_offset, gils, MAX_GILS_SEEN, why,
			     sizeof(why));
	for (int i = 0; i < nr; i++)
		tracer_register_gil(f->o.tr, p->pid, gils[i], p->cond_offset);
	return nr > 0;
}

static int attach_python(struct fleet *f, struct proc *p, const struct py_target *t)
{
	int err = tracer_attach_condvar_multi(f->o.tr, p->pid, &t->libc, p->links, &p->nr_links);

	/* links were made: the BPF side may hold state of it */
	if (p->nr_links)
		p->attached = true;
	if (err)
		return err;
	p->python = true;
	p->cond_offset = t->cond_offset;
	p->py_path = strdup(t->path);
	if (!p->py_path)
		return -ENOMEM;
	p->gil_known = find_gil(f, p);
	return 0;
}

/* libgil's probes in path, attached for every process once per file. */
static int attach_libgil_file(struct fleet *f, const char *path)
{
	struct gil_file *grown, *gf;
	struct stat st;
	int err;

	if (stat(path, &st))
		return -errno;
	for (size_t i = 0; i < f->nr_files; i++)
		if (f->files[i].dev == st.st_dev && f->files[i].ino == st.st_ino)
			return 0;
	grown = realloc(f->files, (f->nr_files + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	f->files = grown;
	gf = &f->files[f->nr_files];
	*gf = (struct gil_file){ .dev = st.st_dev, .ino = st.st_ino };
	err = tracer_attach_libgil_file(f->o.tr, path, gf->links);
	if (err)
		return err;
	f->nr_files++;
	note(f, "libgil's probes in %s attached for every process", path);
	return 0;
}

static int start_tracing(struct fleet *f, struct proc *p, const char *python)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (__u64)p->pid };
	char comm[32];

	p->pidfd = syscall(SYS_pidfd_open, p->pid, 0);
	if (p->pidfd < 0 || epoll_ctl(f->epfd, EPOLL_CTL_ADD, p->pidfd, &ev))
		return -errno;
	proc_read_comm(p->pid, p->pid, comm, sizeof(comm));
	if (exporter_add_target(f->o.ex, p->pid, comm, python))
		return -ENOMEM;
	/* the reports' name of the process, also once it has ended */
	if (f->o.tr->skel->rodata->targ_comms) {
		__u64 id = (__u64)p->pid << 32 | (__u32)p->pid;
		struct task_comm c = {};

		snprintf(c.comm, sizeof(c.comm), "%.*s", (int)sizeof(c.comm) - 1, comm);
		bpf_map_update_elem(bpf_map__fd(f->o.tr->skel->maps.comms), &id, &c, BPF_ANY);
	}
	p->traced = true;
	f->nr_traced_total++;
	bpf_map_update_elem(bpf_map__fd(f->o.tr->skel->maps.fleet_tgids), &(__u32){ p->pid },
			    &(__u8){ 1 }, BPF_ANY);
	remember_exe(f, p->exe_dev, p->exe_ino, EXE_TARGET);
	note(f, "PID %d (%s) traced%s%s, %.1f ms after it was seen", p->pid, comm,
	     python ? ": CPython " : "", python ? python : "", (now_ns() - p->seen_ns) / 1e6);
	return 0;
}

/*
 * What a pending process is, once its libraries are mapped: a CPython, a libgil program, or
 * neither. 1 when it is done with (traced, or left alone), 0 to look again later.
 */
static int look(struct fleet *f, struct proc *p, __u64 now)
{
	char exe[64], path[PATH_MAX], why[PATH_MAX + 128], version[16] = "";
	struct py_target *t;
	struct exe_seen *seen;
	struct stat st;
	int err;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", p->pid);
	if (stat(exe, &st))
		return 1; /* gone, or a kernel thread */
	p->exe_dev = st.st_dev;
	p->exe_ino = st.st_ino;
	seen = find_exe(f, st.st_dev, st.st_ino);
	if (seen && seen->verdict == EXE_OTHER)
		return 1;
	/* a dynamic program's libraries are all mapped once libc is */
	if (elf_is_dynamic(exe) == 1 && !pygil_libc_mapped(p->pid))
		return now >= p->give_up_ns;
	if (!p->libc_seen_ns)
		p->libc_seen_ns = now;

	t = calloc(1, sizeof(*t));
	if (!t)
		return 1;
	err = python_target_from_pid(p->pid, NULL, t, why, sizeof(why));
	if (!err && t->view == PY_VIEW_CONDVAR) {
		if (t->major)
			snprintf(version, sizeof(version), "%d.%d", t->major, t->minor);
		err = attach_python(f, p, t) ?: start_tracing(f, p, version[0] ? version : NULL);
		if (err == -ESRCH)
			/* a short process, gone while its interpreter was read for the first time */
			note(f, "PID %d: ended before it could be attached (%.1f ms after it was seen)",
			     p->pid, (now_ns() - p->seen_ns) / 1e6);
		else if (err)
			note(f, "PID %d: cannot attach (%d links, %.1f ms after it was seen): %s",
			     p->pid, p->nr_links, (now_ns() - p->seen_ns) / 1e6, strerror(-err));
		if (err)
			abandon_links(p, err);
		free(t);
		return 1;
	}
	if (!err)
		note(f, "PID %d: a CPython gilstat -a does not trace (%s view)", p->pid,
		     python_view_name(t->view));
	free(t);
	if (!err)
		return 1;
	if (!target_find_probes_in_pid(p->pid, path, sizeof(path), why, sizeof(why))) {
		err = attach_libgil_file(f, path) ?: start_tracing(f, p, NULL);
		if (err)
			note(f, "PID %d: cannot attach to %s: %s", p->pid, path, strerror(-err));
		return 1;
	}
	/* one more look a little later: a library its loader maps after libc */
	if (now - p->libc_seen_ns < SETTLE_NS && now < p->give_up_ns) {
		p->retry_ns = p->libc_seen_ns + SETTLE_NS;
		return 0;
	}
	if (!seen)
		remember_exe(f, st.st_dev, st.st_ino, EXE_OTHER);
	return 1;
}

/* One look, one read of the process's maps: most of what a look at a program costs. */
static int look_at(struct fleet *f, struct proc *p, __u64 now)
{
	int done;

	safeio_budget_start(LOOK_BUDGET_NS);
	proc_maps_hold(p->pid);
	done = look(f, p, now);
	proc_maps_release();
	safeio_budget_end();
	if (safeio_budget_exceeded() && !p->traced) {
		fprintf(stderr, "gilstat: PID %d given up: reading its files took more than %llu ms\n",
			p->pid, LOOK_BUDGET_NS / NS_PER_MS);
		return 1;
	}
	return done;
}

/* The next process in /proc (d) that is neither gilstat nor known already; 0 at the end. */
static pid_t next_new_pid(struct fleet *f, DIR *d)
{
	struct dirent *de;

	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (!*end && pid > 0 && pid != getpid() && !find_proc(f, pid))
			return pid;
	}
	return 0;
}

/* The parent of pid, from /proc/PID/stat (its fourth field, after the comm's parentheses). */
static pid_t parent_of(pid_t pid)
{
	char path[64], line[512], *comm_end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	comm_end = strrchr(line, ')');
	if (!comm_end || strlen(comm_end) < 5)
		return 0;
	return (pid_t)strtol(comm_end + 4, NULL, 10); /* ") S PPID" */
}

/*
 * The children of traced process parent that are not known yet: the BPF side tells of a fork but
 * cannot read the child's pid without the kernel's BTF. A look through /proc costs a few
 * milliseconds; a traced process forks seldom (a server's workers, a pool).
 */
static void find_children(struct fleet *f, pid_t parent, __u64 now)
{
	DIR *d = opendir("/proc");
	pid_t pid;

	if (!d)
		return;
	while ((pid = next_new_pid(f, d))) {
		struct proc *p;

		if (parent_of(pid) != parent)
			continue;
		p = proc_add(f, pid, now + ATTACH_WITHIN_NS);
		if (p)
			p->retry_ns = now;
	}
	closedir(d);
}

int fleet_on_event(void *ctx, void *data, size_t size)
{
	const struct fleet_event *e = data;
	struct fleet *f = ctx;
	struct proc *p = find_proc(f, e->pid);
	__u64 now = now_ns();

	if (size < sizeof(*e) || (pid_t)e->pid == getpid())
		return 0;
	if (e->kind == FLEET_FORKED) {
		find_children(f, e->pid, now);
		return 0;
	}
	f->nr_execs++;
	/* a traced process that runs another program is a new target */
	if (p)
		proc_remove(f, p);
	p = proc_add(f, e->pid, now + ATTACH_WITHIN_NS);
	if (p)
		p->retry_ns = now;
	return 0;
}

struct fleet *fleet_new(const struct fleet_opts *opts)
{
	struct gilstat_bpf *skel = opts->tr->skel;
	struct fleet *f = calloc(1, sizeof(*f));
	long offs[4];
	struct rlimit nofile;

	if (!f)
		return NULL;
	f->o = *opts;
	reaper_init(&f->reaper);
	/*
	 * -a traces the condition-variable view only, which needs no debug symbols: no look waits
	 * for a debuginfod server.
	 */
	python_set_debuginfo_opts(&(struct debuginfo_opts){.no_debuginfod = true});
	/* two descriptors per uprobe link and one per process: the default 1024 is a few dozen */
	if (!getrlimit(RLIMIT_NOFILE, &nofile) && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	offs[0] = member_offset(skel->obj, skel->maps.gils, "tgid");
	offs[1] = member_offset(skel->obj, skel->maps.py_threads, "tgid");
	offs[2] = member_offset(skel->obj, skel->maps.waiters, "id");
	offs[3] = member_offset(skel->obj, skel->maps.waiters, "waiting");
	for (int i = 0; i < 4; i++)
		if (offs[i] < 0) {
			errno = ENOENT;
			goto fail;
		}
	f->gil_tgid_off = offs[0];
	f->thread_tgid_off = offs[1];
	f->waiter_id_off = offs[2];
	f->waiter_waiting_off = offs[3];
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0)
		goto fail;
	return f;
fail:
	fleet_free(f);
	return NULL;
}

int fleet_scan(struct fleet *f)
{
	DIR *d = opendir("/proc");
	__u64 now = now_ns();
	int nr = 0;
	pid_t pid;

	if (!d)
		return -errno;
	while (safeio_budget_left() && (pid = next_new_pid(f, d))) {
		struct proc *p;

		/* running already: one look, no waiting for libraries */
		p = proc_add(f, pid, now);
		if (!p)
			break;
		if (look_at(f, p, now) && !p->traced)
			proc_remove(f, p);
		else
			nr += p->traced;
	}
	closedir(d);
	return nr;
}

int fleet_fd(const struct fleet *f)
{
	return f->epfd;
}

void fleet_poll(struct fleet *f)
{
	struct epoll_event evs[64];
	__u64 now, start_ns = now_ns();
	int n;

	while ((n = epoll_wait(f->epfd, evs, 64, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			struct proc *p;

			p = find_proc(f, (pid_t)evs[i].data.u64);
			if (p)
				proc_remove(f, p);
		}
		if (n < 64)
			break;
	}
	now = now_ns();
	for (size_t i = 0; i < f->nr_procs; i++) {
		struct proc *p = &f->procs[i];

		if (p->retry_ns > now || (p->traced && (!p->python || p->gil_known)))
			continue;
		/* a stop signal, or the events waiting: the other looks come at the next poll */
		if (!safeio_budget_left() || now_ns() - start_ns > POLL_SLICE_NS)
			break;
		if (p->traced) {
			p->gil_known = find_gil(f, p);
			if (!p->gil_known && now >= p->give_up_ns) {
				note(f, "PID %d: no GIL found in its _PyRuntime", p->pid);
				p->gil_known = true; /* py_cond_init() still sees new ones */
			}
			p->retry_ns = now + GIL_RETRY_NS;
			continue;
		}
		if (!look_at(f, p, now)) {
			if (p->retry_ns <= now)
				p->retry_ns = now + RETRY_NS;
			continue;
		}
		if (!p->traced) {
			proc_remove(f, p);
			i--;
		} else {
			p->retry_ns = now + GIL_RETRY_NS;
		}
	}
}

__u64 fleet_next_ns(const struct fleet *f)
{
	__u64 next = UINT64_MAX;

	for (size_t i = 0; i < f->nr_procs; i++) {
		const struct proc *p = &f->procs[i];

		if (p->traced && (!p->python || p->gil_known))
			continue;
		if (p->retry_ns < next)
			next = p->retry_ns;
	}
	return next;
}

void fleet_get_stats(const struct fleet *f, struct fleet_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < f->nr_procs; i++) {
		out->nr_traced += f->procs[i].traced;
		out->nr_pending += !f->procs[i].traced;
		out->nr_links += f->procs[i].nr_links;
	}
	out->nr_links += 3 * f->nr_files;
	out->nr_links += reaper_pending((struct reaper *)&f->reaper);
	out->nr_execs = f->nr_execs;
	out->nr_traced_total = f->nr_traced_total;
}

void fleet_free(struct fleet *f)
{
	struct probe_link *all;

	if (!f)
		return;
	for (size_t i = 0; i < f->nr_procs; i++)
		proc_free(f, &f->procs[i]);
	/* the files' links and the processes' go down together: their grace periods overlap */
	all = calloc(3 * f->nr_files, sizeof(*all));
	for (size_t i = 0; i < f->nr_files; i++) {
		if (all)
			memcpy(&all[3 * i], f->files[i].links, sizeof(f->files[i].links));
		else
			links_destroy(f->files[i].links, 3);
	}
	if (all)
		links_destroy(all, 3 * f->nr_files);
	free(all);
	reaper_stop(&f->reaper);
	if (f->epfd > 0)
		close(f->epfd);
	free(f->procs);
	free(f->exes);
	free(f->files);
	free(f);
}
