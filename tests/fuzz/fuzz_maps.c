// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/PID/maps (procfs.c), as a user shapes it with the paths of the files they map: read held
 * (proc_maps_hold) and not, whole (proc_read_maps). Besides what the sanitizers catch, every
 * mapping the parser reports must be one whole line of the input: a long line must never be split
 * into a second, forged mapping.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "procfs.h"

struct lines {
	const uint8_t *data;
	size_t size;
	int reported;
};

/* Whether a whole line of the input starts with m's START-END and holds m's name. */
static bool is_whole_line(const struct lines *l, const struct proc_mapping *m)
{
	char *line = malloc(l->size + 1), *end;
	bool found = false;

	for (size_t i = 0; i < l->size && !found;) {
		const uint8_t *nl = memchr(l->data + i, '\n', l->size - i);
		size_t len = nl ? (size_t)(nl - (l->data + i)) : l->size - i;

		memcpy(line, l->data + i, len);
		line[len] = '\0';
		found = strtoul(line, &end, 16) == m->start && *end == '-' &&
			strtoul(end + 1, NULL, 16) == m->end && strstr(line, m->name);
		i += len + 1;
	}
	free(line);
	return found;
}

static bool check_each(const struct proc_mapping *m, void *ctx)
{
	struct lines *l = ctx;

	l->reported++;
	if (m->name[0] != '/' || strchr(m->name, '\n')) {
		fprintf(stderr, "fuzz_maps: mapping named \"%s\"\n", m->name);
		abort();
	}
	if (memchr(l->data, '\0', l->size))
		return false; /* text with a NUL in it is no maps file: no line oracle */
	if (!is_whole_line(l, m)) {
		fprintf(stderr, "fuzz_maps: mapping %lx-%lx of no whole input line: %s\n", m->start,
			m->end, m->name);
		abort();
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lines l = {data, size, 0};
	struct proc_mapping *m = malloc(sizeof(*m));
	unsigned long opens = fuzz_proc_opens;
	size_t len;
	char *text;

	fuzz_proc_write("maps", data, size);
	/* straight from the file, then from the held copy: the two paths of proc_find_mapping() */
	proc_find_mapping(FUZZ_PID, check_each, &l, m);
	proc_maps_hold(FUZZ_PID);
	proc_find_mapping(FUZZ_PID, check_each, &l, m);
	proc_find_inode(FUZZ_PID, 1, true, m);
	proc_maps_release();
	text = proc_read_maps(FUZZ_PID, &len);
	fuzz_require(!text || len <= size, "proc_read_maps()");
	free(text);
	fuzz_require(fuzz_proc_opens > opens, "the maps readers of procfs.c");
	free(m);
	return 0;
}
