/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A cmocka test skipped with its reason, in the classes tests/run.sh reads: something this
 * machine should have (a tool the deps step installs, a build the machine's pyenv should hold)
 * fails the run, what it cannot have does not. Include after <cmocka.h>.
 */
#ifndef GILSTAT_TESTS_SKIP_H
#define GILSTAT_TESTS_SKIP_H

#include <stdarg.h>

#define SHOULD_HAVE_RUN "should have run"
#define CANNOT_HERE	"cannot here"

static inline void skip_because(const char *class, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message("# SKIP %s: ", class);
	vprint_message(fmt, ap);
	print_message("\n");
	va_end(ap);
	skip();
}

#endif
