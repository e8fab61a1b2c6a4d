// SPDX-License-Identifier: GPL-2.0
/* Threads that close BPF link descriptors, so that their grace periods are waited for together. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "reaper.h"

void reaper_init(struct reaper *r)
{
	*r = (struct reaper){};
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->more, NULL);
}

/*
 * A thread with every signal blocked: the stop signals must reach the thread that sleeps in
 * ppoll() (session.c), which a thread made while they are open could otherwise take and keep.
 */
static int spawn(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void *reap(void *arg)
{
	struct reaper *r = arg;
	int link;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->nr && !r->stop)
			pthread_cond_wait(&r->more, &r->lock);
		if (!r->nr)
			break;
		link = r->queue[--r->nr];
		r->busy++;
		pthread_mutex_unlock(&r->lock);
		close(link);
		pthread_mutex_lock(&r->lock);
		r->busy--;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Hands link to the reapers; closed at once if there are none. */
void reaper_add(struct reaper *r, int link)
{
	int *grown;

	pthread_mutex_lock(&r->lock);
	if (r->nr_threads < NR_REAPERS &&
	    !spawn(&r->threads[r->nr_threads], reap, r))
		r->nr_threads++;
	if (r->nr == r->cap) {
		grown = realloc(r->queue, (r->cap = r->cap ? 2 * r->cap : 64) * sizeof(*grown));
		if (grown)
			r->queue = grown;
		else
			r->cap = r->nr;
	}
	if (r->nr < r->cap && r->nr_threads) {
		r->queue[r->nr++] = link;
		link = -1;
		pthread_cond_signal(&r->more);
	}
	pthread_mutex_unlock(&r->lock);
	if (link >= 0)
		close(link);
}

/* Waits until every link handed over is closed. */
void reaper_stop(struct reaper *r)
{
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->more);
	pthread_mutex_unlock(&r->lock);
	for (int i = 0; i < r->nr_threads; i++)
		pthread_join(r->threads[i], NULL);
	free(r->queue);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->more);
}

size_t reaper_pending(struct reaper *r)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->nr + r->busy;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void *destroy_one(void *arg)
{
	struct probe_link *l = arg;

	if (l->bpf)
		bpf_link__destroy(l->bpf);
	else
		close(l->fd);
	return NULL;
}

void links_destroy(struct probe_link *links, size_t nr)
{
	pthread_t *threads = calloc(nr, sizeof(*threads));
	bool *started = calloc(nr, sizeof(*started));

	for (size_t i = 0; i < nr; i++) {
		if (!links[i].bpf && links[i].fd < 0)
			continue;
		/* without a thread (or the memory for one), at once: slower, never left attached */
		if (threads && started && !spawn(&threads[i], destroy_one, &links[i]))
			started[i] = true;
		else
			destroy_one(&links[i]);
	}
	for (size_t i = 0; i < nr; i++) {
		if (threads && started && started[i])
			pthread_join(threads[i], NULL);
		links[i] = (struct probe_link){.fd = -1};
	}
	free(threads);
	free(started);
}
