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
 * What is asked ahead is bounded like the evaluation itself: at most 10
 * term lookups ahead per evaluation, and the addresses of at most 10
 * hosts per MX answer.  With the at most 10 terms the evaluation asks in
 * its turn (those not asked ahead), one evaluation sends at most 20 term
 * lookups, whatever the records say: no amplifier for a hostile domain.
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

/* Questions one evaluation may hold: 10 terms, 10 address lookups for
 * each mx or ptr among them, the record lookups and the explanation. */
#define POOL_MAX	160
/* The pool grows in chunks, whose addresses the resolver may keep while
 * a question is in flight; most evaluations need one chunk. */
#define POOL_CHUNK	16
#define POOL_CHUNKS	(POOL_MAX / POOL_CHUNK)
/* Deepest include/redirect nesting: each one counts against the 10. */
#define MAX_DEPTH	(SPF_MAX_DNS_MECH + 1)
#define MACRO_MAX	1024	/* an expanded macro-string before truncation */
#define WAIT_ROUNDS_MAX	65536	/* resolver events while awaiting one answer */

enum mech { M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS };

static const char *const mech_names[] = {
	"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"
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

struct record {
	struct term *terms;
	unsigned nterms;
	const char *redirect, *exp;	/* domain-specs, not terminated */
	size_t redirectlen, explen;
};

struct pooled {
	struct spf_query q;
	int submitted;
	int waited;
	int speculative;		/* asked ahead of its turn */
	int expanded;			/* look-ahead done on its answer */
	int depth;			/* include depth of the term that asked */
};

struct eval {
	const struct spf_request *req;
	const struct spf_resolver *res;
	struct spf_outcome *out;
	char local[256];		/* local-part of <sender> */
	char sender_domain[256];
	char helo[256];
	char ptr_name[256];		/* %{p}, looked up once */
	int have_ptr_name;
	unsigned dns_terms;		/* counted against SPF_MAX_DNS_MECH */
	unsigned ahead;			/* term lookups sent ahead of their turn */
	unsigned voids;
	int in_include;
	struct pooled *chunk[POOL_CHUNKS];
	unsigned npool;
};

/* Results of the internal evaluation steps. */
#define R_NOMATCH	(-1)

/* ------------------------------------------------------- bounded strings */

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

/* ------------------------------------------------------------- small helpers */

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
spf_request_set_ip(struct spf_request *req, const char *text)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	unsigned char buf[16];

	if (text == NULL)
		return -1;
	if (inet_pton(AF_INET, text, buf) == 1) {
		req->family = AF_INET;
		memcpy(req->ip, buf, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, buf) != 1)
		return -1;
	if (memcmp(buf, mapped, 12) == 0) {
		req->family = AF_INET;
		memcpy(req->ip, buf + 12, 4);
	} else {
		req->family = AF_INET6;
		memcpy(req->ip, buf, 16);
	}
	return 0;
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

static void
trace(struct eval *e, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	size_t i;

	if (e->req->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
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
	vsnprintf(e->out->problem, sizeof(e->out->problem), fmt, ap);
	va_end(ap);
}

static void
copy_span(char *dst, size_t dstlen, const char *src, size_t len)
{
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* ----------------------------------------------------------- the question pool */

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

/* One trace line for an answer: its records (cut short), its time. */
static void
trace_answer(struct eval *e, const struct spf_query *q,
    const struct spf_answer *a)
{
	char recs[400], one[300];
	size_t n = 0;
	unsigned i;

	recs[0] = '\0';
	if (e->req->trace == NULL)
		return;
	for (i = 0; a->status == SPF_DNS_OK && i < a->count; i++) {
		const struct spf_rr *rr = &a->rr[i];
		int len;

		if (q->type == SPF_T_A || q->type == SPF_T_AAAA)
			spf_ip_text(rr->len == 4 ? AF_INET : AF_INET6, rr->data,
			    one, sizeof(one));
		else if (q->type == SPF_T_MX)
			snprintf(one, sizeof(one), "%u %s", rr->pref, rr->data);
		else if (q->type == SPF_T_TXT)
			snprintf(one, sizeof(one), "\"%.*s%s\"",
			    rr->len > 200 ? 200 : rr->len, rr->data,
			    rr->len > 200 ? "..." : "");
		else
			snprintf(one, sizeof(one), "%s", rr->data);
		len = snprintf(recs + n, sizeof(recs) - n, "%s%s",
		    i > 0 ? ", " : "", one);
		if (len < 0 || (size_t)len >= sizeof(recs) - n) {
			snprintf(recs + sizeof(recs) - 5, 5, "...");
			break;
		}
		n += (size_t)len;
	}
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

/* Ask NAME/TYPE unless it was asked already this evaluation. */
static struct pooled *
pool_ask(struct eval *e, const char *name, uint16_t type, int speculative)
{
	struct pooled *p;

	if ((p = pool_find(e, name, type)) != NULL)
		return p;
	if (e->npool >= POOL_MAX || strlen(name) >= sizeof(p->q.name))
		return NULL;
	if (e->npool % POOL_CHUNK == 0 && e->chunk[e->npool / POOL_CHUNK] ==
	    NULL && (e->chunk[e->npool / POOL_CHUNK] =
	    malloc(POOL_CHUNK * sizeof(*p))) == NULL)
		return NULL;
	p = pool_at(e, e->npool++);
	memset(p, 0, sizeof(*p));
	snprintf(p->q.name, sizeof(p->q.name), "%s", name);
	p->q.type = type;
	p->speculative = speculative;
	p->submitted = 1;
	e->out->queries++;
	e->res->submit(e->res->ctx, &p->q);
	return p;
}

static void lookahead(struct eval *e);

/* Wait for P's answer; a missing answer is a server failure. */
static const struct spf_answer *
pool_wait(struct eval *e, struct pooled *p)
{
	static const struct spf_answer failed = { SPF_DNS_SERVFAIL, 0, 0 };
	const struct spf_answer *a;

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

static const struct spf_answer *
lookup(struct eval *e, const char *name, uint16_t type)
{
	struct pooled *p = pool_ask(e, name, type, 0);

	if (p == NULL) {
		static const struct spf_answer full = { SPF_DNS_SERVFAIL, 0, 0 };
		trace(e, "dns %s %s: not asked, too many questions",
		    type_name(type), name);
		return &full;
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
		free(e->chunk[i]);
		e->chunk[i] = NULL;
	}
}

/* --------------------------------------------------------------- addresses */

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

/* The reverse name of the client address, for ptr and %{p}. */
static void
reverse_name(struct eval *e, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *ip = e->req->ip;
	size_t n = 0;
	int i;

	if (e->req->family == AF_INET) {
		snprintf(buf, len, "%u.%u.%u.%u.in-addr.arpa",
		    ip[3], ip[2], ip[1], ip[0]);
		return;
	}
	for (i = 15; i >= 0 && n + 4 < len; i--) {
		buf[n++] = hex[ip[i] & 15];
		buf[n++] = '.';
		buf[n++] = hex[ip[i] >> 4];
		buf[n++] = '.';
	}
	snprintf(buf + n, len - n, "ip6.arpa");
}

/* -------------------------------------------------------- macro expansion */

static int
is_delimiter(int c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' ||
	    c == '_' || c == '=';
}

/*
 * Check the syntax of a macro-string (RFC 7208 7.1).  EXP allows the
 * letters c, r and t, which only an explanation may use.  Returns 0 or -1.
 */
static int
macro_syntax(const char *s, size_t len, int exp)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];

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
			i++;
			continue;
		}
		if (s[i++] != '{' || i >= len)
			return -1;
		c = tolower((unsigned char)s[i++]);
		if (c == '\0' || (strchr("slodiphv", c) == NULL &&
		    !(exp && strchr("crt", c) != NULL)))
			return -1;
		if (i < len && s[i] == '0')
			return -1;	/* the number of parts is nonzero */
		while (i < len && is_digit(s[i]))
			i++;
		if (i < len && (s[i] == 'r' || s[i] == 'R'))
			i++;
		while (i < len && is_delimiter(s[i]))
			i++;
		if (i >= len || s[i] != '}')
			return -1;
		i++;
	}
	return 0;
}

/* The domain-end rule: a macro-expand, or "." toplabel ["."] at the end. */
static int
domain_spec_syntax(const char *s, size_t len)
{
	size_t end = len, dot;

	if (len == 0 || macro_syntax(s, len, 0) != 0)
		return -1;
	if (s[len - 1] == '}' || (len >= 2 && s[len - 2] == '%'))
		return 0;	/* ends in a macro-expand */
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return -1;	/* a single label is no domain-end */
	if (!valid_toplabel(s + dot, end - dot))
		return -1;
	return 0;
}

struct strbuf {
	char *buf;
	size_t len, cap;
	int overflow;
};

static void
sb_put(struct strbuf *sb, const char *s, size_t len)
{
	if (sb->len + len >= sb->cap) {
		sb->overflow = 1;
		len = sb->cap - 1 - sb->len;
	}
	memcpy(sb->buf + sb->len, s, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

/* %{p}: a validated name of the client, "unknown" when there is none. */
static const char *
macro_p(struct eval *e, const char *domain)
{
	char rev[80];
	const struct spf_answer *a;
	struct pooled *hosts[SPF_MAX_PTR_NAMES];
	unsigned i, n = 0;
	const char *best = NULL;
	size_t dlen = strlen(domain);

	if (e->have_ptr_name)
		return e->ptr_name;
	e->have_ptr_name = 1;
	snprintf(e->ptr_name, sizeof(e->ptr_name), "unknown");
	reverse_name(e, rev, sizeof(rev));
	a = lookup(e, rev, SPF_T_PTR);
	if (a->status != SPF_DNS_OK)
		return e->ptr_name;
	for (i = 0; i < a->count && n < SPF_MAX_PTR_NAMES; i++)
		hosts[n++] = pool_ask(e, (const char *)a->rr[i].data,
		    addr_type(e), 0);
	for (i = 0; i < n; i++) {
		const struct spf_answer *h;
		const char *name;
		size_t len, j;

		if (hosts[i] == NULL)
			continue;
		h = pool_wait(e, hosts[i]);
		name = hosts[i]->q.name;
		for (j = 0; h->status == SPF_DNS_OK && j < h->count; j++)
			if (client_in(e, h->rr[j].data, h->rr[j].len, -1, -1))
				break;
		if (h->status != SPF_DNS_OK || j == h->count)
			continue;
		len = strlen(name);
		if (strcasecmp(name, domain) == 0) {
			best = name;
			break;
		}
		if (len > dlen && name[len - dlen - 1] == '.' &&
		    strcasecmp(name + len - dlen, domain) == 0 &&
		    (best == NULL || strcasecmp(best, domain) != 0))
			best = name;
		else if (best == NULL)
			best = name;
	}
	if (best != NULL)
		snprintf(e->ptr_name, sizeof(e->ptr_name), "%s", best);
	return e->ptr_name;
}

static void
macro_value(struct eval *e, int letter, const char *domain, char *buf,
    size_t len)
{
	/* Upper-case nibbles, as the examples of RFC 7208 7.4 show them. */
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *ip = e->req->ip;
	size_t n = 0;
	int i;

	switch (letter) {
	case 's':
		snprintf(buf, len, "%s@%s", e->local, e->sender_domain);
		break;
	case 'l':
		snprintf(buf, len, "%s", e->local);
		break;
	case 'o':
		snprintf(buf, len, "%s", e->sender_domain);
		break;
	case 'd':
		snprintf(buf, len, "%s", domain);
		break;
	case 'i':
		if (e->req->family == AF_INET) {
			snprintf(buf, len, "%u.%u.%u.%u", ip[0], ip[1], ip[2],
			    ip[3]);
			break;
		}
		/* 32 nibbles and 31 dots; LEN is MACRO_MAX. */
		for (i = 0; i < 16 && n + 4 < len; i++) {
			buf[n++] = hex[ip[i] >> 4];
			buf[n++] = '.';
			buf[n++] = hex[ip[i] & 15];
			buf[n++] = '.';
		}
		buf[n > 0 ? n - 1 : 0] = '\0';
		break;
	case 'p':
		snprintf(buf, len, "%s", macro_p(e, domain));
		break;
	case 'v':
		snprintf(buf, len, "%s",
		    e->req->family == AF_INET ? "in-addr" : "ip6");
		break;
	case 'h':
		snprintf(buf, len, "%s", e->helo);
		break;
	case 'c':
		spf_ip_text(e->req->family, ip, buf, len);
		break;
	case 'r':
		snprintf(buf, len, "%s", e->req->receiver != NULL &&
		    e->req->receiver[0] != '\0' ? e->req->receiver : "unknown");
		break;
	case 't':
		snprintf(buf, len, "%lld", (long long)(e->req->now != 0 ?
		    e->req->now : time(NULL)));
		break;
	default:
		buf[0] = '\0';
	}
}

static void
url_escape(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		char esc[3];

		if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			sb_put(sb, (const char *)&c, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		sb_put(sb, esc, 3);
	}
}

/* Split VALUE on DELIMS, optionally reverse, keep the rightmost KEEP parts
 * (0: all), join them with dots into SB. */
static void
transform(struct strbuf *sb, const char *value, const char *delims,
    unsigned keep, int reverse, int escape)
{
	const char *part[128];
	size_t plen[128];
	char joined[MACRO_MAX];
	struct strbuf j = { joined, 0, sizeof(joined), 0 };
	unsigned n = 0, i, first;
	const char *p = value, *start = value;

	joined[0] = '\0';
	for (;; p++) {
		if (*p == '\0' || strchr(delims, *p) != NULL) {
			if (n < 128) {
				part[n] = start;
				plen[n++] = (size_t)(p - start);
			}
			if (*p == '\0')
				break;
			start = p + 1;
		}
	}
	if (reverse)
		for (i = 0; i < n / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[n - 1 - i];
			plen[i] = plen[n - 1 - i];
			part[n - 1 - i] = tp;
			plen[n - 1 - i] = tl;
		}
	first = keep != 0 && keep < n ? n - keep : 0;
	for (i = first; i < n; i++) {
		if (i > first)
			sb_put(&j, ".", 1);
		sb_put(&j, part[i], plen[i]);
	}
	if (escape)
		url_escape(sb, joined, j.len);
	else
		sb_put(sb, joined, j.len);
}

/*
 * Expand the macro-string S (syntax already checked) for DOMAIN into OUT.
 */
static void
expand(struct eval *e, const char *s, size_t len, const char *domain,
    char *out, size_t outlen)
{
	struct strbuf sb = { out, 0, outlen, 0 };
	size_t i = 0;

	out[0] = '\0';
	while (i < len) {
		char value[MACRO_MAX], delims[8] = "";
		unsigned keep = 0, nd = 0;
		int letter, reverse = 0, upper;

		if (s[i] != '%') {
			sb_put(&sb, s + i++, 1);
			continue;
		}
		i++;
		if (s[i] == '%' || s[i] == '_' || s[i] == '-') {
			sb_put(&sb, s[i] == '%' ? "%" : s[i] == '_' ? " " :
			    "%20", s[i] == '-' ? 3 : 1);
			i++;
			continue;
		}
		i++;		/* '{' */
		upper = s[i] >= 'A' && s[i] <= 'Z';
		letter = tolower((unsigned char)s[i++]);
		while (i < len && is_digit(s[i])) {
			if (keep < 1000)
				keep = keep * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (s[i] == 'r' || s[i] == 'R') {
			reverse = 1;
			i++;
		}
		while (s[i] != '}') {
			if (nd < sizeof(delims) - 1 && strchr(delims, s[i]) == NULL) {
				delims[nd++] = s[i];
				delims[nd] = '\0';
			}
			i++;
		}
		i++;
		delims[nd] = '\0';
		macro_value(e, letter, domain, value, sizeof(value));
		transform(&sb, value, nd ? delims : ".", keep, reverse, upper);
	}
}

/*
 * Expand a domain-spec into a name to look up (RFC 7208 4.8: drop labels
 * from the left while longer than 253).  Returns 0, or -1 when the
 * result is no usable name (an empty or overlong label).
 */
static int
expand_domain(struct eval *e, const char *spec, size_t len, const char *domain,
    char *out, size_t outlen)
{
	char buf[MACRO_MAX];
	const char *p;
	size_t n;

	expand(e, spec, len, domain, buf, sizeof(buf));
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	p = buf;
	while (n > 253) {
		const char *dot = strchr(p, '.');

		if (dot == NULL)
			return -1;
		n -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (n == 0 || n >= outlen)
		return -1;
	memcpy(out, p, n + 1);
	/* Labels must be 1..63 octets for the name to be asked at all. */
	for (p = out; *p != '\0';) {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63)
			return -1;
		p = dot != NULL ? dot + 1 : p + l;
	}
	return 0;
}

/* ------------------------------------------------------------------ parsing */

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
		snprintf(err, errlen, "unknown mechanism \"%.*s\"",
		    (int)(nlen > 64 ? 64 : nlen), s);
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
	snprintf(err, errlen, "bad %s mechanism \"%.*s\"", mech_names[t->mech],
	    (int)(len > 128 ? 128 : len), s);
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
		snprintf(err, errlen, "bad %s= domain \"%.*s\"", name,
		    (int)(vlen > 128 ? 128 : vlen), val);
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
	size_t vlen = len - eq - 1, i;

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
	if (macro_syntax(val, vlen, 0) != 0)
		goto bad;
	return 0;		/* unknown modifiers are ignored */
bad:
	snprintf(err, errlen, "bad modifier \"%.*s\"",
	    (int)(len > 128 ? 128 : len), s);
	return -1;
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

	memset(r, 0, sizeof(*r));
	for (i = 0; i < len; i++)
		if ((unsigned char)txt[i] < 0x20 || (unsigned char)txt[i] > 0x7e) {
			snprintf(err, errlen, "record has a character outside "
			    "printable ASCII at offset %zu", i);
			return -1;
		}
	for (i = 6; i < len; i++)
		if (txt[i] == ' ' && (i + 1 == len || txt[i + 1] != ' '))
			cap++;
	r->terms = calloc(cap + 1, sizeof(*r->terms));
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
		t->text = s;
		t->textlen = tlen;
		t->qual = '+';
		if (*s == '+' || *s == '-' || *s == '~' || *s == '?') {
			t->qual = *s++;
			tlen--;
		}
		if (parse_mechanism(t, s, tlen, err, errlen) != 0) {
			if (err[0] == '\0')
				snprintf(err, errlen, "bad mechanism \"%.*s\"",
				    (int)(tlen > 128 ? 128 : tlen), s);
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

/* -------------------------------------------------------------- look-ahead */

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
		/* %{p} would need questions of its own: leave it for its turn. */
		if (spec != NULL && (memchr(spec, 'p', speclen) != NULL ||
		    memchr(spec, 'P', speclen) != NULL) &&
		    memchr(spec, '%', speclen) != NULL)
			continue;
		if (spec == NULL)
			snprintf(name, sizeof(name), "%s", domain);
		else if (expand_domain(e, spec, speclen, domain, name,
		    sizeof(name)) != 0)
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
	unsigned i;

	if (a->status != SPF_DNS_OK || a->count > SPF_MAX_MX_NAMES)
		return;
	for (i = 0; i < a->count; i++)
		if (a->rr[i].len > 0)
			pool_ask(e, (const char *)a->rr[i].data, addr_type(e), 1);
}

/* Look at answers that arrived for questions asked ahead and go one step
 * further down: records of includes, addresses of mx hosts. */
static void
lookahead(struct eval *e)
{
	unsigned i;

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
		free(r.terms);
	}
}

/* ------------------------------------------------------------- evaluation */

static enum spf_result check_host(struct eval *e, const char *domain, int depth);

static int
qual_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	}
	return SPF_PASS;
}

/* A DNS error of a term's own lookup: temperror, or R_NOMATCH. */
static int
dns_error(struct eval *e, const struct spf_answer *a, const char *what,
    const char *name)
{
	if (a->status == SPF_DNS_SERVFAIL || a->status == SPF_DNS_TIMEOUT) {
		set_problem(e, "DNS %s for %s %s", status_name(a->status), what,
		    name);
		return SPF_TEMPERROR;
	}
	return R_NOMATCH;
}

/* A lookup that gave nothing: count it, permerror past the limit. */
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

/* The name a term looks up: its domain-spec expanded, or DOMAIN. */
static int
term_target(struct eval *e, const struct term *t, const char *domain,
    char *name, size_t len)
{
	if (t->spec == NULL) {
		snprintf(name, len, "%s", domain);
		return 0;
	}
	return expand_domain(e, t->spec, t->speclen, domain, name, len);
}

static int
eval_a(struct eval *e, const struct term *t, const char *name)
{
	const struct spf_answer *a = lookup(e, name, addr_type(e));
	int r;

	if ((r = dns_error(e, a, "a", name)) != R_NOMATCH)
		return r;
	if (count_void(e, a, name) != 0)
		return SPF_PERMERROR;
	return any_address_matches(e, a, t->cidr4, t->cidr6) ? 1 : R_NOMATCH;
}

static int
eval_mx(struct eval *e, const struct term *t, const char *name)
{
	const struct spf_answer *a = lookup(e, name, SPF_T_MX);
	struct pooled *hosts[SPF_MAX_MX_NAMES];
	unsigned i, n = 0;
	int r, match = 0;

	if ((r = dns_error(e, a, "mx", name)) != R_NOMATCH)
		return r;
	if (count_void(e, a, name) != 0)
		return SPF_PERMERROR;
	if (a->status != SPF_DNS_OK)
		return R_NOMATCH;
	if (a->count > SPF_MAX_MX_NAMES) {
		set_problem(e, "%s has more than %d MX records", name,
		    SPF_MAX_MX_NAMES);
		return SPF_PERMERROR;
	}
	/* All hosts are asked at once; then the answers are read in turn. */
	for (i = 0; i < a->count; i++)
		if (a->rr[i].len > 0)
			hosts[n++] = pool_ask(e, (const char *)a->rr[i].data,
			    addr_type(e), 0);
	for (i = 0; i < n && !match; i++) {
		const struct spf_answer *h;

		if (hosts[i] == NULL)
			continue;
		h = pool_wait(e, hosts[i]);
		if ((r = dns_error(e, h, "mx host", hosts[i]->q.name)) !=
		    R_NOMATCH)
			return r;
		match = any_address_matches(e, h, t->cidr4, t->cidr6);
	}
	return match ? 1 : R_NOMATCH;
}

static int
eval_ptr(struct eval *e, const char *target)
{
	char rev[80];
	const struct spf_answer *a;
	struct pooled *hosts[SPF_MAX_PTR_NAMES];
	unsigned i, n = 0;
	size_t tlen = strlen(target);

	reverse_name(e, rev, sizeof(rev));
	a = lookup(e, rev, SPF_T_PTR);
	if (count_void(e, a, rev) != 0)
		return SPF_PERMERROR;
	if (a->status != SPF_DNS_OK)
		return R_NOMATCH;	/* errors make ptr not match (5.5) */
	for (i = 0; i < a->count && n < SPF_MAX_PTR_NAMES; i++)
		if (a->rr[i].len > 0)
			hosts[n++] = pool_ask(e, (const char *)a->rr[i].data,
			    addr_type(e), 0);
	for (i = 0; i < n; i++) {
		const char *name;
		size_t len;

		if (hosts[i] == NULL)
			continue;
		name = hosts[i]->q.name;
		len = strlen(name);
		if (!(strcasecmp(name, target) == 0 || (len > tlen &&
		    name[len - tlen - 1] == '.' &&
		    strcasecmp(name + len - tlen, target) == 0)))
			continue;
		if (any_address_matches(e, pool_wait(e, hosts[i]), -1, -1))
			return 1;
	}
	return R_NOMATCH;
}

static int
eval_include(struct eval *e, const char *name, int depth)
{
	enum spf_result r;
	int saved = e->in_include;

	e->in_include = 1;
	r = check_host(e, name, depth + 1);
	e->in_include = saved;
	switch (r) {
	case SPF_PASS:
		return 1;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return R_NOMATCH;
	case SPF_TEMPERROR:
		return SPF_TEMPERROR;
	case SPF_NONE:
		set_problem(e, "include:%s has no SPF record", name);
		return SPF_PERMERROR;
	default:
		return SPF_PERMERROR;
	}
}

/* Count a term that asks DNS questions; permerror past the tenth. */
static int
count_term(struct eval *e, const struct term *t)
{
	if (++e->dns_terms > SPF_MAX_DNS_MECH) {
		set_problem(e, "more than %d DNS-querying terms (at %.*s)",
		    SPF_MAX_DNS_MECH, (int)(t->textlen > 64 ? 64 : t->textlen),
		    t->text);
		return -1;
	}
	return 0;
}

/*
 * Evaluate one mechanism.  Returns 1 on match, R_NOMATCH, or a result
 * (temperror/permerror) that ends the evaluation.
 */
static int
eval_term(struct eval *e, const struct term *t, const char *domain, int depth)
{
	char name[256];

	if (t->mech == M_ALL)
		return 1;
	if (t->mech == M_IP4)
		return client_in(e, t->addr, 4, t->cidr4, -1) ? 1 : R_NOMATCH;
	if (t->mech == M_IP6)
		return client_in(e, t->addr, 16, -1, t->cidr6) ? 1 : R_NOMATCH;
	if (count_term(e, t) != 0)
		return SPF_PERMERROR;
	if (term_target(e, t, domain, name, sizeof(name)) != 0) {
		/* A name that cannot be asked exists nowhere. */
		trace(e, "  target of %.*s is no valid name",
		    (int)(t->textlen > 64 ? 64 : t->textlen), t->text);
		if (t->mech == M_INCLUDE) {
			set_problem(e, "include target is no valid domain");
			return SPF_PERMERROR;
		}
		return R_NOMATCH;
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
	case M_EXISTS: {
		const struct spf_answer *a = lookup(e, name, SPF_T_A);
		int r;

		if ((r = dns_error(e, a, "exists", name)) != R_NOMATCH)
			return r;
		if (count_void(e, a, name) != 0)
			return SPF_PERMERROR;
		return a->status == SPF_DNS_OK && a->count > 0 ? 1 : R_NOMATCH;
	}
	default:
		return R_NOMATCH;
	}
}

/* RFC 7208 6.2: the explanation of a fail; any problem gives the default. */
static void
explain(struct eval *e, const struct record *r, const char *domain)
{
	char name[256], text[MACRO_MAX];
	const struct spf_answer *a;
	const struct spf_rr *rr;

	snprintf(e->out->explanation, sizeof(e->out->explanation), "%s",
	    SPF_DEFAULT_EXPLANATION);
	if (r->exp == NULL ||
	    expand_domain(e, r->exp, r->explen, domain, name, sizeof(name)) != 0)
		return;
	a = lookup(e, name, SPF_T_TXT);
	if (a->status != SPF_DNS_OK || a->count != 1)
		return;
	rr = &a->rr[0];
	if (memchr(rr->data, '\0', rr->len) != NULL ||
	    macro_syntax((const char *)rr->data, rr->len, 1) != 0) {
		trace(e, "  explanation of %s is no valid macro-string", name);
		return;
	}
	expand(e, (const char *)rr->data, rr->len, domain, text, sizeof(text));
	copy_span(e->out->explanation, sizeof(e->out->explanation), text,
	    strlen(text));
}

/* Fetch and parse DOMAIN's record: SPF_NONE with r filled, or a result. */
static int
fetch_record(struct eval *e, const char *domain, struct record *r)
{
	const struct spf_answer *a;
	char err[200];
	int k;

	a = lookup(e, domain, SPF_T_TXT);
	if (a->status == SPF_DNS_SERVFAIL || a->status == SPF_DNS_TIMEOUT) {
		set_problem(e, "DNS %s looking up the record of %s",
		    status_name(a->status), domain);
		return SPF_TEMPERROR;
	}
	k = select_record(a);
	if (k == -1) {
		trace(e, "  %s has no SPF record", domain);
		return -1;
	}
	if (k == -2) {
		set_problem(e, "%s has more than one SPF record", domain);
		return SPF_PERMERROR;
	}
	trace(e, "record %s: %.*s", domain,
	    (int)(a->rr[k].len > 400 ? 400 : a->rr[k].len), a->rr[k].data);
	err[0] = '\0';
	if (parse_record((const char *)a->rr[k].data, a->rr[k].len, r, err,
	    sizeof(err)) != 0) {
		free(r->terms);
		r->terms = NULL;
		set_problem(e, "%s: %s", domain, err);
		return SPF_PERMERROR;
	}
	return SPF_NONE;
}

static void
set_mechanism(struct eval *e, const struct term *t, int depth)
{
	if (depth != 0 && e->out->mechanism[0] != '\0')
		return;
	copy_span(e->out->mechanism, sizeof(e->out->mechanism), t->text,
	    t->textlen);
}

static enum spf_result
check_host(struct eval *e, const char *domain, int depth)
{
	struct record r;
	unsigned i;
	int res;

	if (depth > MAX_DEPTH) {
		set_problem(e, "includes nested too deep");
		return SPF_PERMERROR;
	}
	if (!spf_valid_domain(domain)) {
		trace(e, "  \"%s\" is no valid domain", domain);
		return SPF_NONE;
	}
	res = fetch_record(e, domain, &r);
	if (res == -1)
		return SPF_NONE;
	if (res != SPF_NONE)
		return (enum spf_result)res;
	ask_ahead(e, domain, &r, depth);
	res = R_NOMATCH;
	for (i = 0; i < r.nterms; i++) {
		const struct term *t = &r.terms[i];

		res = eval_term(e, t, domain, depth);
		trace(e, "%*smechanism %.*s: %s", depth * 2, "",
		    (int)(t->textlen > 200 ? 200 : t->textlen), t->text,
		    res == 1 ? "match" : res == R_NOMATCH ? "no match" :
		    spf_result_name(res));
		if (res == 1) {
			res = qual_result(t->qual);
			if (!e->in_include)
				set_mechanism(e, t, depth);
			if (res == SPF_FAIL && !e->in_include)
				explain(e, &r, domain);
			break;
		}
		if (res != R_NOMATCH)
			break;
	}
	if (res == R_NOMATCH && r.redirect != NULL) {
		char target[256];

		if (++e->dns_terms > SPF_MAX_DNS_MECH) {
			set_problem(e, "more than %d DNS-querying terms (at "
			    "redirect)", SPF_MAX_DNS_MECH);
			res = SPF_PERMERROR;
		} else if (expand_domain(e, r.redirect, r.redirectlen, domain,
		    target, sizeof(target)) != 0 || !spf_valid_domain(target)) {
			set_problem(e, "redirect target is no valid domain");
			res = SPF_PERMERROR;
		} else {
			trace(e, "%*sredirect=%s", depth * 2, "", target);
			res = check_host(e, target, depth + 1);
			if (res == SPF_NONE) {
				set_problem(e, "redirect=%s has no SPF record",
				    target);
				res = SPF_PERMERROR;
			}
		}
	} else if (res == R_NOMATCH) {
		res = SPF_NEUTRAL;
		if (depth == 0)
			snprintf(e->out->mechanism, sizeof(e->out->mechanism),
			    "default");
	}
	free(r.terms);
	return (enum spf_result)res;
}

/* --------------------------------------------------------------- the entry */

static void
split_sender(struct eval *e)
{
	const struct spf_request *req = e->req;
	const char *s = req->sender, *at;

	if (req->helo != NULL)
		snprintf(e->helo, sizeof(e->helo), "%s", req->helo);
	if (req->identity == SPF_ID_HELO || s == NULL || s[0] == '\0') {
		snprintf(e->local, sizeof(e->local), "postmaster");
		snprintf(e->sender_domain, sizeof(e->sender_domain), "%s",
		    e->helo);
		return;
	}
	at = strrchr(s, '@');
	if (at == NULL) {
		/* No local-part: the whole is a domain (RFC 7208 4.3). */
		snprintf(e->local, sizeof(e->local), "postmaster");
		snprintf(e->sender_domain, sizeof(e->sender_domain), "%s", s);
		return;
	}
	if (at == s)
		snprintf(e->local, sizeof(e->local), "postmaster");
	else
		copy_span(e->local, sizeof(e->local), s, (size_t)(at - s));
	snprintf(e->sender_domain, sizeof(e->sender_domain), "%s", at + 1);
}

void
spf_check(const struct spf_request *req, const struct spf_resolver *res,
    struct spf_outcome *out)
{
	struct eval e;
	size_t n;

	memset(out, 0, sizeof(*out));
	memset(&e, 0, sizeof(e));
	e.req = req;
	e.res = res;
	e.out = out;
	split_sender(&e);
	n = strlen(e.sender_domain);
	if (n > 1 && e.sender_domain[n - 1] == '.')
		e.sender_domain[n - 1] = '\0';
	snprintf(out->domain, sizeof(out->domain), "%s", e.sender_domain);
	snprintf(out->sender, sizeof(out->sender), "%s@%s", e.local,
	    e.sender_domain);
	out->result = check_host(&e, e.sender_domain, 0);
	if (out->result == SPF_NONE || out->result == SPF_TEMPERROR ||
	    out->result == SPF_PERMERROR)
		out->mechanism[0] = '\0';
	if (out->result != SPF_FAIL)
		out->explanation[0] = '\0';
	out->dns_lookups = e.dns_terms;
	out->void_lookups = e.voids;
	pool_release(&e);
}
