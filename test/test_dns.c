/*
 * test_dns.c - unit tests of dns.c: the reply parser fed hand-made and
 * hostile packets, and the resolver against test/dnsserver.py (status
 * mapping, deadline, TCP after truncation, questions in flight together
 * and queued beyond that, CNAME chains, a dead nameserver remembered,
 * the cache and its bounds).  Run by test/run-dns-tests.sh, which starts
 * the servers and passes their ports in the environment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../dns.h"

/* ------------------------------------------------------------ helpers */

static uint64_t
msec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned
env_port(const char *name)
{
	const char *v = getenv(name);

	return v != NULL ? (unsigned)atoi(v) : 0;
}

/* The nameserver on loopback (127.0.0.1, or ::1 when V6) at the port in
 * environment variable VAR. */
static void
server_at(struct sockaddr_storage *ss, int v6, const char *var)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons((uint16_t)env_port(var));
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons((uint16_t)env_port(var));
	}
}

/* A resolver asking 127.0.0.1 on the port in environment variable VAR,
 * with CACHE. */
static struct resolver *
resolver_cached(const char *var, unsigned timeout_ms,
    struct resolver_cache *cache)
{
	struct resolver_config c;

	memset(&c, 0, sizeof(c));
	c.cache = cache;
	server_at(&c.servers[0], 0, var);
	c.nservers = 1;
	c.timeout_ms = timeout_ms;
	return resolver_new(&c);
}

static struct resolver *
resolver_at(const char *var, unsigned timeout_ms)
{
	return resolver_cached(var, timeout_ms, NULL);
}

/* wait() may return on another question's answer: call it until Q has
 * its own, as the evaluator does (bounded; the deadline ends it). */
static void
await_answer(struct spf_resolver *r, struct spf_query *q)
{
	int rounds;

	for (rounds = 0; rounds < 100000 && q->answer == NULL; rounds++)
		r->wait(r->ctx, q);
	assert_non_null(q->answer);
}

/* Ask one question and wait for it. */
static void
ask(struct spf_resolver *r, struct spf_query *q, const char *name,
    unsigned type)
{
	memset(q, 0, sizeof(*q));
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->type = (uint16_t)type;
	r->submit(r->ctx, q);
	await_answer(r, q);
}

static int
have_servers(void)
{
	return env_port("DNS_TEST_PLAIN") != 0;
}

#define NEED_SERVERS() do { if (!have_servers()) { skip(); } } while (0)

/* A DNS message built by hand. */
struct msg {
	unsigned char p[2048];
	size_t n;
};

static void
m16(struct msg *m, unsigned v)
{
	m->p[m->n++] = (unsigned char)(v >> 8);
	m->p[m->n++] = (unsigned char)v;
}

static void
m32(struct msg *m, uint32_t v)
{
	m16(m, v >> 16);
	m16(m, v & 0xffff);
}

static void
mbytes(struct msg *m, const void *b, size_t n)
{
	memcpy(m->p + m->n, b, n);
	m->n += n;
}

static void
mname(struct msg *m, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);

		m->p[m->n++] = (unsigned char)l;
		mbytes(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	m->p[m->n++] = 0;
}

/* Header and question; the name is at offset 12 (for pointers 0xc00c). */
static void
mstart(struct msg *m, unsigned rcode, unsigned an, unsigned ns,
    const char *qname, unsigned qtype)
{
	m->n = 0;
	m16(m, 0x1234);
	m16(m, 0x8180 | rcode);
	m16(m, 1);
	m16(m, an);
	m16(m, ns);
	m16(m, 0);
	mname(m, qname);
	m16(m, qtype);
	m16(m, 1);
}

/* An RR owned by the question's name (pointer 0xc00c). */
static void
mrr(struct msg *m, unsigned type, uint32_t ttl, const void *rd, size_t n)
{
	m16(m, 0xc00c);
	m16(m, type);
	m16(m, 1);
	m32(m, ttl);
	m16(m, (unsigned)n);
	mbytes(m, rd, n);
}

static struct spf_answer *
parse(const struct msg *m, const char *name, unsigned type)
{
	struct spf_answer *a = resolver_parse_reply(m->p, m->n, name, type, NULL);

	assert_non_null(a);
	return a;
}

/* ---------------------------------------------- resolver_parse_reply() */

static void
test_reply_txt(void **state)
{
	struct msg m;
	struct spf_answer *a;
	static const unsigned char rd1[] = "\007v=spf1 \004-all";
	static const unsigned char rd2[] = "\003a\000b";

	(void)state;
	mstart(&m, 0, 2, 0, "example.com", SPF_T_TXT);
	mrr(&m, SPF_T_TXT, 300, rd1, sizeof(rd1) - 1);
	mrr(&m, SPF_T_TXT, 100, rd2, sizeof(rd2) - 1);
	a = parse(&m, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->count, 2);
	assert_int_equal(a->ttl, 100);
	assert_int_equal(a->rr[0].len, 11);
	assert_memory_equal(a->rr[0].data, "v=spf1 -all", 12);
	assert_int_equal(a->rr[1].len, 3);
	assert_memory_equal(a->rr[1].data, "a\0b", 4);
	free(a);
	/* the question's name matches case-insensitively */
	a = parse(&m, "EXAMPLE.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_OK);
	free(a);
}

static void
test_reply_addresses(void **state)
{
	struct msg m;
	struct spf_answer *a;
	static const unsigned char v4[] = { 192, 0, 2, 1 };
	unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	mstart(&m, 0, 1, 0, "example.com", SPF_T_A);
	mrr(&m, SPF_T_A, 60, v4, 4);
	a = parse(&m, "example.com", SPF_T_A);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->rr[0].len, 4);
	assert_memory_equal(a->rr[0].data, v4, 4);
	free(a);
	/* an A record of 5 bytes is garbage */
	mstart(&m, 0, 1, 0, "example.com", SPF_T_A);
	mrr(&m, SPF_T_A, 60, v6, 5);
	a = parse(&m, "example.com", SPF_T_A);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	v6[15] = 1;
	mstart(&m, 0, 1, 0, "example.com", SPF_T_AAAA);
	mrr(&m, SPF_T_AAAA, 60, v6, 16);
	a = parse(&m, "example.com", SPF_T_AAAA);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_memory_equal(a->rr[0].data, v6, 16);
	free(a);
}

