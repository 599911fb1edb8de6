/*
 * spf.c - check_host() of RFC 7208: record selection, parsing, macro
 * expansion, mechanism evaluation, limits and the explanation.
 *
 * Pure by design: no globals, no I/O, no threads.  DNS questions go
 * through the struct spf_resolver of spf.h.  One evaluation holds a pool
 * of questions; a question is asked at most once per evaluation, and the
 * records of later include/a/mx/exists/redirect terms are looked up ahead
 * of their turn so that an evaluation costs round trips close to the
 * depth of its include tree.
 *
 * No limit of ours decides a result.  The pool has room for every
 * question RFC 7208 lets an evaluation need (POOL_NEEDED) and, apart
 * from that, for what is asked ahead (POOL_AHEAD), so a question asked
 * ahead never takes the place of one the evaluation needs.  What is
 * asked ahead is bounded like the evaluation itself: at most 10 term
 * lookups ahead per evaluation and the addresses of the hosts of their MX
 * answers; one evaluation sends at most POOL_MAX questions, whatever the
 * records say: no amplifier for a hostile domain.  At most
 * SPF_MAX_IN_FLIGHT questions are unanswered at once; questions asked
 * ahead wait for room instead of crowding the resolver.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spf.h"

/* MX or PTR names one term may look up the addresses of. */
#define NAMES_MAX	(SPF_MAX_MX_NAMES > SPF_MAX_PTR_NAMES ? \
			    SPF_MAX_MX_NAMES : SPF_MAX_PTR_NAMES)
/* Questions one evaluation may need in its turn (RFC 7208 4.6.4): the
 * record of the domain, the 10 DNS terms (include and redirect among
 * them) each with the addresses of up to 10 MX or PTR names, the PTR
 * lookup of %{p} with its 10 names, the exp= record. */
#define POOL_NEEDED	(1 + SPF_MAX_DNS_MECH * (1 + NAMES_MAX) + \
			    1 + SPF_MAX_PTR_NAMES + 1)
/* Questions asked ahead: 10 term lookups, and the addresses of the at
 * most 10 hosts of each MX answer among them. */
#define AHEAD_TERMS	SPF_MAX_DNS_MECH
#define POOL_AHEAD	(AHEAD_TERMS * (1 + SPF_MAX_MX_NAMES))
#define POOL_MAX	(POOL_NEEDED + POOL_AHEAD)
/* The pool grows in chunks, whose addresses the resolver may keep while
 * a question is in flight; most evaluations need one chunk. */
#define POOL_CHUNK	16
#define POOL_CHUNKS	((POOL_MAX + POOL_CHUNK - 1) / POOL_CHUNK)
/* Questions asked ahead are sent only while fewer than this many are
 * unanswered, which leaves room under SPF_MAX_IN_FLIGHT for the up to
 * 10 + 1 a term needs at once. */
#define AHEAD_IN_FLIGHT	(SPF_MAX_IN_FLIGHT / 2)
/* Deepest include/redirect nesting: each one counts against the 10. */
#define MAX_DEPTH	(SPF_MAX_DNS_MECH + 1)
/* An expanded domain-spec keeps its last NAME_WINDOW - 1 bytes: RFC
 * 7208 4.8 keeps at most the 253 on the right, and the dot before them
 * (and a trailing dot) must be seen to cut at a label. */
#define NAME_WINDOW	512
#define WAIT_ROUNDS_MAX	65536	/* resolver events while awaiting one answer */

_Static_assert(NAME_WINDOW >= 253 + 3, "the window holds a name, the dot "
    "before it and a trailing dot");
_Static_assert(AHEAD_IN_FLIGHT + 1 + NAMES_MAX <= SPF_MAX_IN_FLIGHT,
    "room for a term's questions beside those asked ahead");

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS };

static const char *const mech_names[] = {
	"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"
};

/* What evaluating one mechanism gives. */
enum match {
	MATCH_NO,
	MATCH_YES,
	MATCH_TEMPERROR,	/* ends the evaluation with temperror */
	MATCH_PERMERROR		/* ends the evaluation with permerror */
};

/* What looking for a domain's record gives. */
enum fetch {
	FETCH_FOUND,		/* one SPF record, parsed */
	FETCH_NONE,		/* no SPF record */
	FETCH_TEMPERROR,
	FETCH_PERMERROR		/* two records, or one that does not parse */
};

/* What expanding a domain-spec into a name to ask gives. */
enum name_status {
	NAME_OK,
	NAME_INVALID,		/* no name that could be asked */
	NAME_PERMERROR		/* %{p} went over the void lookup limit */
};

struct term {
	char qual;			/* '+', '-', '~', '?' */
	enum mech mech;
	const char *spec;		/* domain-spec or address, not terminated */
	size_t speclen;
	int cidr4, cidr6;		/* prefix lengths; -1 when absent */
	unsigned char addr[16];		/* ip4/ip6 network */
	const char *text;		/* the whole term, for outcome and trace */
	size_t textlen;
};

/* The terms of a record of up to RECORD_FEW are kept in it: most
 * records are short, and malloc costs most where threads share it
 * (musl). */
#define RECORD_FEW	24

struct record {
	struct term *terms;		/* few, or from calloc() */
	unsigned nterms;
	const char *redirect, *exp;	/* domain-specs, not terminated */
	size_t redirectlen, explen;
	struct term few[RECORD_FEW];	/* cleared term by term as used */
};

struct pooled {
	struct spf_query q;
	unsigned submitted:1;		/* handed to the resolver */
	unsigned waited:1;
	unsigned speculative:1;		/* asked ahead of its turn */
	unsigned expanded:1;		/* look-ahead done on its answer */
	int depth;			/* include depth of the term that asked */
};

/* A piece of text that is not NUL-terminated. */
struct span {
	const char *s;
	size_t len;
};

struct eval {
	const struct spf_request *req;
	const struct spf_resolver *res;
	struct spf_outcome *out;
	/* The parts of <sender> and the HELO name point into the request
	 * (or at "postmaster"): copied, a long one would be cut. */
	struct span local, helo;
	char sender_domain[256];	/* "" when it is no possible domain */
	struct span sender;		/* %{s}: out->sender, or sender_heap */
	char *sender_heap;
	char ptr_name[256];		/* %{p}, looked up once */
	int have_ptr_name;
	int explaining;			/* expanding the explanation */
	unsigned dns_terms;		/* counted against SPF_MAX_DNS_MECH */
	unsigned ahead;			/* term lookups sent ahead of their turn */
	unsigned voids;
	unsigned asked_needed, asked_ahead;	/* pool entries of each kind */
	int in_include;
	struct pooled *chunk[POOL_CHUNKS];
	unsigned npool;
	/* the first chunk, which most evaluations need alone: here, not
	 * from malloc, which costs most where threads share it (musl).
	 * Not cleared with the rest (eval_init()): pool_ask() clears each
	 * entry it takes, so a fresh thread's stack is touched no deeper
	 * than the entries used. */
	struct pooled first[POOL_CHUNK];
};

/* Clear E but for its first chunk. */
static void
eval_init(struct eval *e)
{
	memset(e, 0, offsetof(struct eval, first));
}

/* ----------------------------------------------------- bounded strings */

void
spf_buf_init(struct spf_buf *b, char *buf, size_t size)
{
	b->s = buf;
	b->size = size;
	b->len = 0;
	b->overflow = 0;
	if (size > 0)
		buf[0] = '\0';
	else
		b->overflow = 1;
}

