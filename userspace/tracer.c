// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF object: opened, set, loaded and attached, per target kind, from one table of modes.
 * Every BPF link gilstat makes is made here.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gilstat.h"
#include "gilstat.skel.h"
#include "options.h"
#include "target.h"
#include "traced.h"
#include "reaper.h"
#include "timeline.h"
#include "tracer.h"
#include "umulti.h"

/* the GILs a running process has in its _PyRuntime: the main interpreter's, one as a rule */
#define MAX_GILS_SEEN 8
/* libgil's probes: three, in provider "gil"; each at a few sites (inlined into its callers) */
#define NR_LIBGIL_PROBES 3
#define MAX_LIBGIL_SITES 64
#define MODE_MAX_PROGS 5
#define MODE_MAX_MAPS 3

/*
 * The modes: the programs each loads (only the target's modes are loaded), the probes, functions
 * or tracepoints they attach to, and the maps that shrink to one entry without the mode.
 */
struct tracer_mode_desc {
	const char *what; /* in the one line of an attach error */
	const char *progs[MODE_MAX_PROGS];
	const char *sites[MODE_MAX_PROGS]; /* libgil's probe names */
	const char *maps[MODE_MAX_MAPS];
};

static const struct tracer_mode_desc modes[NR_TRACER_MODES] = {
	[TRACER_LIBGIL] = {
		.what = "libgil's probes",
		.progs = {"gil_acquire", "gil_release", "gil_wait_start"},
		.sites = {"acquire", "release", "wait__start"},
	},
	[TRACER_PY_SYMBOLS] = {
		.what = "CPython's functions",
		.progs = {"py_acquire_entry", "py_acquire_return", "py_release", "py_forced"},
	},
	[TRACER_PY_CONDVAR] = {
		.what = "libc's condition variables",
		.progs = {"py_cond_init", "py_cond_destroy", "py_cond_signal", "py_cond_wait",
			  "py_cond_wait_return"},
	},
	[TRACER_STACKS] = {
		.what = "stacks",
		.maps = {"stacks", "stack_waits", "py_stacks"},
	},
	[TRACER_SCHED] = {
		.what = "scheduler tracepoints",
		.progs = {"gil_sched_wakeup", "gil_sched_switch"},
	},
};

static bool libbpf_verbose;

static int libbpf_print_fn(enum libbpf_print_level level, const char *format, va_list args)
{
	if ((level == LIBBPF_DEBUG || level == LIBBPF_INFO) && !libbpf_verbose)
		return 0;
	return vfprintf(stderr, format, args);
}

static struct bpf_program *prog_of(const struct tracer *tr, const char *name)
{
	return bpf_object__find_program_by_name(tr->skel->obj, name);
}

/*
 * Whether mode m's programs attach as uprobe_multi links (umulti.h): CPython's uprobes when the
 * kernel makes such links, libgil's when its probes' arguments are read from the registers (a
 * uprobe_multi link has no USDT argument specs: bpf_usdt_arg() is libbpf's).
 */
static bool multi_mode(const struct tracer *tr, int m)
{
	if (!tr->multi)
		return false;
	return m == TRACER_PY_SYMBOLS || m == TRACER_PY_CONDVAR ||
	       (m == TRACER_LIBGIL && tr->skel->rodata->targ_args_in_regs);
}

/* Only the programs of the modes in tr->modes are loaded; the maps of the others shrink. */
static void select_modes(struct tracer *tr)
{
	for (int m = 0; m < NR_TRACER_MODES; m++) {
		bool on = tr->modes & (1u << m);

		for (int i = 0; i < MODE_MAX_PROGS && modes[m].progs[i]; i++) {
			bpf_program__set_autoload(prog_of(tr, modes[m].progs[i]), on);
			if (on && multi_mode(tr, m))
				bpf_program__set_expected_attach_type(prog_of(tr, modes[m].progs[i]),
								      ATTACH_UPROBE_MULTI);
		}
		for (int i = 0; i < MODE_MAX_MAPS && modes[m].maps[i] && !on; i++)
			bpf_map__set_max_entries(
				bpf_object__find_map_by_name(tr->skel->obj, modes[m].maps[i]), 1);
	}
}

