/*
 * milter-threads.h - the thread cache compiled into libmilter
 * (milter-threads.c).  libmilter.mk compiles libmilter's sources with
 * pthread_create and pthread_detach renamed to these two; nothing else
 * calls them but the unit test.
 */
#ifndef MILTER_THREADS_H
#define MILTER_THREADS_H

#include <pthread.h>

/* Threads kept waiting for the next session, at most. */
#define IDLE_THREADS	32

int thread_cache_create(pthread_t *tid, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg);
int thread_cache_detach(pthread_t tid);
/* Threads waiting for work now: for the tests. */
unsigned thread_cache_idle(void);

#endif
