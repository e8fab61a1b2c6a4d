// SPDX-License-Identifier: GPL-2.0
/*
 * --stacks (stacks.c) names what the BPF side recorded: stack ids, instruction pointers, Python
 * code object addresses and depths, thread names. A traced process shapes all of them (its stack
 * contents, its frame chain, its comm), so the harness fills the four maps from the input, as
 * real BPF hash maps (root), and has this process stand for the target: its maps and memory are
 * what the addresses are looked up in. Input: a depth byte, then records of a type byte and its
 * fields (see the readers below).
 */
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "gilstat.h"
#include "json.h"
#include "pygil.h"
#include "stacks.h"

struct input {
	const uint8_t *p;
	size_t left;
};

/* n bytes of the input into out, zeros past its end; false once it is used up */
static bool take(struct input *in, void *out, size_t n)
{
	size_t got = n < in->left ? n : in->left;

	memset(out, 0, n);
	memcpy(out, in->p, got);
	in->p += got;
	in->left -= got;
	return got > 0;
}

static int new_map(const char *name, size_t key, size_t value)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, key, value, 256, NULL);

	if (fd < 0) {
		perror("fuzz_stacks: bpf_map_create (needs root)");
		exit(1);
	}
	return fd;
}

static void fill(struct input *in, const struct stacks_opts *o)
{
	__u64 ips[STACK_MAX_DEPTH + 1];
	uint8_t type, count;

	while (take(in, &type, 1)) {
		switch (type % 4) {
		case 0: {
			struct stack_key k;
			struct stack_stats st;

			take(in, &k, sizeof(k));
			take(in, &st, sizeof(st));
			bpf_map_update_elem(o->waits_fd, &k, &st, BPF_ANY);
			break;
		}
		case 1: {
			__s32 id;

			take(in, &id, sizeof(id));
			take(in, &count, 1);
			memset(ips, 0, sizeof(ips));
			take(in, ips, (count % (o->depth + 2)) * sizeof(__u64));
			bpf_map_update_elem(o->stacks_fd, &id, ips, BPF_ANY);
			break;
		}
		case 2: {
			struct py_stack ps = {};
			__u64 key;

			take(in, &key, sizeof(key));
			take(in, &ps.depth, sizeof(ps.depth));
			take(in, &ps.flags, sizeof(ps.flags));
			take(in, &count, 1);
			take(in, ps.code, (count % (PY_MAX_FRAMES + 1)) * sizeof(__u64));
			bpf_map_update_elem(o->py_stacks_fd, &key, &ps, BPF_ANY);
			break;
		}
		default: {
			struct task_comm c;
			__u64 id;

			take(in, &id, sizeof(id));
			take(in, &c, sizeof(c));
			bpf_map_update_elem(o->comm_fd, &id, &c, BPF_ANY);
			break;
		}
		}
	}
}

static void report(struct stacks *s, FILE *out)
{
	struct json j;

	stacks_print_text(s, out, "us");
	json_init(&j, out);
	json_object_begin(&j, NULL);
	stacks_print_json(s, &j);
	json_object_end(&j);
	stacks_write_folded(s, out);
	stacks_write_flamegraph(s, out, "fuzz");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *out;
	static struct py_layout layout;
	struct input in = {data, size};
	struct stacks_opts o = {.pid = getpid(), .unit_ns = 1000};
	struct stacks *s;
	uint8_t head = 0;
	char why[256];

	if (!out) {
		out = fopen("/dev/null", "we");
		if (!out || pygil_layout_for(3, 12, "", &layout, why, sizeof(why)))
			abort();
	}
	take(&in, &head, 1);
	o.depth = 1 + head % STACK_MAX_DEPTH;
	o.py = head & 0x80 ? &layout : NULL;
	o.waits_fd = new_map("waits", sizeof(struct stack_key), sizeof(struct stack_stats));
	o.stacks_fd = new_map("stacks", sizeof(__s32), (o.depth + 1) * sizeof(__u64));
	o.py_stacks_fd = new_map("py_stacks", sizeof(__u64), sizeof(struct py_stack));
	o.comm_fd = new_map("comms", sizeof(__u64), sizeof(struct task_comm));
	fill(&in, &o);
	s = stacks_new(&o);
	fuzz_require(s != NULL, "stacks_new()");
	stacks_refresh(s);
	stacks_read(s);
	stacks_set_errors(s, head, size);
	report(s, out);
	/* a second read: the print then covers the difference from the first */
	stacks_read(s);
	report(s, out);
	stacks_free(s);
	close(o.waits_fd);
	close(o.stacks_fd);
	close(o.py_stacks_fd);
	close(o.comm_fd);
	return 0;
}
