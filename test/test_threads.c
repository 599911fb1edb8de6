/*
 * test_threads.c - cmocka tests of milter-threads.c, the thread cache
 * libmilter's sessions run on: every job runs, on a thread of its own
 * when the others are busy; an ended job's thread runs the next one; no
 * more than IDLE_THREADS wait; a cached thread's detach of itself is
 * harmless.  Every wait is bounded (WAIT_S).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "milter-threads.h"

#define WAIT_S	10
#define MANY	(IDLE_THREADS + 8)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned started, finished;
static int release;		/* jobs that block wait for this */
static pthread_t ran_on[MANY];
static int detach_rc[MANY];

static void
reset(void)
{
	pthread_mutex_lock(&mu);
	started = finished = 0;
	release = 0;
	memset(ran_on, 0, sizeof(ran_on));
	memset(detach_rc, -1, sizeof(detach_rc));
	pthread_mutex_unlock(&mu);
}

static struct timespec
deadline(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_S;
	return ts;
}

/* A job: records its thread, detaches itself as libmilter's session
 * does, and waits for release when asked to block. */
static void *
job(void *arg)
{
	uintptr_t i = (uintptr_t)arg & 0xffff;
	int block = ((uintptr_t)arg >> 16) != 0;
	struct timespec ts = deadline();

	pthread_mutex_lock(&mu);
	ran_on[i] = pthread_self();
	detach_rc[i] = thread_cache_detach(pthread_self());
	started++;
	pthread_cond_broadcast(&cv);
	while (block && !release)
		if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT)
			break;
	finished++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *
arg_of(unsigned i, int block)
{
	return (void *)(((uintptr_t)(block != 0) << 16) | i);
}

/* Wait until *COUNTER reaches N; 0 when it did in time. */
static int
wait_count(unsigned *counter, unsigned n)
{
	struct timespec ts = deadline();
	int rc = 0;

	pthread_mutex_lock(&mu);
	while (*counter < n && rc == 0)
		rc = pthread_cond_timedwait(&cv, &mu, &ts);
	rc = *counter >= n ? 0 : -1;
	pthread_mutex_unlock(&mu);
	return rc;
}

/* Wait until N threads are idle in the cache (a job's thread goes idle
 * just after the job returns). */
static int
wait_idle(unsigned n)
{
	int k;

	for (k = 0; k < WAIT_S * 1000; k++) {
		if (thread_cache_idle() == n)
			return 0;
		usleep(1000);
	}
	return -1;
}

static void
test_sequential_reuse(void **state)
{
	pthread_t tid;
	unsigned i, base;

	(void)state;
	reset();
	base = thread_cache_idle();
	for (i = 0; i < 5; i++) {
		assert_int_equal(thread_cache_create(&tid, NULL, job, arg_of(i, 0)), 0);
		assert_int_equal(wait_count(&finished, i + 1), 0);
		assert_int_equal(wait_idle(base > 0 ? base : 1), 0);
		/* the job has ended: ran_on[] and detach_rc[] stay as they are */
		assert_true(pthread_equal(tid, ran_on[i]));
		assert_int_equal(detach_rc[i], 0);
	}
	/* one job after the other: the same thread each time */
	for (i = 1; i < 5; i++)
		assert_true(pthread_equal(ran_on[0], ran_on[i]));
}

static void
test_concurrent_own_threads(void **state)
{
	pthread_t tid;
	unsigned i, j, done, same = 0;

	(void)state;
	reset();
	for (i = 0; i < MANY; i++)
		assert_int_equal(thread_cache_create(&tid, NULL, job, arg_of(i, 1)), 0);
	/* all run at once, none waits for another to end */
	assert_int_equal(wait_count(&started, MANY), 0);
	pthread_mutex_lock(&mu);
	done = finished;
	for (i = 0; i < MANY; i++)
		for (j = i + 1; j < MANY; j++)
			same += pthread_equal(ran_on[i], ran_on[j]) != 0;
	release = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	assert_int_equal(done, 0);
	assert_int_equal(same, 0);
	assert_int_equal(wait_count(&finished, MANY), 0);
	/* the rest end; IDLE_THREADS wait */
	assert_int_equal(wait_idle(IDLE_THREADS), 0);
	usleep(100 * 1000);
	assert_int_equal(thread_cache_idle(), IDLE_THREADS);
}

static void
test_idle_ones_serve_a_burst(void **state)
{
	pthread_t tid;
	unsigned i, idle_then;

	(void)state;
	reset();
	assert_int_equal(wait_idle(IDLE_THREADS), 0);
	for (i = 0; i < MANY; i++)
		assert_int_equal(thread_cache_create(&tid, NULL, job, arg_of(i, 1)), 0);
	assert_int_equal(wait_count(&started, MANY), 0);
	/* every waiting thread took a job, more were started */
	idle_then = thread_cache_idle();
	pthread_mutex_lock(&mu);
	release = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	assert_int_equal(idle_then, 0);
	assert_int_equal(wait_count(&finished, MANY), 0);
	assert_int_equal(wait_idle(IDLE_THREADS), 0);
}

/* With attributes of its own, a thread is started as asked and never
 * cached: the number waiting stays. */
static void
test_attr_passes_through(void **state)
{
	pthread_attr_t attr;
	pthread_t tid;
	unsigned before;

	(void)state;
	reset();
	before = thread_cache_idle();
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_JOINABLE), 0);
	assert_int_equal(thread_cache_create(&tid, &attr, job, arg_of(0, 0)), 0);
	pthread_attr_destroy(&attr);
	assert_int_equal(wait_count(&finished, 1), 0);
	usleep(100 * 1000);
	assert_int_equal(detach_rc[0], 0);
	assert_int_equal(thread_cache_idle(), before);
}

/* A thread the cache did not start is detached for real. */
static void
test_detach_uncached(void **state)
{
	pthread_t tid;
	int rc;

	(void)state;
	reset();
	assert_int_equal(pthread_create(&tid, NULL, job, arg_of(1, 1)), 0);
	assert_int_equal(wait_count(&started, 1), 0);
	pthread_mutex_lock(&mu);
	rc = detach_rc[1];
	release = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	assert_int_equal(rc, 0);
	assert_int_equal(wait_count(&finished, 1), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* first, while no thread waits: one cached would show */
		cmocka_unit_test(test_attr_passes_through),
		cmocka_unit_test(test_sequential_reuse),
		cmocka_unit_test(test_concurrent_own_threads),
		cmocka_unit_test(test_idle_ones_serve_a_burst),
		cmocka_unit_test(test_detach_uncached),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