static int open_object(struct tracer *tr, const struct options *o)
{
	int err;

	*tr = (struct tracer){.opts = o, .cpu_fd = -1, .key_fd = -1, .comm_fd = -1};
	for (int i = 0; i < TRACER_MAX_LINKS; i++)
		tr->links[i].fd = -1;
	tr->multi = umulti_supported();
	libbpf_verbose = o->verbose;
	libbpf_set_print(libbpf_print_fn);
	tr->skel = gilstat_bpf__open();
	if (!tr->skel) {
		err = -errno;
		fprintf(stderr, "gilstat: failed to open BPF object: %s\n", strerror(-err));
		return err;
	}
	tr->skel->rodata->targ_unit_ns = o->report.unit_ns;
	tr->skel->rodata->targ_unit_log2 = 63 - __builtin_clzll(o->report.unit_ns);
	if (o->report.sched)
		tr->modes |= 1u << TRACER_SCHED;
	if (o->max_keys)
		bpf_map__set_max_entries(tr->skel->maps.key_stats, o->max_keys);
	return 0;
}

static int load_object(struct tracer *tr)
{
	int err;

	select_modes(tr);
	err = gilstat_bpf__load(tr->skel);
	if (err) {
		fprintf(stderr, "gilstat: failed to load BPF object: %s\n", strerror(-err));
		return err;
	}
	tr->nr_cpus = libbpf_num_possible_cpus();
	if (tr->nr_cpus < 0) {
		err = tr->nr_cpus;
		fprintf(stderr, "gilstat: cannot count CPUs: %s\n", strerror(-err));
		return err;
	}
	tr->cpu_fd = bpf_map__fd(tr->skel->maps.cpu_stats);
	tr->key_fd = tr->opts->report.group || tr->opts->all ? bpf_map__fd(tr->skel->maps.key_stats)
							     : -1;
	tr->comm_fd = bpf_map__fd(tr->skel->maps.comms);
	return 0;
}

/*
 * --stacks: the threshold, the depth and CPython's frame layout into the BPF object. A CPython
 * whose layout gilstat does not know is traced without Python frames, which one line says.
 */
static void setup_stacks(struct tracer *tr, const struct traced *t)
{
	const struct options *o = tr->opts;
	char why[PATH_MAX + 128];

	tr->modes |= 1u << TRACER_STACKS;
	tr->skel->rodata->targ_stacks = true;
	tr->skel->rodata->targ_min_wait_ns = (__u64)(o->min_wait_ms * 1e6);
	tr->skel->rodata->targ_py_depth = o->stack_depth;
	/* one frame more than kept: a stack that fills it was truncated */
	bpf_map__set_value_size(tr->skel->maps.stacks, (o->stack_depth + 1) * sizeof(__u64));
	if (!o->python)
		return;
	if (t->py.view != PY_VIEW_CONDVAR) {
		fprintf(stderr, "gilstat: --stacks: Python frames need the condition-variable view "
				"(--python-probes=libc): native stacks only\n");
		return;
	}
	if (pygil_layout_for(t->py.major, t->py.minor, t->py.path, &tr->py_layout, why,
			  sizeof(why))) {
		fprintf(stderr, "gilstat: --stacks: %s: native stacks only\n", why);
		return;
	}
	tr->py_layout.frames.gil_last_holder = PY_GIL_LAST_HOLDER_OFFSET;
	memcpy((void *)&tr->skel->rodata->targ_py, &tr->py_layout.frames,
	       sizeof(tr->py_layout.frames));
	tr->py_frames = true;
}

