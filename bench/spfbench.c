/*
 * spfbench.c - how fast the evaluator is and how much memory one
 * evaluation takes.
 *
 * Part 1, in memory: evaluations per second of spf_check() for the
 * realistic records of bench/zone.txt (a flat record, a three-level include
 * tree with many netblocks, a macro exists, a and mx with three MX hosts,
 * a redirect) against an in-memory resolver that answers from the same
 * zone file (test/memres.c); for each, the peak heap an evaluation holds (every calloc,
 * malloc, realloc and free of the evaluator is counted through the
 * linker's --wrap) and the stack it uses (measured on a painted stack).
 *
 * Part 2, over the network (-s ADDR:PORT -L QUERYLOG): the wall time of
 * one evaluation of the include tree through the real resolver (dns.c)
 * against test/dnsserver.py started with --delay and --log, and the number
 * of sequential round trips it took, read from the server's query log:
 * questions that arrive while earlier ones are still delayed belong to
 * the same round trip.
 *
 * With -P THREADS, the same evaluation then runs in a loop for -T seconds
 * in one thread and in THREADS threads at once (one resolver each, as in
 * the milter), giving p50/p99 of both: the cost of waiting on each other
 * without libmilter in the way.
 *
 *   spfbench [-z ZONE] [-t MS_PER_CASE]
 *            [-s 127.0.0.1:PORT -L LOG -d MS [-P THREADS -T SECONDS]]
 *
 * Output: a table on stdout and one key=value line per figure.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../spf.h"
#include "../dns.h"
#include "../conf.h"	/* conf_parse_server(): -s as dns_servers has it */
#include "memres.h"

#define MAX_EVALS	2000000L
#define STACK_SIZE	(512 * 1024)
#define STACK_PAINT	0xa5
#define MAX_LOG_LINES	10000
#define MAX_PAR		64
#define MAX_PAR_EVALS	200000

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("spfbench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* ------------------------------------------- heap accounting (--wrap) */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

/* Only the thread that evaluates touches these, one evaluation at a time. */
static int heap_tracking;
static long heap_live, heap_peak, heap_allocs;

static void
heap_add(void *p)
{
	if (!heap_tracking || p == NULL)
		return;
	heap_live += (long)malloc_usable_size(p);
	heap_allocs++;
	if (heap_live > heap_peak)
		heap_peak = heap_live;
}

static void
heap_sub(void *p)
{
	if (heap_tracking && p != NULL)
		heap_live -= (long)malloc_usable_size(p);
}

void *
__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);

	heap_add(p);
	return p;
}

void *
__wrap_calloc(size_t n, size_t m)
{
	void *p = __real_calloc(n, m);

	heap_add(p);
	return p;
}

void *
__wrap_realloc(void *p, size_t n)
{
	void *q;

	heap_sub(p);
	q = __real_realloc(p, n);
	heap_add(q != NULL ? q : p);
	return q;
}

void
__wrap_free(void *p)
{
	heap_sub(p);
	__real_free(p);
}

/* ------------------------------------------------------------ scenarios */

struct scenario {
	const char *what;
	const char *ip;
	const char *sender;
	enum spf_result want;
};

