/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Native frames named by libdwfl from a copy of a process's /proc/PID/maps, taken while it runs,
 * so that a report made after its exit still names them.
 */
#ifndef GILSTAT_SYMBOLIZER_H
#define GILSTAT_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

struct Dwfl;

/* Zeroed: no maps read yet. */
struct symbolizer {
	char *maps;	  /* the latest /proc/PID/maps the process had */
	struct Dwfl *dwfl; /* built from maps */
};

/*
 * The maps of pid read again, libdwfl's view rebuilt when they changed: true then (an exec, a
 * library loaded). An ended process (a zombie, no maps) keeps the copy.
 */
bool symbolizer_refresh(struct symbolizer *sz, pid_t pid);
/*
 * The function at ip into func, and with file its source file:line when the debug information
 * has them (else its module). A return address is looked up one byte before: the call's line.
 */
void symbolizer_name(const struct symbolizer *sz, __u64 ip, bool return_address, char *func,
		     size_t len, char *file, size_t file_len, int *line);
void symbolizer_free(struct symbolizer *sz);

#endif