int
spf_buf_add(struct spf_buf *b, const char *s, size_t len)
{
	if (b->size == 0 || len >= b->size - b->len) {
		b->overflow = 1;
		return -1;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

int
spf_buf_addc(struct spf_buf *b, char c)
{
	return spf_buf_add(b, &c, 1);
}

int
spf_buf_adds(struct spf_buf *b, const char *s)
{
	return spf_buf_add(b, s, strlen(s));
}

int
spf_buf_addf(struct spf_buf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = b->size > b->len ? b->size - b->len : 0;
	int n;

	if (room == 0) {
		b->overflow = 1;
		return -1;
	}
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		b->s[b->len] = '\0';	/* take back the part that fit */
		b->overflow = 1;
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

void
spf_buf_truncate(struct spf_buf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->s[len] = '\0';
	}
}

int
spf_strlcpy_exact(char *buf, const char *s, size_t size)
{
	size_t n = strlen(s);

	if (size == 0)
		return -1;
	if (n >= size) {
		buf[0] = '\0';
		return -1;
	}
	memcpy(buf, s, n + 1);
	return 0;
}

/* ------------------------------------------------------- small helpers */

const char *
spf_result_name(enum spf_result r)
{
	static const char *const names[SPF_NRESULTS] = {
		"none", "neutral", "pass", "fail", "softfail",
		"temperror", "permerror"
	};

	return (unsigned)r < SPF_NRESULTS ? names[r] : "unknown";
}

int
spf_result_parse(const char *name)
{
	int r;

	for (r = 0; r < SPF_NRESULTS; r++)
		if (strcasecmp(name, spf_result_name(r)) == 0)
			return r;
	return -1;
}

struct spf_answer *
spf_answer_new(enum spf_dns_status status, uint32_t ttl, unsigned count,
    size_t datalen)
{
	struct spf_answer *a;

	if (count > 65535 || datalen > (1u << 24))
		return NULL;
	a = calloc(1, sizeof(*a) + count * sizeof(a->rr[0]) + datalen + 1);
	if (a == NULL)
		return NULL;
	a->status = status;
	a->ttl = ttl;
	a->count = count;
	return a;
}

int
spf_addr_set(int af, const void *addr, int *family, unsigned char *ip)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (af == AF_INET) {
		*family = AF_INET;
		memcpy(ip, addr, 4);
	} else if (af == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
		*family = AF_INET;
		memcpy(ip, (const unsigned char *)addr + 12, 4);
	} else if (af == AF_INET6) {
		*family = AF_INET6;
		memcpy(ip, addr, 16);
	} else {
		return -1;
	}
	return 0;
}

int
spf_request_set_ip(struct spf_request *req, const char *text)
{
	unsigned char buf[16];

	if (text == NULL)
		return -1;
	if (inet_pton(AF_INET, text, buf) == 1)
		return spf_addr_set(AF_INET, buf, &req->family, req->ip);
	if (inet_pton(AF_INET6, text, buf) != 1)
		return -1;
	return spf_addr_set(AF_INET6, buf, &req->family, req->ip);
}

const char *
spf_ip_text(int family, const unsigned char *ip, char *buf, size_t len)
{
	if (inet_ntop(family, ip, buf, len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static int
is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* toplabel of RFC 7208 7.1: alphanumeric, not all digits, hyphens inside. */
static int
valid_toplabel(const char *s, size_t len)
{
	size_t i;
	int alpha = 0;

	if (len == 0 || len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '-')
			alpha = 1;	/* 1*alphanum "-" ... form */
		else if (is_alpha(s[i]))
			alpha = 1;
		else if (!is_digit(s[i]))
			return 0;
	}
	return alpha;
}

int
spf_valid_domain(const char *name)
{
	size_t len, label = 0, labels = 0, i;

	if (name == NULL)
		return 0;
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253 || name[0] == '[')
		return 0;
	for (i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return 0;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

/* Format into BUF of SIZE bytes (>= 4); text that does not fit ends in
 * "...", so a cut is never silent.  For traces and messages, never for a
 * name that is asked. */
static void
vformat_marked(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, size, fmt, ap);

	if (n < 0 || (size_t)n >= size)
		memcpy(buf + size - 4, "...", 4);
}

/* printf arguments for "%.*s%s": at most MAX bytes of S (LEN bytes), then
 * "..." when S is longer. */
#define CUT(s, len, max) \
	(int)((len) > (max) ? (max) : (len)), (s), ((len) > (max) ? "..." : "")

static void
trace(struct eval *e, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	size_t i;

	if (e->req->trace == NULL)
		return;
	va_start(ap, fmt);
	vformat_marked(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Records and names come from the network: show them printable. */
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			line[i] = '?';
	e->req->trace(e->req->trace_arg, line);
}

static void
set_problem(struct eval *e, const char *fmt, ...)
{
	va_list ap;

	if (e->out->problem[0] != '\0')
		return;		/* keep the first, deepest cause */
	va_start(ap, fmt);
	vformat_marked(e->out->problem, sizeof(e->out->problem), fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------- the question pool */

static const char *
type_name(uint16_t type)
{
	switch (type) {
	case SPF_T_A: return "A";
	case SPF_T_AAAA: return "AAAA";
	case SPF_T_MX: return "MX";
	case SPF_T_TXT: return "TXT";
	case SPF_T_PTR: return "PTR";
	}
	return "?";
}

static const char *
status_name(enum spf_dns_status s)
{
	switch (s) {
	case SPF_DNS_OK: return "ok";
	case SPF_DNS_NODATA: return "no data";
	case SPF_DNS_NXDOMAIN: return "NXDOMAIN";
	case SPF_DNS_SERVFAIL: return "server failure";
	case SPF_DNS_TIMEOUT: return "timeout";
	}
	return "?";
}

/* One trace line for an answer: its records (cut short, marked), its
 * time. */
static void
trace_answer(struct eval *e, const struct spf_query *q,
    const struct spf_answer *a)
{
	char recs[400], one[300];
	struct spf_buf b;
	unsigned i;

	if (e->req->trace == NULL)
		return;
	spf_buf_init(&b, recs, sizeof(recs) - 3);
	for (i = 0; a->status == SPF_DNS_OK && i < a->count; i++) {
		const struct spf_rr *rr = &a->rr[i];

		if (q->type == SPF_T_A || q->type == SPF_T_AAAA)
			spf_ip_text(rr->len == 4 ? AF_INET : AF_INET6, rr->data,
			    one, sizeof(one));
		else if (q->type == SPF_T_MX)
			snprintf(one, sizeof(one), "%u %.*s%s", rr->pref,
			    CUT((const char *)rr->data, rr->len, 250));
		else if (q->type == SPF_T_TXT)
			snprintf(one, sizeof(one), "\"%.*s%s\"",
			    CUT((const char *)rr->data, rr->len, 200));
		else
			snprintf(one, sizeof(one), "%.*s%s",
			    CUT((const char *)rr->data, rr->len, 250));
		if ((i > 0 && spf_buf_adds(&b, ", ") != 0) ||
		    spf_buf_adds(&b, one) != 0)
			break;
	}
	if (b.overflow)
		memcpy(recs + b.len, "...", 4);	/* the 3 bytes kept aside */
	trace(e, "dns %s %s: %s (%u.%03u ms)", type_name(q->type), q->name,
	    a->status == SPF_DNS_OK ? recs : status_name(a->status),
	    q->usec / 1000, q->usec % 1000);
}

static struct pooled *
pool_at(struct eval *e, unsigned i)
{
	return &e->chunk[i / POOL_CHUNK][i % POOL_CHUNK];
}

static struct pooled *
pool_find(struct eval *e, const char *name, uint16_t type)
{
	unsigned i;

	for (i = 0; i < e->npool; i++) {
		struct pooled *p = pool_at(e, i);

		if (p->q.type == type && strcasecmp(p->q.name, name) == 0)
			return p;
	}
	return NULL;
}

/* The first question handed to the resolver and not yet answered. */
static struct pooled *
first_in_flight(struct eval *e, unsigned *count)
{
	struct pooled *first = NULL;
	unsigned i, n = 0;

	for (i = 0; i < e->npool; i++) {
		struct pooled *p = pool_at(e, i);

		if (p->submitted && p->q.answer == NULL) {
			if (first == NULL)
				first = p;
			n++;
		}
	}
	*count = n;
	return first;
}

static void
submit(struct eval *e, struct pooled *p)
{
	p->submitted = 1;
	e->out->queries++;
	e->res->submit(e->res->ctx, &p->q);
}

/* Wait for answers until fewer than SPF_MAX_IN_FLIGHT questions are
 * open.  The resolver's deadline answers everything in the end; the
 * bound only keeps a broken resolver from spinning forever. */
static void
make_room(struct eval *e)
{
	struct pooled *p;
	unsigned n, rounds;

	for (rounds = 0; rounds < WAIT_ROUNDS_MAX; rounds++) {
		if ((p = first_in_flight(e, &n)) == NULL ||
		    n < SPF_MAX_IN_FLIGHT)
			return;
		e->res->wait(e->res->ctx, &p->q);
	}
}

/* Ask questions asked ahead that waited for room, while there is. */
static void
submit_waiting(struct eval *e)
{
	unsigned i, n;

	first_in_flight(e, &n);
	for (i = 0; i < e->npool && n < AHEAD_IN_FLIGHT; i++) {
		struct pooled *p = pool_at(e, i);

		if (!p->submitted) {
			submit(e, p);
			if (p->q.answer == NULL)
				n++;
		}
	}
}

/*
 * The pool entry for NAME/TYPE, asked unless it was asked already this
 * evaluation.  A question the evaluation needs is asked at once (after
 * waiting for room under SPF_MAX_IN_FLIGHT); one asked ahead of its turn
 * (SPECULATIVE) is sent only while fewer than AHEAD_IN_FLIGHT are open
 * and otherwise waits in the pool, and is not asked at all once
 * POOL_AHEAD were.  NULL: not asked (out of memory; for a needed
 * question the caller says so).
 */
static struct pooled *
pool_ask(struct eval *e, const char *name, uint16_t type, int speculative)
{
	struct pooled *p;
	unsigned c, n;

	if ((p = pool_find(e, name, type)) != NULL) {
		if (!speculative && !p->submitted) {
			make_room(e);
			submit(e, p);
		}
		return p;
	}
	if (speculative ? e->asked_ahead >= POOL_AHEAD :
	    e->asked_needed >= POOL_NEEDED)
		return NULL;	/* by the RFC's limits, never for a needed one */
	c = e->npool / POOL_CHUNK;
	if (e->chunk[c] == NULL && (e->chunk[c] = c == 0 ? e->first :
	    malloc(POOL_CHUNK * sizeof(*p))) == NULL)
		return NULL;
	p = pool_at(e, e->npool);
	memset(p, 0, sizeof(*p));
	if (spf_strlcpy_exact(p->q.name, name, sizeof(p->q.name)) != 0)
		return NULL;	/* callers pass names of at most 253 */
	e->npool++;
	p->q.type = type;
	p->speculative = speculative ? 1 : 0;
	if (speculative) {
		e->asked_ahead++;
		first_in_flight(e, &n);
		if (n < AHEAD_IN_FLIGHT)
			submit(e, p);
	} else {
		e->asked_needed++;
		make_room(e);
		submit(e, p);
	}
	return p;
}

static void lookahead(struct eval *e);

/* Wait for P's answer; a missing answer is a server failure. */
static const struct spf_answer *
pool_wait(struct eval *e, struct pooled *p)
{
	static const struct spf_answer failed = { SPF_DNS_SERVFAIL, 0, 0 };
	const struct spf_answer *a;

	if (!p->submitted) {
		make_room(e);
		submit(e, p);
	}
	if (!p->waited) {
		unsigned rounds;

		/* Each round takes in what has arrived and looks one step
		 * further down the answers; a round ends with P answered or
		 * with some other event (an answer, a TCP step, a retry).
		 * The resolver's deadline answers everything long before
		 * the bound, which only keeps a broken resolver from
		 * spinning forever. */
		for (rounds = 0; rounds < WAIT_ROUNDS_MAX; rounds++) {
			e->res->wait(e->res->ctx, &p->q);
			lookahead(e);
			if (p->q.answer != NULL)
				break;
		}
		p->waited = 1;
		a = p->q.answer != NULL ? p->q.answer : &failed;
		trace_answer(e, &p->q, a);
	}
	return p->q.answer != NULL ? p->q.answer : &failed;
}

/* A question the evaluation needs, asked and answered. */
static const struct spf_answer *
lookup(struct eval *e, const char *name, uint16_t type)
{
	static const struct spf_answer failed = { SPF_DNS_SERVFAIL, 0, 0 };
	struct pooled *p = pool_ask(e, name, type, 0);

	if (p == NULL) {
		set_problem(e, "out of memory asking %s %s", type_name(type),
		    name);
		trace(e, "dns %s %s: not asked, out of memory",
		    type_name(type), name);
		return &failed;
	}
	return pool_wait(e, p);
}

static void
pool_release(struct eval *e)
{
	unsigned i;

	for (i = 0; i < e->npool; i++)
		if (pool_at(e, i)->submitted)
			e->res->drop(e->res->ctx, &pool_at(e, i)->q);
	e->npool = 0;
	for (i = 0; i < POOL_CHUNKS; i++) {
		if (e->chunk[i] != e->first)
			free(e->chunk[i]);
		e->chunk[i] = NULL;
	}
}

/* The name an MX or PTR record points to, or NULL when it cannot be
 * asked as it is: a NUL inside would make it another, shorter name. */
static const char *
rr_name(const struct spf_rr *rr)
{
	const char *name = (const char *)rr->data;

	if (rr->len == 0 || rr->len > 253 || strlen(name) != rr->len)
		return NULL;
	return name;
}

/* ----------------------------------------------------------- addresses */

static int
addr_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Does the client address lie in ADDR/BITS (ADDRLEN 4 or 16)? */
static int
client_in(struct eval *e, const unsigned char *addr, size_t addrlen, int cidr4,
    int cidr6)
{
	if (addrlen == 4 && e->req->family == AF_INET)
		return addr_match(e->req->ip, addr, cidr4 < 0 ? 32 : cidr4);
	if (addrlen == 16 && e->req->family == AF_INET6)
		return addr_match(e->req->ip, addr, cidr6 < 0 ? 128 : cidr6);
	return 0;
}

static uint16_t
addr_type(struct eval *e)
{
	return e->req->family == AF_INET ? SPF_T_A : SPF_T_AAAA;
}

/* The reverse name of the client address, for ptr and %{p}: at most 32
 * nibbles with their dots and "ip6.arpa", 72 bytes. */
#define REVERSE_MAX	80

static void
reverse_name(struct eval *e, char buf[REVERSE_MAX])
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *ip = e->req->ip;
	size_t n = 0;
	int i;

	if (e->req->family == AF_INET) {
		snprintf(buf, REVERSE_MAX, "%u.%u.%u.%u.in-addr.arpa",
		    ip[3], ip[2], ip[1], ip[0]);
		return;
	}
	for (i = 15; i >= 0; i--) {
		buf[n++] = hex[ip[i] & 15];
		buf[n++] = '.';
		buf[n++] = hex[ip[i] >> 4];
		buf[n++] = '.';
	}
	memcpy(buf + n, "ip6.arpa", sizeof("ip6.arpa"));
}

/* ----------------------------------------------------- macro expansion */

static int
is_delimiter(int c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	    c == '_' || c == '=';
}

/*
 * Check the syntax of a macro-string (RFC 7208 7.1).  EXP allows the
 * letters c, r and t and spaces, which only an explanation may use.
 * *LAST is set to the offset just past the last macro-expand (0 when
 * there is none), for the domain-end rule.  Returns 0 or -1.
 */
static int
macro_syntax(const char *s, size_t len, int exp, size_t *last)
{
	size_t i = 0;

	*last = 0;
	while (i < len) {
		unsigned char c = s[i];
		int digits = 0, nonzero = 0;

		if (c < 0x21 || c > 0x7e) {
			if (!(exp && c == ' '))
				return -1;
			i++;
			continue;
		}
		if (c != '%') {
			i++;
			continue;
		}
		if (++i >= len)
			return -1;
		if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
			*last = ++i;
			continue;
		}
		if (s[i++] != '{' || i >= len)
			return -1;
		c = tolower((unsigned char)s[i++]);
		if (c == '\0' || (strchr("slodiphv", c) == NULL &&
		    !(exp && strchr("crt", c) != NULL)))
			return -1;
		/* transformers = *DIGIT [ "r" ]; a number of parts is
		 * nonzero (7.3).  Leading zeros are digits like any other:
		 * "01" is 1, as pyspf and Mail::SPF read it. */
		for (; i < len && is_digit(s[i]); i++) {
			digits = 1;
			nonzero |= s[i] != '0';
		}
		if (digits && !nonzero)
			return -1;
		if (i < len && (s[i] == 'r' || s[i] == 'R'))
			i++;
		while (i < len && is_delimiter(s[i]))
			i++;
		if (i >= len || s[i] != '}')
			return -1;
		*last = ++i;
	}
	return 0;
}

/*
 * A domain-spec (RFC 7208 7.1): macro-string domain-end, where
 * domain-end is a macro-expand, or "." toplabel ["."] written out (a
 * '}' or a '%' that ends no macro-expand is neither).
 */
static int
domain_spec_syntax(const char *s, size_t len)
{
	size_t last, end, dot;

	if (len == 0 || macro_syntax(s, len, 0, &last) != 0)
		return -1;
	if (last == len)
		return 0;	/* ends in a macro-expand */
	end = s[len - 1] == '.' ? len - 1 : len;
	for (dot = end; dot > last && s[dot - 1] != '.'; dot--)
		;
	if (dot <= last || dot == 0)
		return -1;	/* no literal "." before the last label */
	return valid_toplabel(s + dot, end - dot) ? 0 : -1;
}

/* Does the (checked) macro-string S use %{p}? */
static int
uses_p(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 2 < len; i++)
		if (s[i] == '%') {
			if (s[i + 1] == '{' && (s[i + 2] == 'p' || s[i + 2] == 'P'))
				return 1;
			i++;	/* "%%", "%_", "%-" or "%{" */
		}
	return 0;
}

/*
 * Where an expansion goes.  A name keeps its right end: RFC 7208 4.8
 * drops labels on the left, so only the last bytes can matter, and total
 * says how long the whole was.  An explanation keeps its start; when it
 * does not fit, the buffer is marked overflowed (and the caller shows
 * the cut).
 */
struct sink {
	struct spf_buf b;
	size_t total;		/* bytes put, kept or not */
	int tail;		/* keep the right end */
};

static void
sink_init(struct sink *k, char *buf, size_t size, int tail)
{
	spf_buf_init(&k->b, buf, size);
	k->total = 0;
	k->tail = tail;
}

static void
sink_put(struct sink *k, const char *s, size_t n)
{
	struct spf_buf *b = &k->b;
	size_t room = b->size - 1, drop;

	k->total += n;
	if (!k->tail) {
		/* What fits of the first piece that does not, then nothing:
		 * the text stays one piece, cut at its end. */
		if (!b->overflow && spf_buf_add(b, s, n) != 0)
			(void)spf_buf_add(b, s, room - b->len);
		return;
	}
	if (n >= room) {
		memcpy(b->s, s + n - room, room);
		b->len = room;
	} else {
		if (b->len + n > room) {
			drop = b->len + n - room;
			memmove(b->s, b->s + drop, b->len - drop);
			b->len -= drop;
		}
		memcpy(b->s + b->len, s, n);
		b->len += n;
	}
	b->s[b->len] = '\0';
}

/* Put S, URL-escaped when ESCAPE (RFC 7208 7.3: an upper-case macro
 * letter; RFC 3986 unreserved characters stay). */
static void
sink_put_escaped(struct sink *k, const char *s, size_t len, int escape)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run;

	if (!escape) {
		sink_put(k, s, len);
		return;
	}
	for (i = 0; i < len; i = run) {
		unsigned char c = s[i];
		char esc[3];

		for (run = i; run < len && (is_alnum(s[run]) || s[run] == '-' ||
		    s[run] == '.' || s[run] == '_' || s[run] == '~'); run++)
			;
		if (run > i) {
			sink_put(k, s + i, run - i);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		sink_put(k, esc, 3);
		run = i + 1;
	}
}

static int count_void(struct eval *e, const struct spf_answer *a,
    const char *name);
static int any_address_matches(struct eval *e, const struct spf_answer *a,
    int c4, int c6);

/* The answer of a question the evaluation needs that pool_ask gave P
 * for: NULL means it could not be asked (out of memory). */
static const struct spf_answer *
answer_of(struct eval *e, struct pooled *p, const char *name)
{
	static const struct spf_answer failed = { SPF_DNS_SERVFAIL, 0, 0 };

	if (p == NULL) {
		set_problem(e, "out of memory asking about %s", name);
		return &failed;
	}
	return pool_wait(e, p);
}

static int
dns_failed(const struct spf_answer *a)
{
	return a->status == SPF_DNS_SERVFAIL || a->status == SPF_DNS_TIMEOUT;
}

/*
 * %{p} (RFC 7208 7.3): a validated name of the client (5.5), DOMAIN
 * itself or a name below it preferred; "unknown" when there is none or
 * a DNS error occurs.  Looked up once per evaluation, as pyspf does.
 * The PTR lookup and the address lookups of the names that find nothing
 * count as void lookups, as in pyspf and Mail::SPF (4.6.4), except while
 * the explanation is expanded (it cannot change the result).  -1 when
 * they pass the limit (problem set).
 */
static int
macro_p(struct eval *e, const char *domain)
{
	char rev[REVERSE_MAX];
	const struct spf_answer *a;
	struct pooled *hosts[SPF_MAX_PTR_NAMES];
	const char *names[SPF_MAX_PTR_NAMES];
	unsigned i, n;
	const char *best = NULL;
	int best_below = 0;
	size_t dlen = strlen(domain);

	if (e->have_ptr_name)
		return 0;
	e->have_ptr_name = 1;
	memcpy(e->ptr_name, "unknown", sizeof("unknown"));
	reverse_name(e, rev);
	a = lookup(e, rev, SPF_T_PTR);
	if (!e->explaining && count_void(e, a, rev) != 0)
		return -1;
	if (a->status != SPF_DNS_OK)
		return 0;
	/* The first 10 names (4.6.4), all asked at once. */
	n = a->count < SPF_MAX_PTR_NAMES ? a->count : SPF_MAX_PTR_NAMES;
	for (i = 0; i < n; i++) {
		names[i] = rr_name(&a->rr[i]);
		hosts[i] = names[i] == NULL ? NULL :
		    pool_ask(e, names[i], addr_type(e), 0);
	}
	for (i = 0; i < n; i++) {
		const struct spf_answer *h;
		const char *name = names[i];
		size_t len;

		if (name == NULL) {
			trace(e, "  PTR name %u of %s cannot be asked", i + 1,
			    rev);
			continue;
		}
		h = answer_of(e, hosts[i], name);
		if (dns_failed(h))
			continue;	/* that name is skipped (5.5) */
		if (!e->explaining && count_void(e, h, name) != 0)
			return -1;
		if (!any_address_matches(e, h, -1, -1))
			continue;
		len = strlen(name);
		if (strcasecmp(name, domain) == 0) {
			best = name;
			break;
		}
		if (len > dlen && name[len - dlen - 1] == '.' &&
		    strcasecmp(name + len - dlen, domain) == 0) {
			if (!best_below) {
				best = name;
				best_below = 1;
			}
		} else if (best == NULL) {
			best = name;
		}
	}
	/* A name from rr_name() has at most 253 bytes: it fits. */
	if (best != NULL)
		(void)spf_strlcpy_exact(e->ptr_name, best, sizeof(e->ptr_name));
	return 0;
}

/* Room for the values macro_value() formats itself: 32 nibbles of an
 * IPv6 address with 31 dots, 63 bytes. */
#define SCRATCH_MAX	64

/* The value of macro LETTER (7.3) as a span; -1 when %{p} passes the
 * void lookup limit. */
static int
macro_value(struct eval *e, int letter, const char *domain,
    char scratch[SCRATCH_MAX], struct span *v)
{
	/* Upper-case nibbles, as the examples of RFC 7208 7.4 show them. */
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *ip = e->req->ip;
	const char *s = scratch;
	size_t n = 0;
	int i;

	switch (letter) {
	case 's':
		*v = e->sender;
		return 0;
	case 'l':
		*v = e->local;
		return 0;
	case 'h':
		*v = e->helo;
		return 0;
	case 'o':
		s = e->sender_domain;
		break;
	case 'd':
		s = domain;
		break;
	case 'i':
		if (e->req->family == AF_INET) {
			snprintf(scratch, SCRATCH_MAX, "%u.%u.%u.%u", ip[0],
			    ip[1], ip[2], ip[3]);
			break;
		}
		for (i = 0; i < 16; i++) {
			scratch[n++] = hex[ip[i] >> 4];
			scratch[n++] = '.';
			scratch[n++] = hex[ip[i] & 15];
			scratch[n++] = '.';
		}
		scratch[n - 1] = '\0';
		break;
	case 'p':
		if (macro_p(e, domain) != 0)
			return -1;
		s = e->ptr_name;
		break;
	case 'v':
		s = e->req->family == AF_INET ? "in-addr" : "ip6";
		break;
	case 'c':
		spf_ip_text(e->req->family, ip, scratch, SCRATCH_MAX);
		break;
	case 'r':
		s = e->req->receiver != NULL && e->req->receiver[0] != '\0' ?
		    e->req->receiver : "unknown";
		break;
	case 't':
		snprintf(scratch, SCRATCH_MAX, "%lld", (long long)
		    (e->req->now != 0 ? e->req->now : time(NULL)));
		break;
	default:
		s = "";
	}
	v->s = s;
	v->len = strlen(s);
	return 0;
}

static int
is_one_of(int c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

/*
 * The transformers of RFC 7208 7.3 on V: split on DELIMS, reverse when
 * asked, keep the rightmost KEEP parts (0: all), join them with dots.
 * No copy and no bound on the number of parts: the parts are found in
 * V as they are put.
 */
static void
transform(struct sink *k, struct span v, const char *delims,
    unsigned long keep, int reverse, int escape)
{
	size_t n = 1, count, i, start, end, done;

	for (i = 0; i < v.len; i++)
		n += is_one_of(v.s[i], delims);
	count = keep == 0 || keep > n ? n : keep;
	if (!reverse && count == n && strcmp(delims, ".") == 0) {
		sink_put_escaped(k, v.s, v.len, escape);
		return;
	}
	if (!reverse) {
		/* parts n - count .. n - 1, in order */
		for (i = 0, start = 0, done = 0; done < n - count; i++)
			if (is_one_of(v.s[i], delims)) {
				done++;
				start = i + 1;
			}
		for (i = start; i <= v.len; i++)
			if (i == v.len || is_one_of(v.s[i], delims)) {
				sink_put_escaped(k, v.s + start, i - start,
				    escape);
				if (i < v.len)
					sink_put(k, ".", 1);
				start = i + 1;
			}
		return;
	}
	/* reversed: parts count - 1 down to 0 */
	for (end = 0, done = 0; end < v.len; end++)
		if (is_one_of(v.s[end], delims) && ++done == count)
			break;
	for (done = 0; done < count; done++) {
		for (start = end; start > 0 &&
		    !is_one_of(v.s[start - 1], delims); start--)
			;
		if (done > 0)
			sink_put(k, ".", 1);
		sink_put_escaped(k, v.s + start, end - start, escape);
		if (start == 0)
			break;
		end = start - 1;
	}
}

/*
 * Expand the macro-string S of LEN bytes (syntax already checked) for
 * DOMAIN into K.  -1 when %{p} passed the void lookup limit (problem
 * set).
 */
static int
expand(struct eval *e, const char *s, size_t len, const char *domain,
    struct sink *k)
{
	size_t i = 0, lit;

	while (i < len) {
		char scratch[SCRATCH_MAX], delims[8] = "";
		unsigned long keep = 0;
		unsigned nd = 0;
		int letter, reverse = 0, upper;
		struct span v;

		if (s[i] != '%') {
			for (lit = i; lit < len && s[lit] != '%'; lit++)
				;
			sink_put(k, s + i, lit - i);
			i = lit;
			continue;
		}
		i++;
		if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
			sink_put(k, s[i] == '%' ? "%" : s[i] == '_' ? " " :
			    "%20", s[i] == '-' ? 3 : 1);
			i++;
			continue;
		}
		i++;		/* '{' */
		upper = s[i] >= 'A' && s[i] <= 'Z';
		letter = tolower((unsigned char)s[i++]);
		/* More parts than a value can have mean all of them. */
		for (; is_digit(s[i]); i++)
			if (keep < 100000)
				keep = keep * 10 + (unsigned long)(s[i] - '0');
		if (s[i] == 'r' || s[i] == 'R') {
			reverse = 1;
			i++;
		}
		for (; s[i] != '}'; i++)	/* the 7 delimiters, each once */
			if (!is_one_of(s[i], delims)) {
				delims[nd++] = s[i];
				delims[nd] = '\0';
			}
		i++;
		if (macro_value(e, letter, domain, scratch, &v) != 0)
			return -1;
		transform(k, v, nd ? delims : ".", keep, reverse, upper);
	}
	return 0;
}

/*
 * Expand a domain-spec into the name to look up, into OUT.  RFC 7208
 * 4.8: a name over 253 bytes loses labels on the left until it fits;
 * that is done on the whole expansion, of any length (the sink kept its
 * right end), so the labels of the domain-spec on the right stay as
 * written.  A trailing dot goes.  NAME_INVALID when no name is left or
 * a label is empty or longer than 63 bytes: such a name exists nowhere.
 */
static enum name_status
expand_domain(struct eval *e, const char *spec, size_t len, const char *domain,
    char out[256])
{
	char buf[NAME_WINDOW];
	struct sink k;
	size_t n, full, start = 0, i;
	const char *p;

	sink_init(&k, buf, sizeof(buf), 1);
	if (expand(e, spec, len, domain, &k) != 0)
		return NAME_PERMERROR;
	n = k.b.len;
	full = k.total;
	if (n > 0 && buf[n - 1] == '.') {
		n--;
		full--;
	}
	if (full > 253) {
		/* the first dot with at most 253 bytes after it; the window
		 * holds the last 254 bytes and more (NAME_WINDOW) */
		for (i = n - 254; i < n && buf[i] != '.'; i++)
			;
		if (i >= n)
			return NAME_INVALID;
		start = i + 1;
	}
	if (start >= n)
		return NAME_INVALID;
	memcpy(out, buf + start, n - start);
	out[n - start] = '\0';
	/* Labels must be 1..63 octets for the name to be asked at all. */
	for (p = out; *p != '\0';) {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63 || (dot != NULL && dot[1] == '\0'))
			return NAME_INVALID;
		p = dot != NULL ? dot + 1 : p + l;
	}
	return NAME_OK;
}

/* ------------------------------------------------------------- parsing */

static int
parse_cidr(const char *s, size_t len, int max)
{
	int v = 0;
	size_t i;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Strip a trailing dual-cidr-length ("/24", "//64", "/24//64") off a term's
 * argument; *LEN shrinks.  Returns -1 on a bad length. */
static int
strip_dual_cidr(const char *s, size_t *len, int *c4, int *c6, int allow4,
    int allow6)
{
	size_t n = *len, i;

	*c4 = *c6 = -1;
	for (i = n; i > 0 && is_digit(s[i - 1]); i--)
		;
	if (i >= 2 && i < n && s[i - 1] == '/' && s[i - 2] == '/') {
		if (!allow6 || (*c6 = parse_cidr(s + i, n - i, 128)) < 0)
			return -1;
		n = i - 2;
		for (i = n; i > 0 && is_digit(s[i - 1]); i--)
			;
	} else if (i >= 2 && i == n && s[i - 1] == '/' && s[i - 2] == '/') {
		return -1;	/* "//" without a length */
	}
	if (i >= 1 && i < n && s[i - 1] == '/') {
		if (!allow4 || (*c4 = parse_cidr(s + i, n - i, 32)) < 0)
			return -1;
		n = i - 1;
	} else if (i >= 1 && i == n && n > 0 && s[n - 1] == '/') {
		return -1;	/* "/" without a length */
	}
	*len = n;
	return 0;
}

static int
parse_ip4(const char *s, size_t len, unsigned char *out)
{
	char buf[16];
	size_t i;
	int parts = 0, digits = 0;

	if (len >= sizeof(buf))
		return -1;
	/* inet_pton accepts no leading zeros on glibc but be explicit. */
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (digits == 0)
				return -1;
			digits = 0;
			parts++;
		} else if (!is_digit(s[i]) || (digits == 1 && s[i - 1] == '0')) {
			return -1;
		} else {
			digits++;
		}
	}
	if (parts != 3 || digits == 0)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, out) == 1 ? 0 : -1;
}