static const struct scenario scenarios[] = {
	{ "flat ip4 list, pass", "198.18.15.7", "user@flat.bench.test", SPF_PASS },
	{ "flat ip4 list, fail", "203.0.113.9", "user@flat.bench.test", SPF_FAIL },
	{ "include tree, pass (last leaf)", "198.18.159.20",
	    "news@tree.bench.test", SPF_PASS },
	{ "include tree, fail (whole tree)", "203.0.113.10",
	    "news@tree.bench.test", SPF_FAIL },
	{ "a + mx (3 hosts), pass", "198.18.200.13", "alice@amx.bench.test",
	    SPF_PASS },
	{ "a + mx (3 hosts), fail", "203.0.113.11", "alice@amx.bench.test",
	    SPF_FAIL },
	{ "macro exists, pass", "198.18.210.7", "bulk-news@macro.bench.test",
	    SPF_PASS },
	{ "macro exists, fail", "203.0.113.12", "bulk-news@macro.bench.test",
	    SPF_FAIL },
	{ "redirect, pass", "198.18.3.99", "bob@redir.bench.test", SPF_PASS },
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static double
now_sec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
make_request(const struct scenario *s, struct spf_request *req)
{
	memset(req, 0, sizeof(*req));
	if (spf_request_set_ip(req, s->ip) != 0)
		die("bad address %s", s->ip);
	req->identity = SPF_ID_MAILFROM;
	req->sender = s->sender;
	req->helo = "mta1.bench.test";
	req->receiver = "mx.bench.test";
	req->now = 1795000000;
}

/* What one evaluation on a painted stack is run with and gives back. */
struct stack_run {
	const struct spf_request *req;
	const struct spf_resolver *res;
	struct spf_outcome out;
	unsigned char *stack;
	size_t used;
};

static void *
stack_thread(void *arg)
{
	struct stack_run *sr = arg;

	spf_check(sr->req, sr->res, &sr->out);
	return NULL;
}

/* Stack bytes one evaluation touches (thread start-up included). */
static size_t
stack_used(const struct spf_request *req, const struct spf_resolver *res)
{
	struct stack_run sr = { req, res, { 0 }, NULL, 0 };
	pthread_attr_t attr;
	pthread_t tid;
	size_t i;

	if ((sr.stack = aligned_alloc(4096, STACK_SIZE)) == NULL)
		die("out of memory");
	memset(sr.stack, STACK_PAINT, STACK_SIZE);
	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstack(&attr, sr.stack, STACK_SIZE) != 0 ||
	    pthread_create(&tid, &attr, stack_thread, &sr) != 0 ||
	    pthread_join(tid, NULL) != 0)
		die("cannot run the stack thread");
	pthread_attr_destroy(&attr);
	for (i = 0; i < STACK_SIZE && sr.stack[i] == STACK_PAINT; i++)
		continue;
	free(sr.stack);
	return STACK_SIZE - i;
}

struct figures {
	double evals_per_sec;
	long heap_peak, heap_allocs;
	size_t stack;
	struct spf_outcome out;
};

static void
measure(const struct scenario *s, const struct spf_resolver *res,
    double secs, struct figures *f)
{
	struct spf_request req;
	long n = 0;
	double t0, t1;

	make_request(s, &req);
	heap_live = heap_peak = heap_allocs = 0;
	heap_tracking = 1;
	spf_check(&req, res, &f->out);
	heap_tracking = 0;
	f->heap_peak = heap_peak;
	f->heap_allocs = heap_allocs;
	f->stack = stack_used(&req, res);
	t0 = now_sec();
	do {
		spf_check(&req, res, &f->out);
		n++;
		t1 = now_sec();
	} while (t1 - t0 < secs && n < MAX_EVALS);
	f->evals_per_sec = n / (t1 - t0);
}

static void
print_figures(const struct figures *f)
{
	size_t i;

	printf("%-34s %-6s %10s %9s %7s %9s %7s\n", "record (in-memory resolver)",
	    "result", "evals/s", "heap peak", "allocs", "stack", "queries");
	for (i = 0; i < NSCENARIOS; i++)
		printf("%-34s %-6s %10.0f %8ldB %7ld %8zuB %7u\n",
		    scenarios[i].what, spf_result_name(f[i].out.result),
		    f[i].evals_per_sec, f[i].heap_peak, f[i].heap_allocs,
		    f[i].stack, f[i].out.queries);
	for (i = 0; i < NSCENARIOS; i++)
		printf("spfbench case=%zu evals_per_sec=%.0f heap_peak=%ld"
		    " allocs=%ld stack=%zu queries=%u result=%s\n", i,
		    f[i].evals_per_sec, f[i].heap_peak, f[i].heap_allocs,
		    f[i].stack, f[i].out.queries,
		    spf_result_name(f[i].out.result));
}