int tracer_open(struct tracer *tr, const struct options *o, const struct traced *t)
{
	int err = open_object(tr, o);

	if (err)
		return err;
	tr->skel->rodata->targ_tgid = t->pid;
	tr->skel->rodata->targ_group = o->report.group;
	/* --stacks records the names of the threads it charges, on its own slow path */
	tr->skel->rodata->targ_comms = !!(o->report.group & (GROUP_THREAD | GROUP_PROCESS));
	if (o->stacks)
		setup_stacks(tr, t);
	if (o->timeline) {
		tr->skel->rodata->targ_timeline = true;
		/* the spans' threads are named by their releases */
		tr->skel->rodata->targ_comms = true;
		bpf_map__set_max_entries(tr->skel->maps.timeline, TIMELINE_RING_BYTES);
	}
	tr->skel->rodata->targ_args_in_regs = !o->python && target_gil_args_in_regs(t->probe_path);
	if (o->verbose && !o->python)
		fprintf(stderr, "gilstat: probe arguments read %s\n",
			tr->skel->rodata->targ_args_in_regs
				? "from the call registers"
				: "through bpf_usdt_arg() (as the notes place them)");
	if (!o->report.group)
		bpf_map__set_max_entries(tr->skel->maps.key_stats, 1);
	/* Only the programs of the target's kind of GIL are loaded. */
	if (!o->python)
		tr->modes |= 1u << TRACER_LIBGIL;
	else if (t->py.view == PY_VIEW_CONDVAR)
		tr->modes |= 1u << TRACER_PY_CONDVAR;
	else
		tr->modes |= 1u << TRACER_PY_SYMBOLS;
	tr->skel->rodata->targ_py_cond_offset = t->py.cond_offset;
	return load_object(tr);
}

int tracer_open_fleet(struct tracer *tr, const struct options *o)
{
	int err = open_object(tr, o);

	if (err)
		return err;
	tr->skel->rodata->targ_fleet = true;
	/* the reports name each process; the exporter has its comm from /proc already */
	tr->skel->rodata->targ_comms = !options_exports(o);
	tr->skel->rodata->targ_group = GROUP_PROCESS | (o->report.group & GROUP_GIL);
	tr->skel->rodata->targ_py_cond_offset = PY_GIL_COND_OFFSET;
	tr->modes |= 1u << TRACER_LIBGIL | 1u << TRACER_PY_CONDVAR;
	/*
	 * Every process's links are uprobe_multi ones, so that no detach holds up an attach
	 * (umulti.h); libgil's, then, only in files whose probes have their arguments in registers.
	 */
	if (!tr->multi) {
		fprintf(stderr, "gilstat: -a needs uprobe_multi links (Linux 6.6 or later)\n");
		gilstat_bpf__destroy(tr->skel), tr->skel = NULL;
		return -EOPNOTSUPP;
	}
	tr->skel->rodata->targ_args_in_regs = true;
	err = load_object(tr);
	if (err)
		gilstat_bpf__destroy(tr->skel), tr->skel = NULL;
	return err;
}

/* 0 when tr has room for one more link, else -E2BIG and one line. */
static int links_room(const struct tracer *tr)
{
	if (tr->nr_links < TRACER_MAX_LINKS)
		return 0;
	fprintf(stderr, "gilstat: more probe sites than the %d links gilstat can hold\n",
		TRACER_MAX_LINKS);
	return -E2BIG;
}

/* Attaches a raw tracepoint program; what names the tracepoint in the one line of an error. */
static int attach_tracepoint(struct tracer *tr, const char *prog, const char *what)
{
	int err = links_room(tr);

	if (err)
		return err;
	tr->links[tr->nr_links].bpf = bpf_program__attach(prog_of(tr, prog));
	if (!tr->links[tr->nr_links].bpf) {
		err = -errno;
		fprintf(stderr, "gilstat: cannot attach to the %s: %s\n", what, strerror(-err));
		return err;
	}
	tr->nr_links++;
	return 0;
}