static int
parse_ip6(const char *s, size_t len, unsigned char *out)
{
	char buf[64];
	size_t i;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
}

static int
mech_lookup(const char *name, size_t len)
{
	unsigned i;

	for (i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
		if (strlen(mech_names[i]) == len &&
		    strncasecmp(name, mech_names[i], len) == 0)
			return (int)i;
	return -1;
}

/* A term's ":domain-spec", ARG of ALEN bytes; none when ALEN is 0. */
static int
term_spec(struct term *t, const char *arg, size_t alen)
{
	if (alen == 0)
		return 0;
	if (arg[0] != ':' || domain_spec_syntax(arg + 1, alen - 1) != 0)
		return -1;
	t->spec = arg + 1;
	t->speclen = alen - 1;
	return 0;
}

static int
parse_mechanism(struct term *t, const char *s, size_t len, char *err,
    size_t errlen)
{
	size_t nlen, alen;
	const char *arg;
	int m;

	for (nlen = 0; nlen < len && s[nlen] != ':' && s[nlen] != '/'; nlen++)
		;
	if ((m = mech_lookup(s, nlen)) < 0) {
		snprintf(err, errlen, "unknown mechanism \"%.*s%s\"",
		    CUT(s, nlen, 64));
		return -1;
	}
	t->mech = (enum mech)m;
	t->cidr4 = t->cidr6 = -1;
	arg = s + nlen;
	alen = len - nlen;
	switch (t->mech) {
	case M_ALL:
		if (alen != 0)
			goto bad;
		return 0;
	case M_INCLUDE:
	case M_EXISTS:
		if (alen == 0 || term_spec(t, arg, alen) != 0)
			goto bad;
		return 0;
	case M_A:
	case M_MX:
		if (strip_dual_cidr(arg, &alen, &t->cidr4, &t->cidr6, 1, 1) != 0 ||
		    term_spec(t, arg, alen) != 0)
			goto bad;
		return 0;
	case M_PTR:
		if (term_spec(t, arg, alen) != 0)
			goto bad;
		return 0;
	case M_IP4:
		if (alen < 2 || arg[0] != ':' ||
		    strip_dual_cidr(arg, &alen, &t->cidr4, &t->cidr6, 1, 0) != 0 ||
		    parse_ip4(arg + 1, alen - 1, t->addr) != 0)
			goto bad;
		if (t->cidr4 < 0)
			t->cidr4 = 32;
		return 0;
	case M_IP6: {
		const char *slash;

		if (alen < 2 || arg[0] != ':')
			goto bad;
		t->cidr6 = 128;
		if ((slash = memchr(arg, '/', alen)) != NULL) {
			t->cidr6 = parse_cidr(slash + 1,
			    alen - (size_t)(slash + 1 - arg), 128);
			alen = (size_t)(slash - arg);
		}
		if (t->cidr6 < 0 || parse_ip6(arg + 1, alen - 1, t->addr) != 0)
			goto bad;
		return 0;
	}
	}
bad:
	snprintf(err, errlen, "bad %s mechanism \"%.*s%s\"",
	    mech_names[t->mech], CUT(s, len, 128));
	return -1;
}

/* redirect= and exp=: a domain-spec, at most once each (RFC 7208 6). */
static int
known_modifier(const char **slot, size_t *slotlen, const char *name,
    const char *val, size_t vlen, char *err, size_t errlen)
{
	if (*slot != NULL) {
		snprintf(err, errlen, "%s= appears twice", name);
		return -1;
	}
	if (domain_spec_syntax(val, vlen) != 0) {
		snprintf(err, errlen, "bad %s= domain \"%.*s%s\"", name,
		    CUT(val, vlen, 128));
		return -1;
	}
	*slot = val;
	*slotlen = vlen;
	return 0;
}

static int
parse_modifier(struct record *r, const char *s, size_t len, size_t eq,
    char *err, size_t errlen)
{
	const char *val = s + eq + 1;
	size_t vlen = len - eq - 1, i, last;

	for (i = 1; i < eq; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			goto bad;
	if (eq == 0 || !is_alpha(s[0]))
		goto bad;
	if (eq == 8 && strncasecmp(s, "redirect", 8) == 0)
		return known_modifier(&r->redirect, &r->redirectlen, "redirect",
		    val, vlen, err, errlen);
	if (eq == 3 && strncasecmp(s, "exp", 3) == 0)
		return known_modifier(&r->exp, &r->explen, "exp", val, vlen, err,
		    errlen);
	if (macro_syntax(val, vlen, 0, &last) != 0)
		goto bad;
	return 0;		/* unknown modifiers are ignored */
bad:
	snprintf(err, errlen, "bad modifier \"%.*s%s\"", CUT(s, len, 128));
	return -1;
}

static void
record_free(struct record *r)
{
	if (r->terms != r->few)
		free(r->terms);
	r->terms = NULL;
}

/*
 * Parse the record TXT (starting "v=spf1") into R.  Terms point into TXT.
 * Returns 0, or -1 with a message in ERR on any syntax error.
 */
static int
parse_record(const char *txt, size_t len, struct record *r, char *err,
    size_t errlen)
{
	size_t i, n = 0, cap = 0;

	memset(r, 0, offsetof(struct record, few));
	for (i = 0; i < len; i++)
		if ((unsigned char)txt[i] < 0x20 || (unsigned char)txt[i] > 0x7e) {
			snprintf(err, errlen, "record has a character outside "
			    "printable ASCII at offset %zu", i);
			return -1;
		}
	for (i = 6; i < len; i++)
		if (txt[i] == ' ' && (i + 1 == len || txt[i + 1] != ' '))
			cap++;
	r->terms = cap + 1 <= RECORD_FEW ? r->few :
	    calloc(cap + 1, sizeof(*r->terms));
	if (r->terms == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 6; i < len;) {
		const char *s;
		size_t tlen, eq;
		struct term *t;

		while (i < len && txt[i] == ' ')
			i++;
		if (i >= len)
			break;
		s = txt + i;
		for (tlen = 0; i + tlen < len && s[tlen] != ' '; tlen++)
			;
		i += tlen;
		eq = strcspn(s, "=:/ ");
		if (eq < tlen && s[eq] == '=' && !(s[0] == '+' || s[0] == '-' ||
		    s[0] == '~' || s[0] == '?')) {
			if (parse_modifier(r, s, tlen, eq, err, errlen) != 0)
				return -1;
			continue;
		}
		t = &r->terms[n];
		memset(t, 0, sizeof(*t));
		t->text = s;
		t->textlen = tlen;
		t->qual = '+';
		if (*s == '+' || *s == '-' || *s == '~' || *s == '?') {
			t->qual = *s++;
			tlen--;
		}
		if (parse_mechanism(t, s, tlen, err, errlen) != 0) {
			if (err[0] == '\0')
				snprintf(err, errlen, "bad mechanism \"%.*s%s\"",
				    CUT(s, tlen, 128));
			return -1;
		}
		n++;
	}
	r->nterms = (unsigned)n;
	return 0;
}

static int
is_spf_record(const unsigned char *txt, size_t len)
{
	return len >= 6 && strncasecmp((const char *)txt, "v=spf1", 6) == 0 &&
	    (len == 6 || txt[6] == ' ');
}

/*
 * Find the one SPF record of ANSWER.  Returns its index, -1 for none, -2
 * for more than one.
 */
static int
select_record(const struct spf_answer *a)
{
	unsigned i;
	int found = -1;

	if (a->status != SPF_DNS_OK)
		return -1;
	for (i = 0; i < a->count; i++) {
		if (!is_spf_record(a->rr[i].data, a->rr[i].len))
			continue;
		if (found >= 0)
			return -2;
		found = (int)i;
	}
	return found;
}

/* ---------------------------------------------------------- look-ahead */

/*
 * Once a record is known, ask the questions of its include, redirect, a,
 * mx and exists terms before their turn.  What is sent ahead is bounded
 * by the same limit of 10 as the terms themselves, so a hostile record
 * gains nothing: the evaluation asks those questions anyway when it gets
 * there, or stops at the limit.
 */
static void
ask_ahead(struct eval *e, const char *domain, const struct record *r, int depth)
{
	unsigned i;

	for (i = 0; i <= r->nterms && e->ahead < SPF_MAX_DNS_MECH; i++) {
		const struct term *t = i < r->nterms ? &r->terms[i] : NULL;
		const char *spec;
		size_t speclen;
		uint16_t type;
		char name[256];
		struct pooled *p;

		if (t == NULL) {
			if (r->redirect == NULL)
				break;
			spec = r->redirect;
			speclen = r->redirectlen;
			type = SPF_T_TXT;
		} else {
			spec = t->spec;
			speclen = t->speclen;
			switch (t->mech) {
			case M_INCLUDE: type = SPF_T_TXT; break;
			case M_A: type = addr_type(e); break;
			case M_MX: type = SPF_T_MX; break;
			case M_EXISTS: type = SPF_T_A; break;
			default: continue;
			}
		}
		/* %{p} would need questions of its own (and counts void
		 * lookups): leave it for its turn. */
		if (spec != NULL && uses_p(spec, speclen))
			continue;
		if (spec == NULL ? spf_strlcpy_exact(name, domain,
		    sizeof(name)) != 0 : expand_domain(e, spec, speclen,
		    domain, name) != NAME_OK)
			continue;
		if (pool_find(e, name, type) != NULL)
			continue;
		if ((p = pool_ask(e, name, type, 1)) == NULL)
			return;
		p->depth = depth + 1;
		e->ahead++;
	}
}

/* The answer of an MX question asked ahead: ask for its hosts' addresses. */
static void
ask_mx_hosts(struct eval *e, const struct spf_answer *a)
{
	const char *name;
	unsigned i;

	if (a->status != SPF_DNS_OK || a->count > SPF_MAX_MX_NAMES)
		return;
	for (i = 0; i < a->count; i++)
		if ((name = rr_name(&a->rr[i])) != NULL)
			(void)pool_ask(e, name, addr_type(e), 1);
}

/* Send what was asked ahead and waited for room; look at answers that
 * arrived for questions asked ahead and go one step further down:
 * records of includes, addresses of mx hosts. */
static void
lookahead(struct eval *e)
{
	unsigned i;

	submit_waiting(e);
	for (i = 0; i < e->npool; i++) {
		struct pooled *p = pool_at(e, i);
		const struct spf_answer *a = p->q.answer;
		struct record r;
		char err[160];
		int k;

		if (!p->speculative || p->expanded || a == NULL)
			continue;
		p->expanded = 1;
		if (p->q.type == SPF_T_MX) {
			ask_mx_hosts(e, a);
			continue;
		}
		if (p->q.type != SPF_T_TXT || p->depth >= MAX_DEPTH ||
		    (k = select_record(a)) < 0)
			continue;
		err[0] = '\0';
		if (parse_record((const char *)a->rr[k].data, a->rr[k].len, &r,
		    err, sizeof(err)) == 0)
			ask_ahead(e, p->q.name, &r, p->depth);
		record_free(&r);
	}
}

/* ---------------------------------------------------------- evaluation */

static enum spf_result check_host(struct eval *e, const char *domain, int depth);

static enum spf_result
qual_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	}
	return SPF_PASS;
}

