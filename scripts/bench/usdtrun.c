// SPDX-License-Identifier: GPL-2.0
/*
 * usdtrun: runs a command with one of floor.bpf.c's programs attached to some of its USDT probes,
 * attached before the command starts so that no hit is missed. With the empty program a hit costs
 * what the uprobe costs and nothing more: the floor any USDT tracer stands on. With -c the program
 * counts its hits, which are printed as one JSON line after the command's own output. With -a it
 * fetches the probe's arguments and does nothing with them. With -u the sites are plain uprobes
 * at file offsets, any instruction of any file: what a uprobe costs on a call, a push, a nop.
 * With -s it prints, once the command ended, the kernel's run count and run time of the program
 * (kernel.bpf_stats_enabled=1): read while usdtrun still holds it, however short the command.
 *
 * Usage: usdtrun [-s] [-c | -a] [-b FILE] PROVIDER:NAME[,PROVIDER:NAME...] -- COMMAND [ARGS...]
 *        usdtrun [-s] -u [-c] FILE:OFFSET[,FILE:OFFSET...] -- COMMAND [ARGS...]
 *   -c       count the hits
 *   -a       fetch every argument
 *   -b FILE  the file whose probes to attach to (default: the command's executable)
 *   -u       uprobes at FILE:OFFSET (a file offset, 0x... or decimal)
 *   -s       print the program's run count and time as bpfstats.py does, under its name
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "command.h"
#include "floor.skel.h"
#include "target.h"

#define MAX_PROBES 64

static int usage(void)
{
	fprintf(stderr, "usage: usdtrun [-s] [-c | -a] [-b FILE] PROVIDER:NAME[,PROVIDER:NAME...] -- "
			"COMMAND [ARGS...]\n"
			"       usdtrun [-s] -u [-c] FILE:OFFSET[,FILE:OFFSET...] -- COMMAND [ARGS...]\n");
	return 2;
}

/* The program's run count and time, as scripts/bench/bpfstats.py prints them for a process. */
static int print_run_stats(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err;

	err = bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
	if (err) {
		fprintf(stderr, "usdtrun: cannot read the program's run stats: %s\n", strerror(-err));
		return err;
	}
	printf("{\"%s\": {\"run_cnt\": %llu, \"run_time_ns\": %llu, \"ns_per_run\": ", info.name,
	       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns);
	if (info.run_cnt)
		printf("%.1f}}\n", (double)info.run_time_ns / info.run_cnt);
	else
		printf("null}}\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_PROBES] = {};
	struct child child = { .go_fd = -1, .error_fd = -1 };
	char exe[PATH_MAX], *probes, *probe, *save;
	const char *binary = NULL;
	struct bpf_program *prog;
	struct floor_bpf *skel;
	bool count = false, fetch_args = false, raw = false, run_stats = false;
	int opt, err, status, nr_links = 0;

	while ((opt = getopt(argc, argv, "+cab:us")) != -1) {
		switch (opt) {
		case 's':
			run_stats = true;
			break;
		case 'u':
			raw = true;
			break;
		case 'c':
			count = true;
			break;
		case 'a':
			fetch_args = true;
			break;
		case 'b':
			binary = optarg;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 2 || (count && fetch_args) || (raw && fetch_args))
		return usage();
	probes = argv[optind++];
	if (!strcmp(argv[optind], "--") && ++optind == argc)
		return usage();
	if (command_lookup(argv[optind], exe, sizeof(exe))) {
		fprintf(stderr, "usdtrun: %s: command not found\n", argv[optind]);
		return 127;
	}
	if (!binary)
		binary = exe;

	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "usdtrun: failed to open BPF object: %s\n", strerror(errno));
		return 1;
	}
	prog = count ? skel->progs.count : fetch_args ? skel->progs.args : skel->progs.empty;
	bpf_program__set_autoload(skel->progs.empty, prog == skel->progs.empty);
	bpf_program__set_autoload(skel->progs.count, prog == skel->progs.count);
	bpf_program__set_autoload(skel->progs.args, prog == skel->progs.args);
	err = floor_bpf__load(skel);
	if (err) {
		fprintf(stderr, "usdtrun: failed to load BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	err = child_fork(&child, &argv[optind]);
	if (err) {
		fprintf(stderr, "usdtrun: cannot start %s: %s\n", argv[optind], strerror(-err));
		goto cleanup;
	}
	for (probe = strtok_r(probes, ",", &save); probe; probe = strtok_r(NULL, ",", &save)) {
		char *name = strrchr(probe, ':'), *end;
		unsigned long offset = 0;

		if (!name || nr_links == MAX_PROBES) {
			err = -EINVAL;
			fprintf(stderr, "usdtrun: bad probe list (at most %d %s)\n", MAX_PROBES,
				raw ? "FILE:OFFSET" : "PROVIDER:NAME");
			goto cleanup;
		}
		*name++ = '\0';
		if (raw) {
			offset = strtoul(name, &end, 0);
			if (*end || end == name) {
				err = -EINVAL;
				fprintf(stderr, "usdtrun: bad offset '%s'\n", name);
				goto cleanup;
			}
			links[nr_links] = bpf_program__attach_uprobe(prog, false, child.pid, probe,
								     offset);
		} else {
			links[nr_links] =
				bpf_program__attach_usdt(prog, child.pid, binary, probe, name, NULL);
		}
		if (!links[nr_links]) {
			err = -errno;
			fprintf(stderr, "usdtrun: cannot attach to %s:%s in %s: %s\n", probe, name,
				binary, strerror(-err));
			goto cleanup;
		}
		nr_links++;
	}
	err = child_start(&child);
	if (err) {
		fprintf(stderr, "usdtrun: cannot run %s: %s\n", argv[optind], strerror(-err));
		goto cleanup;
	}
	if (waitpid(child.pid, &status, 0) != child.pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		err = -ECHILD;
		fprintf(stderr, "usdtrun: %s failed\n", argv[optind]);
		goto cleanup;
	}
	child.pid = 0;
	if (count) {
		fflush(stdout);
		printf("{\"hits\": %llu}\n", (unsigned long long)skel->bss->hits);
	}
	if (run_stats) {
		fflush(stdout);
		err = print_run_stats(prog);
	}

cleanup:
	/* A child that was never started reads EOF and exits on its own. */
	if (child.go_fd >= 0)
		close(child.go_fd);
	if (child.pid > 0)
		waitpid(child.pid, &status, 0);
	for (int i = 0; i < nr_links; i++)
		bpf_link__destroy(links[i]);
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