static int attach_usdt(struct bpf_program *prog, pid_t pid, const char *path, const char *name,
		       struct bpf_link **link)
{
	*link = bpf_program__attach_usdt(prog, pid, path, "gil", name, NULL);
	if (!*link) {
		int err = -errno;

		fprintf(stderr, "gilstat: cannot attach to gil:%s in %s: %s\n", name, path,
			strerror(-err));
		return err;
	}
	return 0;
}

/* libgil's probe i at its sites in path, in pid (0: every process), as one uprobe_multi link. */
static int attach_libgil_multi(struct tracer *tr, int i, pid_t pid, const char *path,
			       struct probe_link *link)
{
	const struct tracer_mode_desc *m = &modes[TRACER_LIBGIL];
	__u64 offsets[MAX_LIBGIL_SITES], semas[MAX_LIBGIL_SITES];
	int nr, fd;

	nr = target_gil_sites(path, m->sites[i], offsets, semas, MAX_LIBGIL_SITES);
	fd = nr < 0 ? nr
		    : umulti_attach(bpf_program__fd(prog_of(tr, m->progs[i])), pid, path, offsets,
				    semas, nr, false);
	if (fd < 0) {
		fprintf(stderr, "gilstat: cannot attach to gil:%s in %s: %s\n", m->sites[i], path,
			fd == -EOPNOTSUPP ? "its probes' arguments are not all in registers"
					  : strerror(-fd));
		return fd;
	}
	link->fd = fd;
	return 0;
}

static int attach_libgil(struct tracer *tr, pid_t pid, const char *path)
{
	const struct tracer_mode_desc *m = &modes[TRACER_LIBGIL];
	struct probe_link *link;
	int err;

	for (int i = 0; i < NR_LIBGIL_PROBES; i++) {
		err = links_room(tr);
		if (err)
			return err;
		link = &tr->links[tr->nr_links];
		err = multi_mode(tr, TRACER_LIBGIL)
			      ? attach_libgil_multi(tr, i, pid, path, link)
			      : attach_usdt(prog_of(tr, m->progs[i]), pid, path, m->sites[i], &link->bpf);
		if (err)
			return err;
		tr->nr_links++;
	}
	return 0;
}

/* prog at sites of path, in pid, as one uprobe_multi link. */
/* prog at sites of path, in pid only: one uprobe_multi link's descriptor, or -errno. */
static int sites_link(struct tracer *tr, const char *prog, pid_t pid, const char *path,
		      const struct py_probe *sites, int nr_sites, bool retprobe)
{
	__u64 offsets[PY_MAX_PROBES];

	if (nr_sites > PY_MAX_PROBES)
		return -E2BIG;
	for (int i = 0; i < nr_sites; i++)
		offsets[i] = sites[i].offset;
	return umulti_attach(bpf_program__fd(prog_of(tr, prog)), pid, path, offsets, NULL, nr_sites,
			     retprobe);
}

static int attach_uprobes_multi(struct tracer *tr, const char *prog, pid_t pid, const char *path,
				const struct py_probe *sites, int nr_sites, bool retprobe)
{
	int fd, err = links_room(tr);

	if (err)
		return err;
	fd = sites_link(tr, prog, pid, path, sites, nr_sites, retprobe);
	if (fd < 0) {
		fprintf(stderr, "gilstat: cannot attach to %s%s in %s: %s\n", sites[0].name,
			retprobe ? " (return)" : "", path, strerror(-fd));
		return fd;
	}
	tr->links[tr->nr_links++].fd = fd;
	return 0;
}

static int attach_uprobes(struct tracer *tr, const char *prog, pid_t pid, const char *path,
			  const struct py_probe *sites, int nr_sites, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);

	if (!nr_sites)
		return 0;
	if (tr->multi)
		return attach_uprobes_multi(tr, prog, pid, path, sites, nr_sites, retprobe);
	for (int i = 0; i < nr_sites; i++) {
		int err = links_room(tr);

		if (err)
			return err;
		tr->links[tr->nr_links].bpf = bpf_program__attach_uprobe_opts(
			prog_of(tr, prog), pid, path, sites[i].offset, &opts);
		if (!tr->links[tr->nr_links].bpf) {
			err = -errno;
			fprintf(stderr, "gilstat: cannot attach to %s%s in %s: %s\n", sites[i].name,
				retprobe ? " (return)" : "", path, strerror(-err));
			return err;
		}
		tr->nr_links++;
	}
	return 0;
}

