// SPDX-License-Identifier: GPL-2.0
/*
 * A deliberate data race, for tests/racecheck.sh: two threads add to one counter with no lock.
 * The race detectors must report it, or a clean report of libgil would prove nothing.
 */
#include <pthread.h>
#include <stdio.h>

#define ADDS_PER_THREAD 1000

static long shared_count;

static void *add(void *arg)
{
	for (int i = 0; i < ADDS_PER_THREAD; i++)
		shared_count++;
	return NULL;
}

int main(void)
{
	pthread_t threads[2];

	for (int i = 0; i < 2; i++)
		if (pthread_create(&threads[i], NULL, add, NULL)) {
			perror("racy: pthread_create");
			return 1;
		}
	for (int i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	printf("%ld\n", shared_count);
	return 0;
}
