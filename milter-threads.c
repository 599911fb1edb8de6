/*
 * milter-threads.c - a cache of threads for libmilter's thread per
 * connection.
 *
 * libmilter (without _FFR_WORKERS_POOL, as libmilter.mk builds it)
 * starts a thread for each connection, which detaches itself and ends
 * with the session.  Under musl that is costly: musl gives every thread
 * a fresh mapping for its stack and unmaps it at the end, so each
 * connection pays for the mapping, the page faults of every stack page it
 * touches and the unmapping (bench/README: per transaction 3.5 page
 * faults against 0.15 with this cache, and about a third of the CPU).
 * glibc keeps the stacks of ended threads, but still creates a thread.
 *
 * Here a thread whose session ended waits, up to IDLE_THREADS of them,
 * to run the next one.  Each session still gets a thread of its own at
 * once: when none waits, one is started as before, so a burst of slow
 * sessions never queues behind another (the reason libmilter.mk leaves
 * the worker pool out).
 *
 * libmilter.mk compiles libmilter with pthread_create and pthread_detach
 * renamed to the two functions below and puts this file in the same
 * archive; spf-milter's own code, and a system libmilter, call the C
 * library's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "milter-threads.h"

struct worker {
	pthread_t tid;
	pthread_cond_t wake;
	void *(*fn)(void *);	/* the job; NULL while waiting */
	void *arg;
	struct worker *next;	/* in the idle list */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct worker *idle;	/* waiting, the last to finish first */
static unsigned nidle;
/* This thread is a cached worker: libmilter's detach of itself is a
 * no-op, as the worker was detached when it started. */
static _Thread_local int cached;

static void *
worker_main(void *p)
{
	struct worker *w = p;

	cached = 1;
	pthread_detach(pthread_self());
	for (;;) {
		(void)w->fn(w->arg);
		pthread_mutex_lock(&lock);
		if (nidle >= IDLE_THREADS) {
			pthread_mutex_unlock(&lock);
			break;
		}
		w->fn = NULL;
		w->arg = NULL;
		w->next = idle;
		idle = w;
		nidle++;
		while (w->fn == NULL)
			pthread_cond_wait(&w->wake, &lock);
		pthread_mutex_unlock(&lock);
	}
	pthread_cond_destroy(&w->wake);
	free(w);
	return NULL;
}

/* As pthread_create(); a thread asked for with attributes of its own is
 * started as asked, never cached. */
int
thread_cache_create(pthread_t *tid, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	struct worker *w;
	int err;

	if (attr != NULL)
		return pthread_create(tid, attr, fn, arg);
	pthread_mutex_lock(&lock);
	if ((w = idle) != NULL) {
		idle = w->next;
		nidle--;
		w->next = NULL;
		w->fn = fn;
		w->arg = arg;
		*tid = w->tid;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&lock);
		return 0;
	}
	pthread_mutex_unlock(&lock);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return EAGAIN;
	if ((err = pthread_cond_init(&w->wake, NULL)) != 0) {
		free(w);
		return err;
	}
	w->fn = fn;
	w->arg = arg;
	/* under the lock: W->tid is read there once the worker is idle */
	pthread_mutex_lock(&lock);
	err = pthread_create(&w->tid, NULL, worker_main, w);
	if (err == 0)
		*tid = w->tid;
	pthread_mutex_unlock(&lock);
	if (err != 0) {
		pthread_cond_destroy(&w->wake);
		free(w);
	}
	return err;
}

/* As pthread_detach(); a cached worker detaching itself is detached. */
int
thread_cache_detach(pthread_t tid)
{
	if (cached && pthread_equal(tid, pthread_self()))
		return 0;
	return pthread_detach(tid);
}

unsigned
thread_cache_idle(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = nidle;
	pthread_mutex_unlock(&lock);
	return n;
}