static int
run_in_memory(struct memzone *zn, double secs)
{
	struct spf_resolver res;
	static struct figures f[NSCENARIOS];
	size_t i;
	int bad = 0;

	memzone_resolver(zn, &res);
	for (i = 0; i < NSCENARIOS; i++) {
		measure(&scenarios[i], &res, secs, &f[i]);
		if (f[i].out.result != scenarios[i].want) {
			fprintf(stderr, "spfbench: %s: got %s, want %s (%s)\n",
			    scenarios[i].what, spf_result_name(f[i].out.result),
			    spf_result_name(scenarios[i].want), f[i].out.problem);
			bad = 1;
		}
	}
	print_figures(f);
	return bad;
}

/* ----------------------------------------------- the real resolver */

static double
wall_sec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Question arrival times from the server's log ("TIME NAME TYPE PROTO"),
 * those between FROM and TO only. */
static int
read_log(const char *path, double *t, int max, double from, double to)
{
	FILE *f;
	char line[512];
	int n = 0;

	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	while (n < max && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lf", &t[n]) == 1 && t[n] >= from &&
		    t[n] <= to)
			n++;
	fclose(f);
	return n;
}

/*
 * Round trips: a question asked while no earlier one is still waiting
 * for its delayed answer starts a new round trip; one asked within the
 * delay of the current round trip's first rides along.
 */
static int
round_trips(const double *t, int n, double delay)
{
	double start = -1;
	int i, trips = 0;

	for (i = 0; i < n; i++) {
		if (trips == 0 || t[i] - start >= delay * 0.75) {
			trips++;
			start = t[i];
		}
	}
	return trips;
}

static double
one_network_eval(struct resolver *d, const struct scenario *s,
    struct spf_outcome *out)
{
	struct spf_resolver res;
	struct spf_request req;
	double t0;

	make_request(s, &req);
	resolver_begin(d, 0, &res);
	t0 = now_sec();
	spf_check(&req, &res, out);
	return now_sec() - t0;
}

/* Evaluations of the tree by several threads at once, each with its own
 * resolver, as the milter's threads do: shows what waiting on each other
 * costs without libmilter in the way. */
struct par {
	const struct resolver_config *cfg;
	double deadline;
	double *lat;
	long n;
	int bad;
	pthread_mutex_t lock;
};