static void
test_reply_mx_ptr(void **state)
{
	struct msg m;
	struct spf_answer *a;
	/* pref 10, "mail" + pointer to example.com at offset 12 */
	static const unsigned char mx[] = { 0, 10, 4, 'm', 'a', 'i', 'l',
	    0xc0, 0x0c };
	static const unsigned char ptr[] = { 4, 'h', 'o', 's', 't', 0xc0,
	    0x0c };

	(void)state;
	mstart(&m, 0, 1, 0, "example.com", SPF_T_MX);
	mrr(&m, SPF_T_MX, 60, mx, sizeof(mx));
	a = parse(&m, "example.com", SPF_T_MX);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->rr[0].pref, 10);
	assert_string_equal((const char *)a->rr[0].data, "mail.example.com");
	assert_int_equal(a->rr[0].len, 16);
	free(a);
	mstart(&m, 0, 1, 0, "1.2.0.192.in-addr.arpa", SPF_T_PTR);
	mrr(&m, SPF_T_PTR, 60, ptr, sizeof(ptr));
	a = parse(&m, "1.2.0.192.in-addr.arpa", SPF_T_PTR);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_string_equal((const char *)a->rr[0].data,
	    "host.1.2.0.192.in-addr.arpa");
	free(a);
	/* an MX whose name runs past its rdata */
	mstart(&m, 0, 1, 0, "example.com", SPF_T_MX);
	mrr(&m, SPF_T_MX, 60, mx, 5);
	mbytes(&m, "\0\0\0\0", 4);
	a = parse(&m, "example.com", SPF_T_MX);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
}

static void
soa(struct msg *m, uint32_t ttl, uint32_t minimum);