static const char *
match_name(enum match m)
{
	switch (m) {
	case MATCH_NO: return "no match";
	case MATCH_YES: return "match";
	case MATCH_TEMPERROR: return "temperror";
	case MATCH_PERMERROR: return "permerror";
	}
	return "?";
}

/* A lookup a term depends on failed: temperror. */
static enum match
dns_error(struct eval *e, const struct spf_answer *a, const char *what,
    const char *name)
{
	set_problem(e, "DNS %s for %s %s", status_name(a->status), what, name);
	return MATCH_TEMPERROR;
}

/*
 * Count a lookup that found nothing (no data, or NXDOMAIN); -1 past the
 * limit of RFC 7208 4.6.4, with the problem set.  4.6.4 speaks of
 * "terms" whose lookups find nothing; its reason (11.1) is the DNS load
 * a record can cause, and pyspf and Mail::SPF count every such lookup:
 * that is the reading here.  Counted are the lookups of a, mx, ptr and
 * exists terms, the address lookup of each MX host and of each PTR name
 * that is looked at, and the PTR lookup of %{p} with its names.  Looked
 * at: MX hosts in the order of the answer until one matches, PTR names
 * of a ptr term only when they lie in the target domain, %{p}'s names
 * until one equals the domain (as Mail::SPF; pyspf looks at all of
 * them).  Record lookups (include, redirect, exp) are not counted, as in
 * both.  Each use counts: an empty answer looked at twice counts twice.
 */
