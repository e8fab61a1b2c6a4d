/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the harnesses share. Each parser reads a file that a local user chooses: the harness writes
 * the input to such a file in a private directory and calls the parser's own entry point on it.
 * Parsers that read /proc/PID/... are given FUZZ_PID: open() and fopen() of "/proc/FUZZ_PID/X" are
 * redirected (ld --wrap) to the file X of the private directory, so that the code under test is
 * the code gilstat runs, reading what the input says.
 */
#ifndef GILSTAT_FUZZ_H
#define GILSTAT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* above any pid_max: no real process has it */
#define FUZZ_PID 2147483600

/* The private directory (created on first use, removed at exit). */
const char *fuzz_dir(void);
/* Writes data to NAME in the private directory, replacing it; its path. Aborts on error. */
const char *fuzz_write(const char *name, const uint8_t *data, size_t size);
/* Writes data as /proc/FUZZ_PID/WHAT. */
void fuzz_proc_write(const char *what, const uint8_t *data, size_t size);
/* How many times the code under test opened a /proc/FUZZ_PID file: proof the harness reaches it. */
extern unsigned long fuzz_proc_opens;
/* Aborts with a message when the parser under test was not reached: a harness must fail loudly. */
void fuzz_require(int reached, const char *what);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