static void
test_reply_cname(void **state)
{
	struct msg m;
	struct spf_answer *a;
	static const unsigned char target[] = { 1, 'b', 0xc0, 0x0c };
	static const unsigned char self[] = { 0xc0, 0x0c };
	static const unsigned char v4[] = { 192, 0, 2, 7 };
	char next[256];
	size_t owner;

	(void)state;
	/* a.example.com CNAME b.a.example.com, which has an A and a TXT */
	mstart(&m, 0, 3, 0, "a.example.com", SPF_T_A);
	owner = m.n;
	mrr(&m, 5, 30, target, sizeof(target));
	m16(&m, 0xc000 | (unsigned)(owner + 12));
	m16(&m, SPF_T_A);
	m16(&m, 1);
	m32(&m, 600);
	m16(&m, 4);
	mbytes(&m, v4, 4);
	m16(&m, 0xc000 | (unsigned)(owner + 12));
	m16(&m, SPF_T_TXT);
	m16(&m, 1);
	m32(&m, 600);
	m16(&m, 2);
	mbytes(&m, "\001x", 2);
	a = resolver_parse_reply(m.p, m.n, "a.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->count, 1);
	assert_memory_equal(a->rr[0].data, v4, 4);
	assert_int_equal(a->ttl, 30);
	assert_string_equal(next, "");
	free(a);
	/* a CNAME to itself is a loop: no data (pyspf and Mail::SPF find
	 * no records either), never a hang, nothing to ask next */
	mstart(&m, 0, 1, 0, "a.example.com", SPF_T_A);
	mrr(&m, 5, 30, self, sizeof(self));
	a = resolver_parse_reply(m.p, m.n, "a.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_int_equal(a->ttl, 0);
	assert_string_equal(next, "");
	free(a);
	/* a CNAME to a name with no records here and no SOA: the server
	 * stopped short, the chain goes on at b.a.example.com */
	mstart(&m, 0, 1, 0, "a.example.com", SPF_T_A);
	mrr(&m, 5, 30, target, sizeof(target));
	a = resolver_parse_reply(m.p, m.n, "a.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_string_equal(next, "b.a.example.com");
	free(a);
	/* the same with an SOA: b.a.example.com has no A */
	mstart(&m, 0, 1, 1, "a.example.com", SPF_T_A);
	mrr(&m, 5, 30, target, sizeof(target));
	soa(&m, 3600, 20);
	a = resolver_parse_reply(m.p, m.n, "a.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_int_equal(a->ttl, 20);
	assert_string_equal(next, "");
	free(a);
}

/* A CNAME record from hN.example.com to hTO.example.com, TTL TTL. */
static void
mcname(struct msg *m, unsigned from, unsigned to, uint32_t ttl)
{
	char name[64];

	snprintf(name, sizeof(name), "h%u.example.com", from);
	mname(m, name);
	m16(m, 5);
	m16(m, 1);
	m32(m, ttl);
	snprintf(name, sizeof(name), "h%u.example.com", to);
	m16(m, (unsigned)strlen(name) + 2);
	mname(m, name);
}

/* An A record for hN.example.com: 192.0.2.N. */
static void
maddr(struct msg *m, unsigned n)
{
	char name[64];

	snprintf(name, sizeof(name), "h%u.example.com", n);
	mname(m, name);
	m16(m, SPF_T_A);
	m16(m, 1);
	m32(m, 600);
	m16(m, 4);
	m16(m, 0xc000);
	m16(m, 0x0200 | (n & 0xff));
}

static void
test_reply_chains(void **state)
{
	struct msg m;
	struct spf_answer *a;
	char next[256];

	(void)state;
	/* 20 hops, listed from the end: no hop count of ours stops it, and
	 * the TTL is the least of the chain */
	mstart(&m, 0, 21, 0, "h0.example.com", SPF_T_A);
	maddr(&m, 20);
	for (unsigned i = 20; i-- > 0;)
		mcname(&m, i, i + 1, i == 13 ? 7 : 300);
	a = resolver_parse_reply(m.p, m.n, "h0.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->count, 1);
	assert_int_equal(a->rr[0].data[3], 20);
	assert_int_equal(a->ttl, 7);
	assert_string_equal(next, "");
	free(a);
	/* the same chain without its end: asked again where it stops */
	mstart(&m, 0, 20, 0, "h0.example.com", SPF_T_A);
	for (unsigned i = 0; i < 20; i++)
		mcname(&m, i, i + 1, 300);
	a = resolver_parse_reply(m.p, m.n, "h0.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_string_equal(next, "h20.example.com");
	free(a);
	/* the end cut off in the middle of a record: a broken packet */
	a = resolver_parse_reply(m.p, m.n - 5, "h0.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	assert_string_equal(next, "");
	free(a);
	/* a chain that comes back to its third name: a loop, no data */
	mstart(&m, 0, 6, 0, "h0.example.com", SPF_T_A);
	for (unsigned i = 0; i < 5; i++)
		mcname(&m, i, i + 1, 300);
	mcname(&m, 5, 2, 300);
	a = resolver_parse_reply(m.p, m.n, "h0.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_int_equal(a->ttl, 0);
	assert_string_equal(next, "");
	free(a);
	/* two names pointing at each other, records of the type beside */
	mstart(&m, 0, 3, 0, "h0.example.com", SPF_T_A);
	mcname(&m, 0, 1, 300);
	mcname(&m, 1, 0, 300);
	maddr(&m, 2);
	a = resolver_parse_reply(m.p, m.n, "h0.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	free(a);
	/* a chain into NXDOMAIN is NXDOMAIN for its last name (RFC 6604) */
	mstart(&m, 3, 2, 1, "h0.example.com", SPF_T_A);
	mcname(&m, 0, 1, 300);
	mcname(&m, 1, 2, 300);
	soa(&m, 3600, 60);
	a = resolver_parse_reply(m.p, m.n, "h0.example.com", SPF_T_A, next);
	assert_int_equal(a->status, SPF_DNS_NXDOMAIN);
	assert_int_equal(a->ttl, 60);
	free(a);
}

/*
 * A 64 KiB answer of N CNAME records "hI CNAME hI+1" listed from the
 * last, the names a 2-byte pointer to "example.com" behind a label of
 * their own; LOOP makes the last point back to h0, else hN has an A.
 */
static struct spf_answer *
long_chain(unsigned n, int loop, char *next)
{
	unsigned char *p = malloc(65535);
	struct spf_answer *a;
	size_t at;
	char label[16];

	assert_non_null(p);
	memcpy(p, "\x12\x34\x81\x80\0\1\0\0\0\0\0\0", 12);
	p[6] = (unsigned char)((n + !loop) >> 8);
	p[7] = (unsigned char)(n + !loop);
	memcpy(p + 12, "\2h0\7example\3com\0\0\1\0\1", 20);
	at = 32;			/* "example.com" is at 15 */
	for (unsigned i = n + !loop; i-- > 0;) {
		int l = snprintf(label, sizeof(label), "h%u", i);

		p[at++] = (unsigned char)l;
		memcpy(p + at, label, (size_t)l);
		at += (size_t)l;
		memcpy(p + at, "\xc0\x0f", 2);
		at += 2;
		if (i == n) {		/* the end: an A record */
			memcpy(p + at,
			    "\0\1\0\1\0\0\0\x3c\0\4\xc0\0\2\x63", 14);
			at += 14;
			continue;
		}
		l = snprintf(label, sizeof(label), "h%u",
		    loop && i == n - 1 ? 0 : i + 1);
		memcpy(p + at, "\0\5\0\1\0\0\0\x3c\0", 9);
		at += 9;
		p[at++] = (unsigned char)(l + 3);
		p[at++] = (unsigned char)l;
		memcpy(p + at, label, (size_t)l);
		at += (size_t)l;
		memcpy(p + at, "\xc0\x0f", 2);
		at += 2;
		assert_true(at < 65535 - 40);
	}
	a = resolver_parse_reply(p, at, "h0.example.com", SPF_T_A, next);
	free(p);
	assert_non_null(a);
	return a;
}

static void
test_reply_long_chain(void **state)
{
	struct spf_answer *a;
	char next[256];

	(void)state;
	/* as many hops as a TCP answer holds */
	a = long_chain(2400, 0, next);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->count, 1);
	assert_int_equal(a->rr[0].data[3], 0x63);
	free(a);
	a = long_chain(2400, 1, next);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_string_equal(next, "");
	free(a);
}

static void
soa(struct msg *m, uint32_t ttl, uint32_t minimum)
{
	m16(m, 0xc00c);
	m16(m, 6);
	m16(m, 1);
	m32(m, ttl);
	m16(m, 4 + 20);
	mbytes(m, "\xc0\x0c\xc0\x0c", 4);
	m32(m, 1);
	m32(m, 3600);
	m32(m, 600);
	m32(m, 86400);
	m32(m, minimum);
}

static void
test_reply_negative(void **state)
{
	struct msg m;
	struct spf_answer *a;

	(void)state;
	mstart(&m, 3, 0, 1, "example.com", SPF_T_TXT);
	soa(&m, 3600, 300);
	a = parse(&m, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_NXDOMAIN);
	assert_int_equal(a->ttl, 300);
	free(a);
	mstart(&m, 0, 0, 1, "example.com", SPF_T_TXT);
	soa(&m, 120, 300);
	a = parse(&m, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_int_equal(a->ttl, 120);
	free(a);
	mstart(&m, 0, 0, 0, "example.com", SPF_T_TXT);
	a = parse(&m, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_NODATA);
	assert_int_equal(a->ttl, 0);
	free(a);
	for (unsigned rcode = 1; rcode < 16; rcode++) {
		if (rcode == 3)
			continue;
		mstart(&m, rcode, 0, 0, "example.com", SPF_T_TXT);
		a = parse(&m, "example.com", SPF_T_TXT);
		assert_int_equal(a->status, SPF_DNS_SERVFAIL);
		free(a);
	}
}

static void
test_reply_hostile(void **state)
{
	struct msg m, bad;
	struct spf_answer *a;
	static const unsigned char rd[] = "\005hello";
	size_t answered;

	(void)state;
	mstart(&m, 0, 1, 1, "example.com", SPF_T_TXT);
	mrr(&m, SPF_T_TXT, 300, rd, sizeof(rd) - 1);
	answered = m.n;
	soa(&m, 1, 1);
	/* every cut of a good packet: no crash, no overread (ASan); cut
	 * before the end of the answer section, it is garbage (the
	 * authority section is only read for negative answers) */
	for (size_t n = 0; n < m.n; n++) {
		a = resolver_parse_reply(m.p, n, "example.com", SPF_T_TXT, NULL);
		assert_non_null(a);
		if (n < answered)
			assert_int_equal(a->status, SPF_DNS_SERVFAIL);
		free(a);
	}
	/* a character-string longer than its record */
	mstart(&bad, 0, 1, 0, "example.com", SPF_T_TXT);
	mrr(&bad, SPF_T_TXT, 300, "\011hello", 6);
	a = parse(&bad, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	/* a name pointer to itself, and one pointing forward */
	mstart(&bad, 0, 1, 0, "example.com", SPF_T_TXT);
	m16(&bad, 0xc000 | (unsigned)bad.n);
	a = parse(&bad, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	mstart(&bad, 0, 1, 0, "example.com", SPF_T_TXT);
	m16(&bad, 0xc000 | (unsigned)(bad.n + 2));
	mname(&bad, "example.com");
	a = parse(&bad, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	/* the answer to another question, and to another type */
	a = parse(&m, "example.org", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	a = parse(&m, "example.com", SPF_T_A);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	/* not a response (QR clear) */
	bad = m;
	bad.p[2] &= 0x7f;
	a = parse(&bad, "example.com", SPF_T_TXT);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
	/* random damage, many times: any answer, but never a crash */
	srand(7208);
	for (int i = 0; i < 20000; i++) {
		bad = m;
		for (int k = 0; k < 1 + i % 4; k++)
			bad.p[rand() % (int)bad.n] = (unsigned char)rand();
		a = resolver_parse_reply(bad.p, bad.n, "example.com", SPF_T_TXT,
		    NULL);
		assert_non_null(a);
		for (unsigned j = 0; a->status == SPF_DNS_OK && j < a->count;
		    j++)
			assert_true(a->rr[j].len <= bad.n);
		free(a);
	}
}

/* N PTR records, each a 2-byte pointer to one name of 250 characters. */
static struct spf_answer *
many_ptrs(unsigned n)
{
	unsigned char *p = malloc(65535);
	struct spf_answer *a;
	size_t at = 0, longname;

	assert_non_null(p);
	memcpy(p, "\x12\x34\x81\x80\0\1\0\0\0\0\0\0", 12);
	p[6] = (unsigned char)(n >> 8);
	p[7] = (unsigned char)n;
	at = 12;
	memcpy(p + at, "\7example\3com\0\0\x0c\0\1", 17);
	at += 17;
	for (unsigned i = 0; i < n; i++) {
		memcpy(p + at, "\xc0\x0c\0\x0c\0\1\0\0\0\x3c", 10);
		at += 10;
		if (i == 0) {
			/* the first carries the long name: 4 labels of 61 */
			p[at++] = 0;
			p[at++] = 4 * 62 + 1;
			longname = at;
			for (int l = 0; l < 4; l++) {
				p[at++] = 61;
				memset(p + at, 'a' + l, 61);
				at += 61;
			}
			p[at++] = 0;
		} else {
			p[at++] = 0;
			p[at++] = 2;
			p[at++] = 0xc0 | (unsigned char)(longname >> 8);
			p[at++] = (unsigned char)longname;
		}
		assert_true(at < 65535 - 300);
	}
	a = resolver_parse_reply(p, at, "example.com", SPF_T_PTR, NULL);
	free(p);
	assert_non_null(a);
	return a;
}

static void
test_reply_huge(void **state)
{
	struct spf_answer *a;

	(void)state;
	a = many_ptrs(100);
	assert_int_equal(a->status, SPF_DNS_OK);
	assert_int_equal(a->count, 100);
	assert_int_equal(a->rr[99].len, 4 * 62 - 1);
	free(a);
	/* 4500 names of 247 bytes from 63 KiB: refused, not 1.1 MB */
	a = many_ptrs(4500);
	assert_int_equal(a->status, SPF_DNS_SERVFAIL);
	free(a);
}

/* ------------------------------------------------ against the servers */

static void
test_statuses(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;
	static const struct {
		const char *name;
		unsigned type;
		enum spf_dns_status status;
	} cases[] = {
		{ "txt.test.example", SPF_T_TXT, SPF_DNS_OK },
		{ "txt.test.example", SPF_T_A, SPF_DNS_NODATA },
		{ "test.example", SPF_T_TXT, SPF_DNS_NODATA },
		{ "none.test.example", SPF_T_TXT, SPF_DNS_NXDOMAIN },
		{ "fail.test.example", SPF_T_TXT, SPF_DNS_SERVFAIL },
		{ "refused.test.example", SPF_T_A, SPF_DNS_SERVFAIL },
		{ "garbled.test.example", SPF_T_TXT, SPF_DNS_SERVFAIL },
		{ "loop.test.example", SPF_T_A, SPF_DNS_NODATA },
		{ "alias.test.example", SPF_T_A, SPF_DNS_OK },
		{ "a.test.example", SPF_T_AAAA, SPF_DNS_OK },
		{ "mx.test.example", SPF_T_MX, SPF_DNS_OK },
		{ "1.2.0.192.in-addr.arpa", SPF_T_PTR, SPF_DNS_OK },
		{ "bad..name", SPF_T_A, SPF_DNS_NXDOMAIN },
	};

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_PLAIN", 3000));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resolver_begin(d, 0, &r);
		ask(&r, &q, cases[i].name, cases[i].type);
		if (q.answer->status != cases[i].status)
			fail_msg("%s type %u: status %d, expected %d",
			    cases[i].name, cases[i].type, q.answer->status,
			    cases[i].status);
		r.drop(r.ctx, &q);
	}
	/* the data as served, and the negative TTL of the server's SOA */
	ask(&r, &q, "bin.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->count, 1);
	assert_int_equal(q.answer->rr[0].len, 7);
	assert_memory_equal(q.answer->rr[0].data, "a\0b\xff\"q\\", 8);
	assert_true(q.usec > 0);
	r.drop(r.ctx, &q);
	ask(&r, &q, "alias.test.example", SPF_T_A);
	assert_int_equal(q.answer->count, 2);
	r.drop(r.ctx, &q);
	ask(&r, &q, "mx.test.example", SPF_T_MX);
	assert_int_equal(q.answer->count, 2);
	r.drop(r.ctx, &q);
	ask(&r, &q, "none.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->ttl, 300);
	r.drop(r.ctx, &q);
	resolver_free(d);
}

/* Questions the plain server saw for NAME TYPE over UDP. */
static int
asked(const char *name, const char *type);

static void
test_chains(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_PLAIN", 3000));
	resolver_begin(d, 0, &r);
	/* 9 hops in one answer */
	ask(&r, &q, "c9-0.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	assert_int_equal(q.answer->rr[0].data[3], 9);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("c9-0.test.example", "A"), 1);
	/* 15: the server stops at 10, the rest is asked for at c15-10 */
	ask(&r, &q, "c15-0.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	assert_int_equal(q.answer->rr[0].data[3], 15);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("c15-0.test.example", "A"), 1);
	assert_int_equal(asked("c15-10.test.example", "A"), 1);
	/* 200: asked again ten times (110 hops), then no data */
	ask(&r, &q, "c200-0.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_NODATA);
	assert_int_equal(q.answer->ttl, 0);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("c200-100.test.example", "A"), 1);
	assert_int_equal(asked("c200-110.test.example", "A"), 0);
	resolver_free(d);
}

static void
test_deadline(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q, q2;
	uint64_t t0;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_PLAIN", 3000));
	/* a mute name: the deadline answers, not udns's retries */
	resolver_begin(d, 300, &r);
	t0 = msec();
	ask(&r, &q, "mute.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_TIMEOUT);
	assert_in_range(msec() - t0, 250, 700);
	r.drop(r.ctx, &q);
	/* past the deadline, a new question times out at once */
	t0 = msec();
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_TIMEOUT);
	assert_true(msec() - t0 < 200);	/* not another 300 ms */
	r.drop(r.ctx, &q);
	/* a new deadline (0: the configured one) and answers again */
	resolver_begin(d, 0, &r);
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	r.drop(r.ctx, &q);
	/* what is in flight when the deadline passes times out with it */
	resolver_begin(d, 200, &r);
	memset(&q2, 0, sizeof(q2));
	strcpy(q2.name, "mute.test.example");
	q2.type = SPF_T_A;
	r.submit(r.ctx, &q2);
	ask(&r, &q, "mute.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_TIMEOUT);
	assert_non_null(q2.answer);
	assert_int_equal(q2.answer->status, SPF_DNS_TIMEOUT);
	r.drop(r.ctx, &q);
	r.drop(r.ctx, &q2);
	resolver_free(d);
}

/* Lines of the query log named by environment variable VAR that end in
 * NEEDLE (" NAME TYPE udp|tcp"). */
static int
logged(const char *var, const char *needle)
{
	const char *path = getenv(var);
	char line[512];
	size_t n = strlen(needle), l;
	int count = 0;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		l = strlen(line);
		if (l > n && line[l - 1] == '\n' &&
		    memcmp(line + l - 1 - n, needle, n) == 0)
			count++;
	}
	fclose(f);
	return count;
}

static int
tcp_questions(const char *name)
{
	char needle[300];

	snprintf(needle, sizeof(needle), " %s TXT tcp", name);
	return logged("DNS_TEST_TRUNC_LOG", needle);
}

static void
test_truncated(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;
	int before = tcp_questions("big.test.example");
	size_t total = 0;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_TRUNC", 3000));
	resolver_begin(d, 0, &r);
	ask(&r, &q, "big.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	assert_int_equal(q.answer->count, 5);
	for (unsigned i = 0; i < q.answer->count; i++) {
		assert_int_equal(q.answer->rr[i].len, 801);
		total += q.answer->rr[i].len;
	}
	assert_int_equal(total, 5 * 801);
	r.drop(r.ctx, &q);
	assert_int_equal(tcp_questions("big.test.example"), before + 1);
	/* a short answer stays on UDP */
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	r.drop(r.ctx, &q);
	assert_int_equal(tcp_questions("txt.test.example"), 0);
	/* several truncated at once, each over its own connection */
	{
		struct spf_query qs[4];

		for (int i = 0; i < 4; i++) {
			memset(&qs[i], 0, sizeof(qs[i]));
			strcpy(qs[i].name, "big.test.example");
			qs[i].type = SPF_T_TXT;
			r.submit(r.ctx, &qs[i]);
		}
		for (int i = 0; i < 4; i++) {
			await_answer(&r, &qs[i]);
			assert_int_equal(qs[i].answer->status, SPF_DNS_OK);
			assert_int_equal(qs[i].answer->count, 5);
		}
		for (int i = 0; i < 4; i++)
			r.drop(r.ctx, &qs[i]);
	}
	resolver_free(d);
}

static void
test_parallel(void **state)
{
	enum { N = 16 };
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query qs[N];
	uint64_t t0, took;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_SLOW", 3000));
	resolver_begin(d, 0, &r);
	t0 = msec();
	for (int i = 0; i < N; i++) {
		memset(&qs[i], 0, sizeof(qs[i]));
		snprintf(qs[i].name, sizeof(qs[i].name), "p%d.test.example", i);
		qs[i].type = SPF_T_A;
		r.submit(r.ctx, &qs[i]);
	}
	/* wait in reverse order: the order must not matter */
	for (int i = N - 1; i >= 0; i--)
		await_answer(&r, &qs[i]);
	took = msec() - t0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(qs[i].answer->status, SPF_DNS_OK);
		assert_int_equal(qs[i].answer->rr[0].data[3], i);
		assert_true(qs[i].usec >= 90000);
		r.drop(r.ctx, &qs[i]);
	}
	/* sixteen answers delayed 100 ms each: one round trip, not 16
	 * (1600 ms); the bound leaves room for a busy machine */
	printf("# %d questions, every answer delayed 100 ms: %llu ms\n", N,
	    (unsigned long long)took);
	assert_in_range(took, 95, 1000);
	resolver_free(d);
}

/* The most questions for w*.test.example the slow server received within
 * WINDOW_MS of each other (its log: "TIME NAME TYPE PROTO"), each name
 * counted the first time only (udns may send a question again), or -1. */
static int
most_at_once(unsigned window_ms)
{
	const char *path = getenv("DNS_TEST_SLOW_LOG");
	static double t[1000];
	static char seen[1000];
	char line[512];
	int n = 0, most = 0, w;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return -1;
	memset(seen, 0, sizeof(seen));
	while (n < 1000 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lf w%d.test.example", &t[n], &w) == 2 &&
		    w >= 0 && w < 1000 && !seen[w]) {
			seen[w] = 1;
			n++;
		}
	fclose(f);
	for (int i = 0, j = 0; j < n; j++) {
		while (t[j] - t[i] > window_ms / 1000.0)
			i++;
		if (j - i + 1 > most)
			most = j - i + 1;
	}
	return most;
}

static void
test_many_at_once(void **state)
{
	enum { N = 200, CAP = 64 };
	struct resolver *d;
	struct spf_resolver r;
	static struct spf_query qs[N];
	uint64_t t0, took;
	int most;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_SLOW", 5000));
	resolver_begin(d, 0, &r);
	t0 = msec();
	for (int i = 0; i < N; i++) {
		memset(&qs[i], 0, sizeof(qs[i]));
		snprintf(qs[i].name, sizeof(qs[i].name), "w%d.test.example", i);
		qs[i].type = SPF_T_A;
		r.submit(r.ctx, &qs[i]);
	}
	for (int i = 0; i < N; i++)
		await_answer(&r, &qs[i]);
	took = msec() - t0;
	/* every one answered by the server, none by a limit of ours */
	for (int i = 0; i < N; i++) {
		if (qs[i].answer->status != SPF_DNS_OK)
			fail_msg("%s: status %d", qs[i].name,
			    qs[i].answer->status);
		assert_int_equal(qs[i].answer->count, 1);
		assert_int_equal(qs[i].answer->rr[0].data[3], i);
		r.drop(r.ctx, &qs[i]);
	}
	/* and never more than the cap out at once: an answer takes 100 ms
	 * from when the server got the question, so questions it got within
	 * 50 ms of each other were out together.  (50, not 90: the server's
	 * log times carry its own scheduling delay, tens of ms on a loaded
	 * machine; without the cap all 200 arrive within a few ms.) */
	most = most_at_once(50);
	printf("# %d questions at once, every answer delayed 100 ms: %llu ms,"
	    " at most %d in flight\n", N, (unsigned long long)took, most);
	assert_in_range(most, 1, CAP);
	/* a deadline that passes with questions still waiting: those are
	 * answered TIMEOUT with the rest and never sent (the queue is first
	 * come first served: the last one is never sent in 150 ms, as no
	 * answer comes in less than 100) */
	{
		const char *last = " w199.test.example A udp";
		int before, timeouts = 0;

		/* udns may have sent some of the first 200 again (its retry
		 * timer counts whole seconds, so "1 s" can be a few ms):
		 * counted here once the server's log has them */
		usleep(200000);
		before = logged("DNS_TEST_SLOW_LOG", last);

		resolver_begin(d, 150, &r);
		for (int i = 0; i < N; i++) {
			memset(&qs[i], 0, sizeof(qs[i]));
			snprintf(qs[i].name, sizeof(qs[i].name),
			    "w%d.test.example", i);
			qs[i].type = SPF_T_A;
			r.submit(r.ctx, &qs[i]);
		}
		for (int i = 0; i < N; i++)
			await_answer(&r, &qs[i]);
		for (int i = 0; i < N; i++) {
			if (qs[i].answer->status == SPF_DNS_TIMEOUT)
				timeouts++;
			else if (qs[i].answer->status != SPF_DNS_OK)
				fail_msg("%s: status %d",
				    qs[i].name, qs[i].answer->status);
			r.drop(r.ctx, &qs[i]);
		}
		assert_true(timeouts >= N - 2 * CAP);
		usleep(200000);		/* the server's log catches up */
		assert_int_equal(logged("DNS_TEST_SLOW_LOG", last), before);
	}
	resolver_free(d);
}

static void
test_drop_in_flight(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q, q2;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_SLOW", 3000));
	resolver_begin(d, 0, &r);
	memset(&q2, 0, sizeof(q2));
	strcpy(q2.name, "p1.test.example");
	q2.type = SPF_T_A;
	r.submit(r.ctx, &q2);
	r.drop(r.ctx, &q2);
	assert_null(q2.answer);
	ask(&r, &q, "p2.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	r.drop(r.ctx, &q);
	/* freeing with a question still in flight */
	r.submit(r.ctx, &q2);
	resolver_free(d);
}

/* A UDP socket on loopback that never answers: a dead nameserver. */
static int
mute_server(struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

/* Questions waiting on FD (a mute server's socket), read and dropped. */
static int
drain(int fd)
{
	char buf[1500];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

static void
test_servers(void **state)
{
	struct resolver_config c;
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;
	uint64_t t0;
	int fd;

	(void)state;
	NEED_SERVERS();
	/* a nameserver on ::1 */
	memset(&c, 0, sizeof(c));
	server_at(&c.servers[0], 1, "DNS_TEST_V6");
	c.nservers = 1;
	assert_non_null(d = resolver_new(&c));
	resolver_begin(d, 0, &r);
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	r.drop(r.ctx, &q);
	resolver_free(d);
	/* a dead nameserver first: the next is asked after a second, well
	 * within the deadline */
	fd = mute_server(&c.servers[0]);
	server_at(&c.servers[1], 1, "DNS_TEST_V6");
	c.nservers = 2;
	c.timeout_ms = 3000;
	assert_non_null(d = resolver_new(&c));
	resolver_begin(d, 0, &r);
	t0 = msec();
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	assert_in_range(msec() - t0, 0, 2100);
	r.drop(r.ctx, &q);
	resolver_free(d);
	/* only dead ones: the deadline, not udns's retries, ends it */
	c.nservers = 1;
	c.timeout_ms = 400;
	assert_non_null(d = resolver_new(&c));
	resolver_begin(d, 0, &r);
	t0 = msec();
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_TIMEOUT);
	assert_in_range(msec() - t0, 350, 800);
	r.drop(r.ctx, &q);
	resolver_free(d);
	close(fd);
}

/* The include chain inc0 -> ... -> inc10 (ip4:192.0.2.1) through D:
 * its result, and the time it took in *MS. */
static enum spf_result
include_chain(struct resolver *d, unsigned deadline_ms, uint64_t *ms)
{
	struct spf_request req;
	struct spf_resolver r;
	struct spf_outcome out;
	uint64_t t0 = msec();

	memset(&req, 0, sizeof(req));
	assert_int_equal(spf_request_set_ip(&req, "192.0.2.1"), 0);
	req.identity = SPF_ID_MAILFROM;
	req.sender = "someone@inc0.test.example";
	req.helo = "inc0.test.example";
	resolver_begin(d, deadline_ms, &r);
	spf_check(&req, &r, &out);
	*ms = msec() - t0;
	return out.result;
}

/* A nameserver that comes back: relays what arrives on FD to the plain
 * server and its answers back, one question at a time, until told to
 * stop (or 20 s, whatever comes first). */
struct relay {
	int fd;
	volatile int stop;
	int relayed;		/* atomic: the relay thread counts */
};

static void *
relay_thread(void *arg)
{
	struct relay *rl = arg;
	struct sockaddr_in up, from;
	unsigned char buf[4096];
	uint64_t t0 = msec();
	int ufd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&up, 0, sizeof(up));
	up.sin_family = AF_INET;
	up.sin_port = htons((uint16_t)env_port("DNS_TEST_PLAIN"));
	up.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!rl->stop && msec() - t0 < 20000) {
		struct pollfd p = { rl->fd, POLLIN, 0 };
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&p, 1, 50) != 1)
			continue;
		n = recvfrom(rl->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0 || sendto(ufd, buf, (size_t)n, 0,
		    (struct sockaddr *)&up, sizeof(up)) != n)
			continue;
		p.fd = ufd;
		if (poll(&p, 1, 1000) != 1 ||
		    (n = recv(ufd, buf, sizeof(buf), 0)) <= 0)
			continue;
		/* counted before the client can have the answer: the test
		 * reads the count as soon as its evaluation ends */
		__atomic_add_fetch(&rl->relayed, 1, __ATOMIC_SEQ_CST);
		sendto(rl->fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
	close(ufd);
	return NULL;
}

static void
test_dead_server(void **state)
{
	struct resolver_config c;
	struct resolver *d;
	struct relay rl = { -1, 0, 0 };
	pthread_t tid;
	uint64_t ms;
	int seen;

	(void)state;
	NEED_SERVERS();
	/* the first server never answers, the second at once */
	memset(&c, 0, sizeof(c));
	rl.fd = mute_server(&c.servers[0]);
	c.servers[1] = c.servers[0];
	((struct sockaddr_in *)&c.servers[1])->sin_port =
	    htons((uint16_t)env_port("DNS_TEST_PLAIN"));
	c.nservers = 2;
	c.dead_retry_ms = 500;
	assert_non_null(d = resolver_new(&c));
	/* 11 round trips one after the other: the dead server costs one
	 * second once, not one per round trip (11 s, past the deadline) */
	assert_int_equal(include_chain(d, 4000, &ms), SPF_PASS);
	printf("# include chain 10 deep, first of two servers dead: %llu ms\n",
	    (unsigned long long)ms);
	resolver_free(d);
	/* remembered by the process: another resolver (another thread's)
	 * does not ask it at all, counted at the dead server itself (a
	 * time bound would also catch a slow test server on a busy
	 * machine) */
	(void)drain(rl.fd);
	assert_non_null(d = resolver_new(&c));
	assert_int_equal(include_chain(d, 4000, &ms), SPF_PASS);
	printf("# the same again, another resolver: %llu ms\n",
	    (unsigned long long)ms);
	assert_int_equal(drain(rl.fd), 0);
	/* it comes back: once its 500 ms are over, a question asks it first
	 * again, and then every question does */
	assert_int_equal(pthread_create(&tid, NULL, relay_thread, &rl), 0);
	usleep(600000);
	assert_int_equal(include_chain(d, 4000, &ms), SPF_PASS);
	seen = __atomic_load_n(&rl.relayed, __ATOMIC_SEQ_CST);
	assert_true(seen >= 1);
	assert_int_equal(include_chain(d, 4000, &ms), SPF_PASS);
	/* each of the 11 round trips asks it (udns may send one again when
	 * an answer is slow: at least 11) */
	assert_true(__atomic_load_n(&rl.relayed, __ATOMIC_SEQ_CST) - seen >= 11);
	rl.stop = 1;
	assert_int_equal(pthread_join(tid, NULL), 0);
	close(rl.fd);
	resolver_free(d);
}

/* Questions the plain server saw for NAME TYPE over UDP. */
static int
asked(const char *name, const char *type)
{
	char needle[300];

	snprintf(needle, sizeof(needle), " %s %s udp", name, type);
	return logged("DNS_TEST_PLAIN_LOG", needle);
}

static void
test_cache(void **state)
{
	struct resolver_cache *c;
	struct resolver *d, *d2;
	struct spf_resolver r, r2;
	struct spf_query q;
	int before;
	char name[32];

	(void)state;
	assert_null(resolver_cache_new(0, 1 << 20));
	assert_null(resolver_cache_new(1000001, 1 << 20));
	NEED_SERVERS();
	assert_non_null(c = resolver_cache_new(3, 1 << 20));
	assert_non_null(d = resolver_cached("DNS_TEST_PLAIN", 3000, c));
	assert_non_null(d2 = resolver_cached("DNS_TEST_PLAIN", 3000, c));
	resolver_begin(d, 0, &r);
	resolver_begin(d2, 0, &r2);
	/* asked once, answered twice: the same data, no time taken */
	before = asked("multi.test.example", "TXT");
	ask(&r, &q, "multi.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->count, 2);
	r.drop(r.ctx, &q);
	ask(&r, &q, "MULTI.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	assert_int_equal(q.answer->count, 2);
	assert_int_equal(q.usec, 0);
	assert_true(q.answer->ttl <= 3600 && q.answer->ttl >= 3598);
	assert_int_equal(q.answer->rr[0].len, 3);
	assert_int_equal(q.answer->rr[0].data[3], '\0');
	r.drop(r.ctx, &q);
	/* shared: the other thread's resolver finds it too */
	ask(&r2, &q, "multi.test.example", SPF_T_TXT);
	assert_int_equal(q.usec, 0);
	r2.drop(r2.ctx, &q);
	assert_int_equal(asked("multi.test.example", "TXT"), before + 1);
	/* another type is another entry */
	ask(&r, &q, "multi.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_NODATA);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("multi.test.example", "A"), 1);
	/* no such name: kept for the negative TTL */
	before = asked("gone.test.example", "TXT");
	for (int i = 0; i < 2; i++) {
		ask(&r, &q, "gone.test.example", SPF_T_TXT);
		assert_int_equal(q.answer->status, SPF_DNS_NXDOMAIN);
		assert_true(q.answer->ttl <= 300);
		r.drop(r.ctx, &q);
	}
	assert_int_equal(asked("gone.test.example", "TXT"), before + 1);
	/* a failure is never kept */
	before = asked("fail.test.example", "TXT");
	for (int i = 0; i < 2; i++) {
		ask(&r, &q, "fail.test.example", SPF_T_TXT);
		assert_int_equal(q.answer->status, SPF_DNS_SERVFAIL);
		r.drop(r.ctx, &q);
	}
	assert_int_equal(asked("fail.test.example", "TXT"), before + 2);
	/* three entries at most: the least recently used goes */
	for (int i = 10; i < 14; i++) {
		snprintf(name, sizeof(name), "p%d.test.example", i);
		ask(&r, &q, name, SPF_T_A);
		assert_int_equal(q.answer->status, SPF_DNS_OK);
		r.drop(r.ctx, &q);
	}
	ask(&r, &q, "p13.test.example", SPF_T_A);
	assert_int_equal(q.usec, 0);
	r.drop(r.ctx, &q);
	ask(&r, &q, "p10.test.example", SPF_T_A);
	assert_true(q.usec > 0);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("p10.test.example", "A"), 2);
	assert_int_equal(asked("p13.test.example", "A"), 1);
	/* an answer from the cache is the cache's own, not a copy: it stays
	 * whole while held, through its entry's eviction, and two holders
	 * see the same (the sanitizer build checks the memory) */
	{
		struct spf_query held, again;

		ask(&r, &held, "p10.test.example", SPF_T_A);
		ask(&r2, &again, "p10.test.example", SPF_T_A);
		assert_int_equal(held.usec, 0);
		assert_ptr_equal(held.answer, again.answer);
		r2.drop(r2.ctx, &again);
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "p%d.test.example", i);
			ask(&r, &q, name, SPF_T_A);
			r.drop(r.ctx, &q);
		}
		ask(&r, &q, "p10.test.example", SPF_T_A);
		assert_true(q.usec > 0);	/* evicted: asked again */
		assert_ptr_not_equal(q.answer, held.answer);
		r.drop(r.ctx, &q);
		assert_int_equal(held.answer->status, SPF_DNS_OK);
		assert_int_equal(held.answer->count, 1);
		assert_int_equal(held.answer->rr[0].len, 4);
		assert_int_equal(held.answer->rr[0].data[3], 10);
		r.drop(r.ctx, &held);
		assert_null(held.answer);
	}
	/* kept no longer than its TTL (1 s here) */
	ask(&r, &q, "short.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->ttl, 1);
	r.drop(r.ctx, &q);
	{
		struct timespec ts = { 2, 100000000 };

		nanosleep(&ts, NULL);
	}
	resolver_begin(d, 0, &r);
	ask(&r, &q, "short.test.example", SPF_T_TXT);
	assert_true(q.usec > 0);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("short.test.example", "TXT"), 2);
	resolver_free(d);
	resolver_free(d2);
	resolver_cache_free(c);
}

/* Descriptors the process has open. */
static int
open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* Between evaluations a resolver can be put to rest: its sockets close
 * (the milter keeps idle resolvers, which must hold no descriptor), and
 * it asks again as before. */
static void
test_rest(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;
	int with, without;

	(void)state;
	NEED_SERVERS();
	assert_non_null(d = resolver_at("DNS_TEST_PLAIN", 3000));
	resolver_begin(d, 0, &r);
	ask(&r, &q, "p1.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	r.drop(r.ctx, &q);
	with = open_fds();
	resolver_rest(d);
	without = open_fds();
	assert_int_equal(without, with - 1);
	resolver_rest(d);	/* twice: nothing more to close */
	assert_int_equal(open_fds(), without);
	resolver_begin(d, 0, &r);
	ask(&r, &q, "p2.test.example", SPF_T_A);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	assert_int_equal(q.answer->rr[0].data[3], 2);
	r.drop(r.ctx, &q);
	assert_int_equal(open_fds(), with);
	resolver_free(d);
}

/* Heap bytes in use (glibc; run-dns-tests.sh turns its per-thread cache
 * of free chunks off, which would count as in use); 0 elsewhere. */
static size_t
heap_used(void)
{
#ifdef __GLIBC__
	return mallinfo2().uordblks;
#else
	return 0;
#endif
}

static void
test_cache_bytes(void **state)
{
	enum { BOUND = 32 * 1024 };
	struct resolver_cache *c;
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;
	char name[64];
	size_t before, held;

	(void)state;
	/* not even room for its table */
	assert_null(resolver_cache_new(1000, 200));
	NEED_SERVERS();
	/* what the first resolver, question and log read allocate once for
	 * good (udns's default context, stdio's buffers) is not the
	 * cache's: allocated before the count starts */
	assert_non_null(c = resolver_cache_new(1000, BOUND));
	assert_non_null(d = resolver_cached("DNS_TEST_PLAIN", 3000, c));
	resolver_begin(d, 0, &r);
	ask(&r, &q, "p0.test.example", SPF_T_A);
	r.drop(r.ctx, &q);
	(void)asked("p0.test.example", "A");
	resolver_free(d);
	resolver_cache_free(c);
	before = heap_used();
	assert_non_null(c = resolver_cache_new(1000, BOUND));
	assert_non_null(d = resolver_cached("DNS_TEST_PLAIN", 3000, c));
	resolver_begin(d, 0, &r);
	/* 30 answers of about 3.9 KB each as kept, 117 KB: 1000 entries
	 * would hold them all, 32 KB do not */
	for (int i = 0; i < 30; i++) {
		if (i < 20)
			snprintf(name, sizeof(name), "fat%d.test.example", i);
		else
			snprintf(name, sizeof(name), "many%d.test.example",
			    i - 20);
		ask(&r, &q, name, i < 20 ? SPF_T_TXT : SPF_T_A);
		assert_int_equal(q.answer->status, SPF_DNS_OK);
		assert_int_equal(q.answer->count, i < 20 ? 1 : 180);
		if (i < 20)
			assert_int_equal(q.answer->rr[0].len, 3750);
		r.drop(r.ctx, &q);
	}
	/* the newest are kept, the oldest went */
	ask(&r, &q, "many9.test.example", SPF_T_A);
	assert_int_equal(q.usec, 0);
	assert_int_equal(q.answer->count, 180);
	r.drop(r.ctx, &q);
	ask(&r, &q, "fat0.test.example", SPF_T_TXT);
	assert_true(q.usec > 0);
	r.drop(r.ctx, &q);
	assert_int_equal(asked("fat0.test.example", "TXT"), 2);
	/* 300 empty strings: 4.7 KB as kept, more than one answer may take */
	for (int i = 0; i < 2; i++) {
		ask(&r, &q, "tiny.test.example", SPF_T_TXT);
		assert_int_equal(q.answer->count, 300);
		r.drop(r.ctx, &q);
	}
	assert_int_equal(asked("tiny.test.example", "TXT"), 2);
	/* what the cache holds now, as malloc counts it */
	resolver_free(d);
	held = heap_used() - before;
	printf("# cache of at most %d bytes, after 32 answers of ~4 KB: "
	    "%zu bytes on the heap\n", BOUND, held);
	assert_true(held <= BOUND);
	resolver_cache_free(c);
}

struct worker {
	struct resolver_cache *cache;
	int errors;
};

/* One thread's share: its own resolver, the common cache. */
static void *
worker(void *arg)
{
	struct worker *w = arg;
	struct resolver *d = resolver_cached("DNS_TEST_PLAIN", 3000, w->cache);
	struct spf_resolver r;
	struct spf_query q[4];

	if (d == NULL) {
		w->errors++;
		return NULL;
	}
	resolver_begin(d, 0, &r);
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 4; i++) {
			memset(&q[i], 0, sizeof(q[i]));
			snprintf(q[i].name, sizeof(q[i].name),
			    "p%d.test.example", (round + i) % 16);
			q[i].type = SPF_T_A;
			r.submit(r.ctx, &q[i]);
		}
		for (int i = 0; i < 4; i++) {
			await_answer(&r, &q[i]);
			if (q[i].answer->status != SPF_DNS_OK ||
			    q[i].answer->rr[0].data[3] != (round + i) % 16)
				w->errors++;
			r.drop(r.ctx, &q[i]);
		}
	}
	resolver_free(d);
	return NULL;
}

static void
test_cache_threads(void **state)
{
	enum { N = 4 };
	struct worker w[N];
	pthread_t t[N];
	struct resolver_cache *c;

	(void)state;
	NEED_SERVERS();
	/* smaller than the 16 names: entries come and go all the time */
	assert_non_null(c = resolver_cache_new(8, 1 << 20));
	for (int i = 0; i < N; i++) {
		w[i].cache = c;
		w[i].errors = 0;
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	resolver_cache_free(c);
}

static void
test_from_environment(void **state)
{
	struct resolver *d;
	struct spf_resolver r;
	struct spf_query q;

	(void)state;
	NEED_SERVERS();
	/* main() pointed NAMESERVERS/RES_OPTIONS at the plain server */
	assert_non_null(d = resolver_new(NULL));
	resolver_begin(d, 0, &r);
	ask(&r, &q, "txt.test.example", SPF_T_TXT);
	assert_int_equal(q.answer->status, SPF_DNS_OK);
	r.drop(r.ctx, &q);
	resolver_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_txt),
		cmocka_unit_test(test_reply_addresses),
		cmocka_unit_test(test_reply_mx_ptr),
		cmocka_unit_test(test_reply_cname),
		cmocka_unit_test(test_reply_chains),
		cmocka_unit_test(test_reply_long_chain),
		cmocka_unit_test(test_reply_negative),
		cmocka_unit_test(test_reply_hostile),
		cmocka_unit_test(test_reply_huge),
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_chains),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_many_at_once),
		cmocka_unit_test(test_drop_in_flight),
		cmocka_unit_test(test_servers),
		cmocka_unit_test(test_dead_server),
		cmocka_unit_test(test_rest),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_bytes),
		cmocka_unit_test(test_cache_threads),
		cmocka_unit_test(test_from_environment),
	};
	char opts[32];

	/* udns reads these once, when the first resolver is made */
	if (have_servers()) {
		snprintf(opts, sizeof(opts), "port:%u",
		    env_port("DNS_TEST_PLAIN"));
		setenv("NAMESERVERS", "127.0.0.1", 1);
		setenv("RES_OPTIONS", opts, 1);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