static int
count_void(struct eval *e, const struct spf_answer *a, const char *name)
{
	if ((a->status == SPF_DNS_OK && a->count > 0) ||
	    (a->status != SPF_DNS_OK && a->status != SPF_DNS_NODATA &&
	    a->status != SPF_DNS_NXDOMAIN))
		return 0;
	if (++e->voids > SPF_MAX_VOID) {
		set_problem(e, "more than %d void lookups (at %s)",
		    SPF_MAX_VOID, name);
		return -1;
	}
	return 0;
}

static int
any_address_matches(struct eval *e, const struct spf_answer *a, int c4, int c6)
{
	unsigned i;

	if (a->status != SPF_DNS_OK)
		return 0;
	for (i = 0; i < a->count; i++)
		if (client_in(e, a->rr[i].data, a->rr[i].len, c4, c6))
			return 1;
	return 0;
}

/* NAME is DOMAIN or a name below it. */
static int
in_domain(const char *name, const char *domain)
{
	size_t len = strlen(name), dlen = strlen(domain);

	return strcasecmp(name, domain) == 0 || (len > dlen &&
	    name[len - dlen - 1] == '.' &&
	    strcasecmp(name + len - dlen, domain) == 0);
}

/* The name a term looks up: its domain-spec expanded, or DOMAIN. */
static enum name_status
term_target(struct eval *e, const struct term *t, const char *domain,
    char name[256])
{
	if (t->spec == NULL)
		return spf_strlcpy_exact(name, domain, 256) == 0 ? NAME_OK :
		    NAME_INVALID;
	return expand_domain(e, t->spec, t->speclen, domain, name);
}