/* The condition-variable programs and libc's functions each is attached to. */
struct condvar_sites {
	const char *prog;
	struct py_probe sites[2];
	int nr;
	bool retprobe;
	bool fleet; /* attached in fleet mode too, where ended processes are forgotten at once */
};

static int condvar_sites_of(const struct py_libc *c, struct condvar_sites out[5])
{
	struct py_probe waits[2];
	int nr_waits = 0;

	if (c->cond_timedwait)
		waits[nr_waits++] = (struct py_probe){"pthread_cond_timedwait", c->cond_timedwait};
	if (c->cond_clockwait)
		waits[nr_waits++] = (struct py_probe){"pthread_cond_clockwait", c->cond_clockwait};
	out[0] = (struct condvar_sites){"py_cond_init", {{"pthread_cond_init", c->cond_init}}, 1,
					false, true};
	out[1] = (struct condvar_sites){"py_cond_destroy",
					{{"pthread_cond_destroy", c->cond_destroy}}, 1, false, false};
	out[2] = (struct condvar_sites){"py_cond_signal", {{"pthread_cond_signal", c->cond_signal}},
					1, false, true};
	out[3] = (struct condvar_sites){"py_cond_wait", {}, nr_waits, false, true};
	out[4] = (struct condvar_sites){"py_cond_wait_return", {}, nr_waits, true, true};
	memcpy(out[3].sites, waits, sizeof(waits));
	memcpy(out[4].sites, waits, sizeof(waits));
	return 5;
}

int tracer_register_gil(struct tracer *tr, pid_t pid, __u64 gil, __u64 cond_offset)
{
	struct py_cond_key key = {.tgid = pid, .addr = gil + cond_offset};
	struct py_cond val = {.gil = gil, .role = PY_COND_GIL};
	int fd = bpf_map__fd(tr->skel->maps.py_conds);
	int err;

	err = bpf_map_update_elem(fd, &key, &val, BPF_ANY);
	key.addr += PY_SWITCH_COND_OFFSET;
	val.role = PY_COND_SWITCH;
	err = err ?: bpf_map_update_elem(fd, &key, &val, BPF_ANY);
	return err ? -errno : 0;
}

/*
 * The main GIL of a running process, found in its _PyRuntime (one that -p cannot find there is an
 * error worth one line). A command's GILs are created after the attach, and py_cond_init() finds
 * them; the BPF side tests any other condition variable once (a sub-interpreter's GIL created
 * before -p).
 */
