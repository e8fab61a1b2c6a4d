// SPDX-License-Identifier: GPL-2.0
/*
 * A harness without libFuzzer: each file named is given to LLVMFuzzerTestOneInput once, in order,
 * with "PASS FILE" on stdout after it returns. A crash ends the process (the sanitizers' report is
 * on stderr); an input that runs for more than REPLAY_TIMEOUT_SEC ends it by SIGALRM. tests/fuzz.sh
 * tells which file it was from the last PASS line, and goes on with the next one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

#define REPLAY_TIMEOUT_SEC 5

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *data;
		long size;

		if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			return 2;
		}
		/* a copy of its exact size: ASan sees a read past the input's end */
		data = malloc(size ? size : 1);
		if (!data || fread(data, 1, size, f) != (size_t)size) {
			fprintf(stderr, "replay: cannot read %s\n", argv[i]);
			return 2;
		}
		fclose(f);
		alarm(REPLAY_TIMEOUT_SEC);
		LLVMFuzzerTestOneInput(data, size);
		alarm(0);
		free(data);
		printf("PASS %s\n", argv[i]);
		fflush(stdout);
	}
	return 0;
}