static enum match
eval_a(struct eval *e, const struct term *t, const char *name)
{
	const struct spf_answer *a = lookup(e, name, addr_type(e));

	if (dns_failed(a))
		return dns_error(e, a, "a", name);
	if (count_void(e, a, name) != 0)
		return MATCH_PERMERROR;
	return any_address_matches(e, a, t->cidr4, t->cidr6) ? MATCH_YES :
	    MATCH_NO;
}

static enum match
eval_mx(struct eval *e, const struct term *t, const char *name)
{
	const struct spf_answer *a = lookup(e, name, SPF_T_MX), *h;
	struct pooled *hosts[SPF_MAX_MX_NAMES];
	const char *names[SPF_MAX_MX_NAMES];
	unsigned i;

	if (dns_failed(a))
		return dns_error(e, a, "mx", name);
	if (count_void(e, a, name) != 0)
		return MATCH_PERMERROR;
	if (a->status != SPF_DNS_OK)
		return MATCH_NO;
	if (a->count > SPF_MAX_MX_NAMES) {
		set_problem(e, "%s has more than %d MX records", name,
		    SPF_MAX_MX_NAMES);
		return MATCH_PERMERROR;
	}
	/* Every host is asked at once; the answers are read in the order
	 * of the MX answer until one matches, as Mail::SPF reads them. */
	for (i = 0; i < a->count; i++) {
		names[i] = rr_name(&a->rr[i]);
		hosts[i] = names[i] == NULL ? NULL :
		    pool_ask(e, names[i], addr_type(e), 0);
	}
	for (i = 0; i < a->count; i++) {
		if (names[i] == NULL) {
			/* "MX 0 ." (RFC 7505) names no host at all */
			trace(e, "  MX %u of %s names no host to ask", i + 1,
			    name);
			continue;
		}
		h = answer_of(e, hosts[i], names[i]);
		if (dns_failed(h))
			return dns_error(e, h, "mx host", names[i]);
		if (count_void(e, h, names[i]) != 0)
			return MATCH_PERMERROR;
		if (any_address_matches(e, h, t->cidr4, t->cidr6))
			return MATCH_YES;
	}
	return MATCH_NO;
}