static void *
par_thread(void *arg)
{
	struct par *p = arg;
	struct spf_outcome out;
	struct resolver *d;
	double wall;

	if ((d = resolver_new(p->cfg)) == NULL)
		die("cannot set up the resolver");
	while (now_sec() < p->deadline) {
		wall = one_network_eval(d, &scenarios[3], &out);
		if (pthread_mutex_lock(&p->lock) != 0)
			die("mutex");
		if (p->n < MAX_PAR_EVALS)
			p->lat[p->n++] = wall;
		if (out.result != scenarios[3].want)
			p->bad++;
		pthread_mutex_unlock(&p->lock);
	}
	resolver_free(d);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
run_parallel(const struct resolver_config *cfg, int conc, double secs)
{
	struct par p = { cfg, now_sec() + secs, NULL, 0, 0,
	    PTHREAD_MUTEX_INITIALIZER };
	pthread_t tid[MAX_PAR];
	int i;

	if ((p.lat = calloc(MAX_PAR_EVALS, sizeof(double))) == NULL)
		die("out of memory");
	for (i = 0; i < conc; i++)
		if (pthread_create(&tid[i], NULL, par_thread, &p) != 0)
			die("pthread_create");
	for (i = 0; i < conc; i++)
		pthread_join(tid[i], NULL);
	qsort(p.lat, (size_t)p.n, sizeof(double), cmp_double);
	if (p.n > 0) {
		printf("  %2d at once: %ld evaluations in %.0f s, p50 %.1f ms,"
		    " p99 %.1f ms, wrong results %d\n", conc, p.n, secs,
		    p.lat[p.n / 2] * 1000, p.lat[(long)(0.99 * (p.n - 1))] * 1000,
		    p.bad);
		printf("spfbench parallel=%d evals=%ld p50_ms=%.1f p99_ms=%.1f"
		    " wrong=%d\n", conc, p.n, p.lat[p.n / 2] * 1000,
		    p.lat[(long)(0.99 * (p.n - 1))] * 1000, p.bad);
	}
	free(p.lat);
	return p.bad > 0 || p.n == 0;
}

static int
run_network(const char *server, const char *logpath, int delay_ms,
    int conc, double secs)
{
	static double t[MAX_LOG_LINES];
	const struct scenario *s = &scenarios[3];	/* the whole tree */
	struct resolver_config cfg;
	struct spf_outcome out;
	struct resolver *d;
	double wall, from, to;
	int n;

	memset(&cfg, 0, sizeof(cfg));
	if (conf_parse_server(server, &cfg.servers[0]) != 0)
		die("bad server %s", server);
	cfg.nservers = 1;
	cfg.timeout_ms = 10000;
	if ((d = resolver_new(&cfg)) == NULL)
		die("cannot set up the resolver");
	from = wall_sec();
	wall = one_network_eval(d, s, &out);
	to = wall_sec();
	resolver_free(d);
	usleep(100000);		/* let the server flush its log */
	n = read_log(logpath, t, MAX_LOG_LINES, from, to);
	printf("\ninclude tree through dns.c, every answer delayed %d ms:\n"
	    "  result %s, wall %.1f ms, %u queries, %d sequential round trips"
	    " (from the server's log)\n", delay_ms, spf_result_name(out.result),
	    wall * 1000, out.queries, round_trips(t, n, delay_ms / 1000.0));
	printf("spfbench network=1 delay_ms=%d wall_ms=%.1f queries=%u"
	    " round_trips=%d result=%s\n", delay_ms, wall * 1000, out.queries,
	    round_trips(t, n, delay_ms / 1000.0), spf_result_name(out.result));
	if (conc > 1) {
		printf("the same evaluation in a loop, one resolver per thread:\n");
		if (run_parallel(&cfg, 1, secs) != 0 ||
		    run_parallel(&cfg, conc, secs) != 0)
			return 1;
	}
	return out.result == s->want ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *zonefile = "bench/zone.txt", *server = NULL, *logpath = NULL;
	struct memzone zn;
	int ch, ms = 500, delay = 20, conc = 1, secs = 3, bad;

	while ((ch = getopt(argc, argv, "z:t:s:L:d:P:T:")) != -1) {
		switch (ch) {
		case 'z': zonefile = optarg; break;
		case 't': ms = atoi(optarg); break;
		case 's': server = optarg; break;
		case 'L': logpath = optarg; break;
		case 'd': delay = atoi(optarg); break;
		case 'P': conc = atoi(optarg); break;
		case 'T': secs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: spfbench [-z ZONE] [-t MS]"
			    " [-s 127.0.0.1:PORT -L QUERYLOG -d DELAY_MS"
			    " [-P THREADS -T SECONDS]]\n");
			return 2;
		}
	}
	if (ms < 1 || ms > 60000 || delay < 1 || delay > 10000 || conc < 1 ||
	    conc > MAX_PAR || secs < 1 || secs > 60)
		die("-t wants 1..60000 ms, -d 1..10000 ms, -P 1..%d, -T 1..60",
		    MAX_PAR);
	memzone_init(&zn);
	zn.empty_nonterminals = 1;	/* as a DNS server answers */
	if (memzone_load(&zn, zonefile, stderr) != 0)
		return 2;
	bad = run_in_memory(&zn, ms / 1000.0);
	if (server != NULL && logpath != NULL)
		bad |= run_network(server, logpath, delay, conc, secs);
	memzone_clear(&zn);
	return bad;
}