static int register_running_gils(struct tracer *tr, pid_t pid, const struct py_target *t)
{
	__u64 gils[MAX_GILS_SEEN];
	char why[PATH_MAX + 128];
	int nr_gils;

	nr_gils = pygil_find_gils(pid, t->path, t->cond_offset, gils, MAX_GILS_SEEN, why,
				  sizeof(why));
	if (nr_gils <= 0) {
		/* a layout this gilstat does not know, or a process still starting */
		if (!nr_gils && t->major)
			fprintf(stderr,
				"gilstat: %s (CPython %d.%d: a GIL laid out as in 3.8-3.15 "
				"was looked for; run the command under gilstat instead)\n",
				why, t->major, t->minor);
		else
			fprintf(stderr, "gilstat: %s\n", why);
		return nr_gils ?: -ENOENT;
	}
	for (int i = 0; i < nr_gils; i++) {
		int err = tracer_register_gil(tr, pid, gils[i], t->cond_offset);

		if (err) {
			fprintf(stderr, "gilstat: cannot record the GIL at 0x%llx: %s\n",
				(unsigned long long)gils[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

static int attach_condvar(struct tracer *tr, pid_t pid, const struct py_target *t, bool running)
{
	struct condvar_sites cs[5];
	int nr = condvar_sites_of(&t->libc, cs), err = 0;

	if (running)
		err = register_running_gils(tr, pid, t);
	for (int i = 0; i < nr && !err; i++)
		err = attach_uprobes(tr, cs[i].prog, pid, t->libc.path, cs[i].sites, cs[i].nr,
				     cs[i].retprobe);
	return err;
}

static int attach_symbols(struct tracer *tr, pid_t pid, const struct py_target *t)
{
	return attach_uprobes(tr, "py_acquire_entry", pid, t->path, t->acquire, t->nr_acquire,
			      false) ?:
	       attach_uprobes(tr, "py_acquire_return", pid, t->path, t->acquire, t->nr_acquire,
			      true) ?:
	       attach_uprobes(tr, "py_release", pid, t->path, t->release, t->nr_release, false) ?:
	       attach_uprobes(tr, "py_forced", pid, t->path, t->forced, t->nr_forced, false);
}

static int attach_sched(struct tracer *tr)
{
	const struct tracer_mode_desc *m = &modes[TRACER_SCHED];
	int err = 0;

	if (!(tr->modes & (1u << TRACER_SCHED)))
		return 0;
	for (int i = 0; i < MODE_MAX_PROGS && m->progs[i] && !err; i++)
		err = attach_tracepoint(tr, m->progs[i], m->what);
	return err;
}

int tracer_attach(struct tracer *tr, const struct traced *t)
{
	int err;

	if (tr->modes & (1u << TRACER_LIBGIL))
		err = attach_libgil(tr, t->pid, t->probe_path);
	else if (tr->modes & (1u << TRACER_PY_CONDVAR))
		err = attach_condvar(tr, t->pid, &t->py, !t->child.pid);
	else
		err = attach_symbols(tr, t->pid, &t->py);
	/* Whatever the options: the report must say when the target forked children it ignores. */
	return err ?: attach_sched(tr) ?:
		      attach_tracepoint(tr, "gil_fork", "task_newtask tracepoint") ?:
		      attach_tracepoint(tr, "gil_thread_exit", "sched_process_exit tracepoint");
}

int tracer_attach_fleet(struct tracer *tr)
{
	return attach_sched(tr) ?:
	       attach_tracepoint(tr, "gil_exec", "sched_process_exec tracepoint") ?:
	       attach_tracepoint(tr, "gil_fork", "task_newtask tracepoint") ?:
	       attach_tracepoint(tr, "gil_thread_exit", "sched_process_exit tracepoint");
}

int tracer_attach_libgil_file(struct tracer *tr, const char *path, struct probe_link links[3])
{
	for (int i = 0; i < NR_LIBGIL_PROBES; i++) {
		int err = attach_libgil_multi(tr, i, 0, path, &links[i]);

		if (err) {
			links_destroy(links, i);
			return err;
		}
	}
	return 0;
}

int tracer_attach_condvar_multi(struct tracer *tr, pid_t pid, const struct py_libc *c, int *fds,
				int *nr)
{
	struct condvar_sites cs[5];
	int nr_cs = condvar_sites_of(c, cs);

	for (int i = 0; i < nr_cs; i++) {
		int fd;

		if (!cs[i].fleet || !cs[i].nr)
			continue;
		if (*nr == TRACER_MAX_MULTI_LINKS)
			return -E2BIG;
		fd = sites_link(tr, cs[i].prog, pid, c->path, cs[i].sites, cs[i].nr, cs[i].retprobe);
		if (fd < 0)
			return fd;
		fds[(*nr)++] = fd;
	}
	return 0;
}

void tracer_free(struct tracer *tr)
{
	links_destroy(tr->links, tr->nr_links);
	tr->nr_links = 0;
	gilstat_bpf__destroy(tr->skel);
	tr->skel = NULL;
}