/* ptr (RFC 7208 5.5); TARGET NULL: a target no name lies in. */
static enum match
eval_ptr(struct eval *e, const char *target)
{
	char rev[REVERSE_MAX];
	const struct spf_answer *a, *h;
	struct pooled *hosts[SPF_MAX_PTR_NAMES];
	const char *names[SPF_MAX_PTR_NAMES];
	unsigned i, n;

	reverse_name(e, rev);
	a = lookup(e, rev, SPF_T_PTR);
	if (count_void(e, a, rev) != 0)
		return MATCH_PERMERROR;
	if (a->status != SPF_DNS_OK)
		return MATCH_NO;	/* errors make ptr not match (5.5) */
	/* The first 10 names (4.6.4); only those in the target domain can
	 * make ptr match, so only they are validated (5.5), as Mail::SPF
	 * does; they are asked at once. */
	n = a->count < SPF_MAX_PTR_NAMES ? a->count : SPF_MAX_PTR_NAMES;
	for (i = 0; i < n; i++) {
		names[i] = rr_name(&a->rr[i]);
		if (names[i] != NULL && (target == NULL ||
		    !in_domain(names[i], target)))
			names[i] = NULL;
		hosts[i] = names[i] == NULL ? NULL :
		    pool_ask(e, names[i], addr_type(e), 0);
	}
	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			continue;
		h = answer_of(e, hosts[i], names[i]);
		if (dns_failed(h))
			continue;	/* that name is skipped (5.5) */
		if (count_void(e, h, names[i]) != 0)
			return MATCH_PERMERROR;
		if (any_address_matches(e, h, -1, -1))
			return MATCH_YES;
	}
	return MATCH_NO;
}

static enum match
eval_include(struct eval *e, const char *name, int depth)
{
	enum spf_result r;
	int saved = e->in_include;

	e->in_include = 1;
	r = check_host(e, name, depth + 1);
	e->in_include = saved;
	switch (r) {
	case SPF_PASS:
		return MATCH_YES;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return MATCH_NO;
	case SPF_TEMPERROR:
		return MATCH_TEMPERROR;
	case SPF_NONE:
		set_problem(e, "include:%s has no SPF record", name);
		return MATCH_PERMERROR;
	default:
		return MATCH_PERMERROR;
	}
}

/* Count a term that asks DNS questions; -1 past the tenth. */
static int
count_term(struct eval *e, const struct term *t)
{
	if (++e->dns_terms > SPF_MAX_DNS_MECH) {
		set_problem(e, "more than %d DNS-querying terms (at %.*s%s)",
		    SPF_MAX_DNS_MECH, CUT(t->text, t->textlen, 64));
		return -1;
	}
	return 0;
}

static enum match
eval_exists(struct eval *e, const char *name)
{
	const struct spf_answer *a = lookup(e, name, SPF_T_A);

	if (dns_failed(a))
		return dns_error(e, a, "exists", name);
	if (count_void(e, a, name) != 0)
		return MATCH_PERMERROR;
	return a->status == SPF_DNS_OK && a->count > 0 ? MATCH_YES : MATCH_NO;
}

static enum match
eval_term(struct eval *e, const struct term *t, const char *domain, int depth)
{
	char name[256];

	switch (t->mech) {
	case M_ALL:
		return MATCH_YES;
	case M_IP4:
		return client_in(e, t->addr, 4, t->cidr4, -1) ? MATCH_YES :
		    MATCH_NO;
	case M_IP6:
		return client_in(e, t->addr, 16, -1, t->cidr6) ? MATCH_YES :
		    MATCH_NO;
	default:
		break;
	}
	if (count_term(e, t) != 0)
		return MATCH_PERMERROR;
	switch (term_target(e, t, domain, name)) {
	case NAME_OK:
		break;
	case NAME_PERMERROR:
		return MATCH_PERMERROR;
	case NAME_INVALID:
		/* A name that cannot be asked exists nowhere. */
		trace(e, "  target of %.*s%s is no valid name",
		    CUT(t->text, t->textlen, 64));
		if (t->mech == M_INCLUDE) {
			set_problem(e, "include target is no valid domain");
			return MATCH_PERMERROR;
		}
		/* ptr's own lookup is of the client's PTR, which the
		 * target does not change: pyspf and Mail::SPF make it (and
		 * count it when void) whatever the target; no name can lie
		 * in a target that is no name. */
		if (t->mech == M_PTR)
			return eval_ptr(e, NULL);
		return MATCH_NO;
	}
	switch (t->mech) {
	case M_INCLUDE:
		return eval_include(e, name, depth);
	case M_A:
		return eval_a(e, t, name);
	case M_MX:
		return eval_mx(e, t, name);
	case M_PTR:
		return eval_ptr(e, name);
	case M_EXISTS:
		return eval_exists(e, name);
	default:
		return MATCH_NO;
	}
}

/* RFC 7208 6.2: the explanation of a fail; any problem gives the
 * default.  It cannot change the result: %{p} counts no void lookups
 * here.  An explanation longer than the field ends in "...". */
static void
explain(struct eval *e, const struct record *r, const char *domain)
{
	char name[256];
	const struct spf_answer *a;
	const struct spf_rr *rr;
	struct sink k;
	size_t last;

	memcpy(e->out->explanation, SPF_DEFAULT_EXPLANATION,
	    sizeof(SPF_DEFAULT_EXPLANATION));
	if (r->exp == NULL)
		return;
	e->explaining = 1;
	if (expand_domain(e, r->exp, r->explen, domain, name) != NAME_OK)
		goto done;
	a = lookup(e, name, SPF_T_TXT);
	if (a->status != SPF_DNS_OK || a->count != 1)
		goto done;
	rr = &a->rr[0];
	if (memchr(rr->data, '\0', rr->len) != NULL ||
	    macro_syntax((const char *)rr->data, rr->len, 1, &last) != 0) {
		trace(e, "  explanation of %s is no valid macro-string", name);
		goto done;
	}
	sink_init(&k, e->out->explanation, sizeof(e->out->explanation), 0);
	(void)expand(e, (const char *)rr->data, rr->len, domain, &k);
	if (k.b.overflow)
		memcpy(e->out->explanation + sizeof(e->out->explanation) - 4,
		    "...", 4);
done:
	e->explaining = 0;
}

/* Fetch and parse DOMAIN's record into R. */
static enum fetch
fetch_record(struct eval *e, const char *domain, struct record *r)
{
	const struct spf_answer *a;
	char err[200];
	int k;

	a = lookup(e, domain, SPF_T_TXT);
	if (dns_failed(a)) {
		set_problem(e, "DNS %s looking up the record of %s",
		    status_name(a->status), domain);
		return FETCH_TEMPERROR;
	}
	k = select_record(a);
	if (k == -1) {
		trace(e, "  %s has no SPF record", domain);
		return FETCH_NONE;
	}
	if (k == -2) {
		set_problem(e, "%s has more than one SPF record", domain);
		return FETCH_PERMERROR;
	}
	trace(e, "record %s: %.*s%s", domain,
	    CUT((const char *)a->rr[k].data, a->rr[k].len, 400));
	err[0] = '\0';
	if (parse_record((const char *)a->rr[k].data, a->rr[k].len, r, err,
	    sizeof(err)) != 0) {
		record_free(r);
		set_problem(e, "%s: %s", domain, err);
		return FETCH_PERMERROR;
	}
	return FETCH_FOUND;
}

/* The matching term for the outcome; a long one is shown cut, with
 * "..." (it is for people, the result does not depend on it). */
