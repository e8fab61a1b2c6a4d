// SPDX-License-Identifier: GPL-2.0
/*
 * gilstat: per-core histograms of GIL wait, hold and handoff times and GIL switch counts, from
 * the gil:* USDT probes of libgil and the scheduler's tracepoints, aggregated in the kernel.
 *
 * main() only strings the layers together (docs/design.md): the options (options.h), what is
 * traced (traced.h), the BPF object (tracer.h), and the session that loops and reports
 * (session.h).
 */
#include "options.h"
#include "session.h"
#include "traced.h"
#include "tracer.h"

int main(int argc, char **argv)
{
	static struct options opts;
	static struct traced traced;
	struct tracer tracer = {};
	struct session session;
	int code;

	code = options_parse(&opts, argc, argv) ?: options_check(&opts);
	if (code)
		return code;
	code = session_open(&session, &opts);
	if (code)
		return code;
	if (session_check_privileges())
		return 1;
	if (opts.all) {
		code = tracer_open_fleet(&tracer, &opts) ? 1 : session_run_fleet(&session, &tracer);
		tracer_free(&tracer);
		return session_close(&session, NULL, code);
	}
	code = traced_resolve(&traced, &opts);
	if (code >= 0)
		return code;
	code = tracer_open(&tracer, &opts, &traced) ? 1 : session_run(&session, &tracer, &traced);
	tracer_free(&tracer);
	return session_close(&session, &traced, code);
}