static void
set_mechanism(struct eval *e, const struct term *t, int depth)
{
	char *m = e->out->mechanism;
	size_t size = sizeof(e->out->mechanism);

	if (depth != 0 && m[0] != '\0')
		return;
	if (t->textlen < size) {
		memcpy(m, t->text, t->textlen);
		m[t->textlen] = '\0';
	} else {
		memcpy(m, t->text, size - 4);
		memcpy(m + size - 4, "...", 4);
	}
}

/* redirect= (RFC 7208 6.1): check_host() of the target, none a
 * permerror. */
static enum spf_result
follow_redirect(struct eval *e, const struct record *r, const char *domain,
    int depth)
{
	char target[256];
	enum spf_result res;

	if (++e->dns_terms > SPF_MAX_DNS_MECH) {
		set_problem(e, "more than %d DNS-querying terms (at redirect)",
		    SPF_MAX_DNS_MECH);
		return SPF_PERMERROR;
	}
	switch (expand_domain(e, r->redirect, r->redirectlen, domain, target)) {
	case NAME_PERMERROR:
		return SPF_PERMERROR;
	case NAME_INVALID:
		set_problem(e, "redirect target is no valid domain");
		return SPF_PERMERROR;
	case NAME_OK:
		break;
	}
	if (!spf_valid_domain(target)) {
		set_problem(e, "redirect target is no valid domain");
		return SPF_PERMERROR;
	}
	trace(e, "%*sredirect=%s", depth * 2, "", target);
	res = check_host(e, target, depth + 1);
	if (res == SPF_NONE) {
		set_problem(e, "redirect=%s has no SPF record", target);
		res = SPF_PERMERROR;
	}
	return res;
}

static enum spf_result
check_host(struct eval *e, const char *domain, int depth)
{
	const struct term *t = NULL;
	enum spf_result res = SPF_NEUTRAL;
	enum match m = MATCH_NO;
	struct record r;
	unsigned i;

	if (depth > MAX_DEPTH) {
		set_problem(e, "includes nested too deep");
		return SPF_PERMERROR;
	}
	if (!spf_valid_domain(domain)) {
		trace(e, "  \"%s\" is no valid domain", domain);
		return SPF_NONE;
	}
	switch (fetch_record(e, domain, &r)) {
	case FETCH_FOUND:
		break;
	case FETCH_NONE:
		return SPF_NONE;
	case FETCH_TEMPERROR:
		return SPF_TEMPERROR;
	case FETCH_PERMERROR:
		return SPF_PERMERROR;
	}
	ask_ahead(e, domain, &r, depth);
	for (i = 0; i < r.nterms && m == MATCH_NO; i++) {
		t = &r.terms[i];
		m = eval_term(e, t, domain, depth);
		trace(e, "%*smechanism %.*s%s: %s", depth * 2, "",
		    CUT(t->text, t->textlen, 200), match_name(m));
	}
	switch (m) {
	case MATCH_YES:
		res = qual_result(t->qual);
		if (!e->in_include)
			set_mechanism(e, t, depth);
		if (res == SPF_FAIL && !e->in_include)
			explain(e, &r, domain);
		break;
	case MATCH_TEMPERROR:
		res = SPF_TEMPERROR;
		break;
	case MATCH_PERMERROR:
		res = SPF_PERMERROR;
		break;
	case MATCH_NO:
		if (r.redirect != NULL) {
			res = follow_redirect(e, &r, domain, depth);
		} else {
			res = SPF_NEUTRAL;
			if (depth == 0)
				memcpy(e->out->mechanism, "default",
				    sizeof("default"));
		}
		break;
	}
	record_free(&r);
	return res;
}

/* ----------------------------------------------------------- the entry */

/* %{s}: <sender> with the local-part filled in; in out->sender when it
 * fits, else (a hostile sender) on the heap and out->sender empty. */
static int
build_sender(struct eval *e)
{
	size_t dlen = strlen(e->sender_domain);
	size_t need = e->local.len + 1 + dlen + 1;
	char *buf = e->out->sender;

	if (need > sizeof(e->out->sender)) {
		if ((e->sender_heap = malloc(need)) == NULL)
			return -1;
		buf = e->sender_heap;
	}
	memcpy(buf, e->local.s, e->local.len);
	buf[e->local.len] = '@';
	memcpy(buf + e->local.len + 1, e->sender_domain, dlen + 1);
	e->sender.s = buf;
	e->sender.len = need - 1;
	return 0;
}

/* The local-part, domain and HELO name of the request (RFC 7208 4.3);
 * -1 when out of memory. */
static int
split_sender(struct eval *e)
{
	static const char postmaster[] = "postmaster";
	const struct spf_request *req = e->req;
	const char *s = req->sender, *at, *dom;
	size_t n;

	e->helo.s = req->helo != NULL ? req->helo : "";
	e->helo.len = strlen(e->helo.s);
	e->local.s = postmaster;
	e->local.len = sizeof(postmaster) - 1;
	if (req->identity == SPF_ID_HELO || s == NULL || s[0] == '\0') {
		dom = e->helo.s;
	} else if ((at = strrchr(s, '@')) == NULL) {
		dom = s;	/* no local-part: the whole is a domain */
	} else {
		if (at > s) {
			e->local.s = s;
			e->local.len = (size_t)(at - s);
		}
		dom = at + 1;
	}
	/* A domain that does not fit is longer than 253 bytes, so no
	 * domain: "" makes check_host() give none, as 4.3 says. */
	(void)spf_strlcpy_exact(e->sender_domain, dom, sizeof(e->sender_domain));
	n = strlen(e->sender_domain);
	if (n > 1 && e->sender_domain[n - 1] == '.')
		e->sender_domain[n - 1] = '\0';
	return build_sender(e);
}

static void
eval_release(struct eval *e)
{
	pool_release(e);
	free(e->sender_heap);
	e->sender_heap = NULL;
}

void
spf_check(const struct spf_request *req, const struct spf_resolver *res,
    struct spf_outcome *out)
{
	struct eval e;

	memset(out, 0, sizeof(*out));
	eval_init(&e);
	e.req = req;
	e.res = res;
	e.out = out;
	if (split_sender(&e) != 0) {
		out->result = SPF_TEMPERROR;
		set_problem(&e, "out of memory");
		return;
	}
	/* both hold 256 bytes */
	(void)spf_strlcpy_exact(out->domain, e.sender_domain,
	    sizeof(out->domain));
	out->result = check_host(&e, e.sender_domain, 0);
	if (out->result == SPF_NONE || out->result == SPF_TEMPERROR ||
	    out->result == SPF_PERMERROR)
		out->mechanism[0] = '\0';
	if (out->result != SPF_FAIL)
		out->explanation[0] = '\0';
	out->dns_lookups = e.dns_terms;
	out->void_lookups = e.voids;
	eval_release(&e);
}

/* ------------------------------------- validated names, for the milter */

/*
 * The validation of ptr and %{p} (RFC 7208 5.5) on its own, through the
 * same question pool, for a caller that needs the names themselves (the
 * milter's trusted_forwarders).  No void lookups are counted: this is no
 * evaluation of a record.
 */
void
spf_validated_names(const struct spf_request *req,
    const struct spf_resolver *res, int (*want)(void *arg, const char *name),
    void *arg, struct spf_names *out)
{
	struct spf_outcome scratch;	/* the pool counts questions in it */
	struct eval e;
	char rev[REVERSE_MAX];
	const struct spf_answer *a, *h;
	struct pooled *hosts[SPF_MAX_PTR_NAMES];
	const char *names[SPF_MAX_PTR_NAMES];
	unsigned i, j, n;

	memset(out, 0, sizeof(*out));
	memset(&scratch, 0, sizeof(scratch));
	eval_init(&e);
	e.req = req;
	e.res = res;
	e.out = &scratch;
	reverse_name(&e, rev);
	a = lookup(&e, rev, SPF_T_PTR);
	out->ptr = a->status;
	n = a->status != SPF_DNS_OK ? 0 :
	    a->count < SPF_MAX_PTR_NAMES ? a->count : SPF_MAX_PTR_NAMES;
	/* the names wanted, all asked at once */
	for (i = 0; i < n; i++) {
		names[i] = rr_name(&a->rr[i]);
		if (names[i] == NULL) {
			trace(&e, "  PTR name %u of %s cannot be asked", i + 1,
			    rev);
		} else if (want != NULL && !want(arg, names[i])) {
			trace(&e, "  PTR name %s: not looked at", names[i]);
			names[i] = NULL;
		}
		hosts[i] = names[i] == NULL ? NULL :
		    pool_ask(&e, names[i], addr_type(&e), 0);
	}
	for (i = 0; i < n; i++) {
		if (names[i] == NULL)
			continue;
		h = answer_of(&e, hosts[i], names[i]);
		if (dns_failed(h) || !any_address_matches(&e, h, -1, -1)) {
			trace(&e, "  PTR name %s: not validated (%s)", names[i],
			    dns_failed(h) ? "its address lookup failed" :
			    "its addresses do not include the client");
			continue;
		}
		for (j = 0; j < out->count; j++)
			if (strcasecmp(out->name[j], names[i]) == 0)
				break;
		/* a name from rr_name() has at most 253 bytes: it fits */
		if (j == out->count &&
		    spf_strlcpy_exact(out->name[j], names[i], 256) == 0) {
			out->count++;
			trace(&e, "  PTR name %s: validated", names[i]);
		}
	}
	out->queries = scratch.queries;
	eval_release(&e);
}
