/*
 * dns.c - the resolver the evaluator asks its DNS questions through,
 * implemented on udns.
 *
 * udns sends the UDP questions, retransmits them and matches the replies.
 * What udns 0.4 lacks is done here:
 *  - one overall deadline per evaluation, kept with poll() in milliseconds
 *    (udns counts whole seconds and doubles them per retry);
 *  - truncated answers: udns treats TC like SERVFAIL, so its debug hook
 *    (called with code 0 for every reply matched to a question, before udns
 *    looks at TC) notes the truncation, and the question is asked again
 *    over TCP to the server that truncated it;
 *  - every reply is parsed here, from the raw packet the debug hook sees,
 *    so NXDOMAIN and NODATA stay apart and negative answers keep the SOA's
 *    negative TTL;
 *  - CNAME chains followed through the answer however long, and asked
 *    again where an answer stops short of the records;
 *  - questions beyond what is sent at once wait their turn;
 *  - the choice of nameserver: each configured server has a udns context
 *    of its own, dns.c asks the next server when one is silent for a
 *    second or fails, and the process remembers the silent ones, so a
 *    dead server costs a second once per DEAD_RETRY_MS, not once per
 *    round trip (udns tries servers in order and remembers nothing);
 *  - an optional cache of answers, shared by the threads' resolvers.
 * All data from the network is hostile: every length is checked against
 * the packet, names are decompressed with backward pointers only, and an
 * answer is bounded (MAX_ANSWER) whatever the packet claims.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <udns.h>

#include "dns.h"

#define T_CNAME		5
#define T_SOA		6
#define C_IN		1
/* Questions sent at once; bounds the poll set.  More wait in a queue
 * and go out as answers make room, under the same deadline. */
#define MAX_IN_FLIGHT	64
#define MAX_ANSWER	(256 * 1024)	/* bytes of one parsed answer */
/* Questions asked again for one CNAME chain that answers stop short of
 * (see positive()): a chain served one hop per answer is followed as far
 * as pyspf follows any chain (10 CNAMEs), and one served by recursive
 * servers, which follow 8 to 16 hops per answer, much further. */
#define MAX_CHAIN_QUERIES	10
/* How long a question waits for a nameserver before the next one is
 * asked too (the first may still answer): udns's own pace, a second. */
#define FAILOVER_MS		1000
/* A server that stayed silent FAILOVER_MS on a question another server
 * answered is asked last for DEAD_RETRY_MS (unless configured); then one
 * question asks it first again, and its answer decides. */
#define DEAD_RETRY_MS		30000
/* Time that one question has to tell whether a server is back. */
#define RETRY_GRACE_MS		(5 * FAILOVER_MS)

enum tcp_phase { TCP_CONNECT, TCP_WRITE, TCP_READLEN, TCP_READBODY };

struct dq;

/* A question as asked of one server. */
struct ask {
	struct dq *x;
	struct dns_query *uq;		/* while udns has it */
	uint64_t sent;			/* microseconds; 0: not asked */
	int replied;			/* the server replied to it */
};

/* One question, waiting to be sent or in flight. */
struct dq {
	struct resolver *d;
	struct spf_query *q;
	struct dq *next, *prev;		/* in d->flight or d->waiting */
	int queued;			/* in d->waiting: not sent yet */
	unsigned char dn[DNS_MAXDN];	/* the name in wire form */
	uint64_t start;			/* microseconds, monotonic */
	/* over UDP: the servers in the order to ask them, and each ask */
	unsigned char order[RESOLVER_MAX_SERVERS];
	unsigned nasked;		/* order[0 .. nasked - 1] asked */
	uint64_t next_try;		/* ask the next server then; 0: none */
	struct ask ask[RESOLVER_MAX_SERVERS];	/* by server */
	struct spf_answer *failure;	/* a server's failure, kept while
					   others may still answer */
	/* what the last reply brought, for the ask it came to */
	struct ask *last_ask;
	struct spf_answer *last;
	int truncated;			/* a UDP reply came with TC */
	struct sockaddr_storage srv;	/* who truncated it */
	socklen_t srvlen;
	unsigned char chain[DNS_MAXDN];	/* its CNAME chain goes on there */
	unsigned chain_queries;		/* asked again for the chain */
	uint32_t chain_ttl;		/* the least TTL of the chain so far */
	/* over TCP */
	int fd;
	enum tcp_phase phase;
	unsigned char out[2 + DNS_HSIZE + DNS_MAXDN + 4];
	size_t outlen, outoff;
	uint16_t id;
	unsigned char *in;
	size_t inlen, inoff;
};

/* A list of questions, in the order they were added. */
struct dqlist {
	struct dq *head, *tail;
	unsigned n;
};

/*
 * A nameserver as one resolver asks it: with a udns context of its own,
 * so that dns.c, not udns, picks the server for each question (udns
 * tries a context's servers in order and remembers nothing).  Without
 * configured servers, one context holds the system's, in udns's hands.
 */
struct server {
	struct dns_ctx *ctx;
	int fd;				/* udns's socket; -1: closed */
	struct sockaddr_storage sa;	/* family 0: the system's servers */
};

struct resolver {
	struct server srv[RESOLVER_MAX_SERVERS];
	unsigned nsrv;
	unsigned timeout_ms;
	unsigned dead_retry_ms;
	uint64_t deadline;		/* microseconds, monotonic; 0: unset */
	struct dqlist flight;		/* sent, at most MAX_IN_FLIGHT */
	struct dqlist waiting;		/* not sent yet, first come first */
	int pending;			/* udns holds questions not sent yet */
	uint16_t nextid;		/* for TCP questions */
	struct resolver_cache *cache;	/* shared with other threads, or NULL */
};

/* ---------------------------------------------------------------- time */

static uint64_t
now_usec(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* --------------------------------------------------------------- names */

/* NAME (dotted, no trailing dot needed) to wire form; bytes are taken
 * literally, no escapes: the evaluator hands over names as they are.
 * Returns the wire length or -1 when NAME cannot be a DNS name. */
static int
name_to_wire(const char *name, unsigned char *dn, size_t size)
{
	size_t n = strlen(name), i = 0, o = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return -1;
	while (i < n) {
		size_t j = i;

		while (j < n && name[j] != '.')
			j++;
		if (j == i || j - i > 63 || o + 1 + (j - i) + 1 > size)
			return -1;
		dn[o++] = (unsigned char)(j - i);
		memcpy(dn + o, name + i, j - i);
		o += j - i;
		i = j + 1;
	}
	dn[o++] = 0;
	return (int)o;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Compare two uncompressed wire names, ASCII case-insensitively. */
static int
dn_equal(const unsigned char *a, const unsigned char *b)
{
	size_t i = 0;

	for (;;) {
		unsigned l = a[i];

		if (l != b[i])
			return 0;
		if (l == 0)
			return 1;
		for (unsigned k = 1; k <= l; k++)
			if (lower(a[i + k]) != lower(b[i + k]))
				return 0;
		i += l + 1;
	}
}

/*
 * Read the possibly compressed name at *OFF of PKT into DN (uncompressed,
 * at most DNS_MAXDN bytes) and advance *OFF past it.  A pointer must point
 * before the label it replaces, so reading always ends.
 */
static int
read_name(const unsigned char *pkt, size_t len, size_t *off,
    unsigned char *dn)
{
	size_t pos = *off, o = 0, end = 0, limit = *off;
	int jumped = 0;

	for (;;) {
		unsigned l;

		if (pos >= len)
			return -1;
		l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len)
				return -1;
			to = ((size_t)(l & 0x3f) << 8) | pkt[pos + 1];
			if (to >= limit)
				return -1;
			if (!jumped)
				end = pos + 2;
			jumped = 1;
			limit = to;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -1;
		if (pos + 1 + l > len || o + 1 + l > DNS_MAXDN)
			return -1;
		memcpy(dn + o, pkt + pos, 1 + l);
		o += 1 + l;
		pos += 1 + l;
		if (l == 0)
			break;
	}
	*off = jumped ? end : pos;
	return 0;
}

/* Dotted text of wire name DN, no trailing dot ("" for the root). */
static size_t
dn_to_text(const unsigned char *dn, char *out)
{
	size_t i = 0, o = 0;

	while (dn[i] != 0) {
		unsigned l = dn[i];

		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, dn + i + 1, l);
		o += l;
		i += l + 1;
	}
	out[o] = '\0';
	return o;
}

/* ------------------------------------------------------------- replies */

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

struct pkt {
	const unsigned char *p;
	size_t len;
};

struct rr {
	unsigned char owner[DNS_MAXDN];
	unsigned type, class;
	uint32_t ttl;
	size_t rdoff, rdlen;
};

/* The resource record at *OFF; -1 when it runs past the packet. */
static int
next_rr(const struct pkt *pk, size_t *off, struct rr *rr)
{
	uint32_t ttl;

	if (read_name(pk->p, pk->len, off, rr->owner) == -1)
		return -1;
	if (*off + 10 > pk->len)
		return -1;
	rr->type = get16(pk->p + *off);
	rr->class = get16(pk->p + *off + 2);
	ttl = get32(pk->p + *off + 4);
	/* RFC 2181 8: a TTL with the top bit set counts as zero */
	rr->ttl = ttl > 0x7fffffffu ? 0 : ttl;
	rr->rdlen = get16(pk->p + *off + 8);
	rr->rdoff = *off + 10;
	if (rr->rdoff + rr->rdlen > pk->len)
		return -1;
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/* A name inside rdata; it must not run past the record. */
static int
rdata_name(const struct pkt *pk, const struct rr *rr, size_t off,
    unsigned char *dn)
{
	if (read_name(pk->p, pk->len, &off, dn) == -1)
		return -1;
	return off <= rr->rdoff + rr->rdlen ? 0 : -1;
}

/*
 * Bytes the record's data takes in an spf_answer, or -1 when the rdata is
 * malformed.  With OUT, also copy it there (and the MX preference to
 * *PREF); *DATALEN gets what goes into spf_rr.len.
 */
static long
rr_data(const struct pkt *pk, const struct rr *rr, unsigned char *out,
    uint16_t *pref, uint16_t *datalen)
{
	const unsigned char *rd = pk->p + rr->rdoff;
	unsigned char dn[DNS_MAXDN];
	char text[DNS_MAXDN + 1];
	size_t pos = 0, total = 0, n;

	switch (rr->type) {
	case SPF_T_A:
	case SPF_T_AAAA:
		n = rr->type == SPF_T_A ? 4 : 16;
		if (rr->rdlen != n)
			return -1;
		if (out != NULL)
			memcpy(out, rd, n);
		*datalen = (uint16_t)n;
		return (long)n;
	case SPF_T_TXT:
		/* RFC 7208 3.3: the character-strings joined, nothing between */
		while (pos < rr->rdlen) {
			size_t l = rd[pos];

			if (pos + 1 + l > rr->rdlen)
				return -1;
			if (out != NULL)
				memcpy(out + total, rd + pos + 1, l);
			total += l;
			pos += 1 + l;
		}
		if (out != NULL)
			out[total] = '\0';
		*datalen = (uint16_t)total;
		return (long)total + 1;
	case SPF_T_MX:
	case SPF_T_PTR:
		if (rr->type == SPF_T_MX) {
			if (rr->rdlen < 3)
				return -1;
			if (pref != NULL)
				*pref = get16(rd);
			pos = 2;
		}
		if (rdata_name(pk, rr, rr->rdoff + pos, dn) == -1)
			return -1;
		n = dn_to_text(dn, text);
		if (out != NULL)
			memcpy(out, text, n + 1);
		*datalen = (uint16_t)n;
		return (long)n + 1;
	default:
		return -1;
	}
}

/* Offset just past the question section, or 0 when it is malformed. */
static size_t
skip_questions(const struct pkt *pk, unsigned char *qdn, unsigned *qtype)
{
	size_t off = DNS_HSIZE;
	unsigned n = get16(pk->p + 4);

	for (unsigned i = 0; i < n; i++) {
		if (read_name(pk->p, pk->len, &off, qdn) == -1 ||
		    off + 4 > pk->len)
			return 0;
		*qtype = get16(pk->p + off);
		off += 4;
	}
	return off;
}

/* Offset past the answer section, or 0 when a record is malformed. */
static size_t
skip_answers(const struct pkt *pk, size_t off)
{
	unsigned n = get16(pk->p + 6);
	struct rr rr;

	for (unsigned i = 0; i < n; i++)
		if (next_rr(pk, &off, &rr) == -1)
			return 0;
	return off;
}

/* RFC 2308 5: the negative TTL is the smaller of the SOA's own TTL and
 * its MINIMUM field.  0 when there is no (well-formed) SOA. */
static uint32_t
negative_ttl(const struct pkt *pk, size_t off)
{
	unsigned n = get16(pk->p + 8);
	unsigned char dn[DNS_MAXDN];
	struct rr rr;

	for (unsigned i = 0; i < n; i++) {
		size_t at;
		uint32_t min;

		if (next_rr(pk, &off, &rr) == -1)
			return 0;
		if (rr.type != T_SOA || rr.class != C_IN)
			continue;
		at = rr.rdoff;
		if (read_name(pk->p, pk->len, &at, dn) == -1 ||
		    read_name(pk->p, pk->len, &at, dn) == -1 ||
		    at + 20 > rr.rdoff + rr.rdlen)
			return 0;
		min = get32(pk->p + at + 16);
		if (min > 0x7fffffffu)
			min = 0;
		return min < rr.ttl ? min : rr.ttl;
	}
	return 0;
}

/*
 * The answer section, indexed once: where each record starts and a hash
 * of its owner, so that following a CNAME chain looks at the records of
 * each name only, and a chain of thousands of hops in a 64 KiB packet
 * costs thousands of steps, not millions.
 */
struct arec {
	uint32_t hash;
	size_t off;
};

struct section {
	struct arec *rec;
	unsigned n;
	unsigned ncname;		/* CNAME records among them */
};

static uint32_t
dn_hash(const unsigned char *dn)
{
	uint32_t h = 2166136261u;	/* FNV-1a over the lower-case name */

	for (size_t i = 0; dn[i] != 0; i += dn[i] + 1)
		for (unsigned k = 0; k <= dn[i]; k++) {
			h ^= lower(dn[i + k]);
			h *= 16777619u;
		}
	return h;
}

/* Index the answer section at OFF; -1 on bad data or without memory. */
static int
index_answers(const struct pkt *pk, size_t off, struct section *sec)
{
	unsigned n = get16(pk->p + 6);
	struct rr rr;

	/* a record takes at least 11 bytes: whatever the header claims */
	if (n > pk->len / 11)
		return -1;
	sec->n = sec->ncname = 0;
	if ((sec->rec = calloc(n ? n : 1, sizeof(*sec->rec))) == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		sec->rec[i].off = off;
		if (next_rr(pk, &off, &rr) == -1) {
			free(sec->rec);
			return -1;
		}
		sec->rec[i].hash = dn_hash(rr.owner);
		if (rr.type == T_CNAME && rr.class == C_IN)
			sec->ncname++;
	}
	sec->n = n;
	return 0;
}

struct scan {
	unsigned count;
	size_t datalen;
	uint32_t ttl;
	int cname;			/* a CNAME for the target was seen */
	unsigned char next[DNS_MAXDN];	/* where it points */
};

/*
 * Look at the records of SEC owned by TARGET: count those of TYPE (with
 * ANS, copy them into it) and note a CNAME.  -1 on bad data.
 */
static int
scan_answers(const struct pkt *pk, const struct section *sec,
    const unsigned char *target, unsigned type, struct scan *s,
    struct spf_answer *ans)
{
	unsigned char *data = ans ? (unsigned char *)&ans->rr[ans->count] : NULL;
	uint32_t hash = dn_hash(target);
	struct rr rr;

	for (unsigned i = 0; i < sec->n; i++) {
		size_t off = sec->rec[i].off;
		uint16_t dlen = 0, pref = 0;
		long used;

		if (sec->rec[i].hash != hash)
			continue;
		if (next_rr(pk, &off, &rr) == -1)
			return -1;
		if (rr.class != C_IN || !dn_equal(rr.owner, target))
			continue;
		if (rr.type == T_CNAME && type != T_CNAME) {
			if (rdata_name(pk, &rr, rr.rdoff, s->next) == -1)
				return -1;
			s->cname = 1;
			s->ttl = rr.ttl < s->ttl ? rr.ttl : s->ttl;
			continue;
		}
		if (rr.type != type)
			continue;
		used = rr_data(pk, &rr, data ? data + s->datalen : NULL,
		    &pref, &dlen);
		if (used < 0)
			return -1;
		if (ans != NULL) {
			ans->rr[s->count].data = data + s->datalen;
			ans->rr[s->count].len = dlen;
			ans->rr[s->count].pref = pref;
		}
		s->count++;
		s->datalen += (size_t)used;
		s->ttl = rr.ttl < s->ttl ? rr.ttl : s->ttl;
	}
	return 0;
}

static struct spf_answer *
status_answer(enum spf_dns_status st, uint32_t ttl)
{
	return spf_answer_new(st, ttl, 0, 0);
}

/* 1 if the authority section from OFF holds an SOA record. */
static int
has_soa(const struct pkt *pk, size_t off)
{
	unsigned n = get16(pk->p + 8);
	struct rr rr;

	for (unsigned i = 0; i < n; i++) {
		if (next_rr(pk, &off, &rr) == -1)
			return 0;
		if (rr.type == T_SOA && rr.class == C_IN)
			return 1;
	}
	return 0;
}

/*
 * Records of TYPE for QDN, following the CNAME chain through the answer.
 *
 * No hop count of ours ends a chain: the answer holds it whole, so it is
 * followed as far as the packet carries it.  A name met twice is a loop;
 * with more hops than the answer has CNAME records some name has come
 * back, so that count bounds the walk.  A loop is no data, as pyspf
 * (which stops at a name seen before) and Mail::SPF (which takes the
 * records of the type from the answer, and a loop has none) both have it.
 *
 * A chain that stops at a name with neither records nor a CNAME: with an
 * SOA in the authority section the server says that name has no data
 * (RFC 2308 2.2); without one the server stopped following (a hop limit
 * of its own, or a server that does not recurse), and *NEXT gets the name
 * to ask next, as a resolver restarts at the canonical name (RFC 1034
 * 5.3.3) and as pyspf does; the answer is then NODATA with the chain's
 * TTL.  NEXT is left empty otherwise.
 */
static struct spf_answer *
positive(const struct pkt *pk, size_t ansoff, const unsigned char *qdn,
    unsigned type, size_t authoff, unsigned char *next)
{
	unsigned char target[DNS_MAXDN];
	struct spf_answer *ans = NULL;
	struct section sec;
	struct scan s;
	uint32_t ttl = 0x7fffffffu;
	unsigned hops;

	if (index_answers(pk, ansoff, &sec) == -1)
		return status_answer(SPF_DNS_SERVFAIL, 0);
	memcpy(target, qdn, dns_dnlen(qdn));
	for (hops = 0; ; hops++) {
		memset(&s, 0, sizeof(s));
		s.ttl = ttl;
		if (scan_answers(pk, &sec, target, type, &s, NULL) == -1) {
			ans = status_answer(SPF_DNS_SERVFAIL, 0);
			goto done;
		}
		ttl = s.ttl;
		if (s.count > 0 || !s.cname)
			break;
		if (hops == sec.ncname) {
			ans = status_answer(SPF_DNS_NODATA, 0);	/* a loop */
			goto done;
		}
		memcpy(target, s.next, dns_dnlen(s.next));
	}
	if (s.count == 0) {
		uint32_t neg = negative_ttl(pk, authoff);

		if (hops > 0 && !has_soa(pk, authoff))
			memcpy(next, target, dns_dnlen(target));
		else if (hops == 0 || neg < ttl)
			ttl = neg;
		ans = status_answer(SPF_DNS_NODATA, ttl);
		goto done;
	}
	/* Names decompress to more than their bytes in the packet: bound
	 * what thousands of 2-byte MX or PTR pointers could make of 64 KiB.
	 * The largest TXT answer fits well. */
	if (s.datalen + s.count * sizeof(struct spf_rr) > MAX_ANSWER) {
		ans = status_answer(SPF_DNS_SERVFAIL, 0);
		goto done;
	}
	if ((ans = spf_answer_new(SPF_DNS_OK, s.ttl, s.count,
	    s.datalen)) == NULL)
		goto done;
	ans->count = s.count;
	s.count = 0;
	s.datalen = 0;
	if (scan_answers(pk, &sec, target, type, &s, ans) == -1) {
		free(ans);
		ans = status_answer(SPF_DNS_SERVFAIL, 0);
	}
done:
	free(sec.rec);
	return ans;
}

/*
 * The reply PKT to QDN/TYPE (QDN in wire form).  NEXT (DNS_MAXDN bytes)
 * gets the name to ask next when the answer's CNAME chain stops short
 * (see positive()), the root name (a single 0) otherwise.
 */
static struct spf_answer *
parse_reply(const unsigned char *p, size_t len, const unsigned char *qdn,
    unsigned type, unsigned char *next)
{
	struct pkt pk = { p, len };
	unsigned char got[DNS_MAXDN];
	unsigned gottype = 0;
	size_t ansoff, authoff;

	next[0] = 0;
	if (len < DNS_HSIZE || !(p[2] & 0x80) || get16(p + 4) != 1)
		return status_answer(SPF_DNS_SERVFAIL, 0);
	ansoff = skip_questions(&pk, got, &gottype);
	if (ansoff == 0 || gottype != type || !dn_equal(got, qdn))
		return status_answer(SPF_DNS_SERVFAIL, 0);
	authoff = skip_answers(&pk, ansoff);
	if (authoff == 0)
		return status_answer(SPF_DNS_SERVFAIL, 0);
	switch (p[3] & 0x0f) {
	case DNS_R_NOERROR:
		return positive(&pk, ansoff, qdn, type, authoff, next);
	case DNS_R_NXDOMAIN:
		/* with a chain, the last name of it (RFC 6604 3) */
		return status_answer(SPF_DNS_NXDOMAIN,
		    negative_ttl(&pk, authoff));
	default:
		return status_answer(SPF_DNS_SERVFAIL, 0);
	}
}

struct spf_answer *
resolver_parse_reply(const unsigned char *p, size_t len, const char *name,
    unsigned type, char *next)
{
	unsigned char qdn[DNS_MAXDN], follow[DNS_MAXDN];
	struct spf_answer *a;

	if (next != NULL)
		next[0] = '\0';
	if (name_to_wire(name, qdn, sizeof(qdn)) == -1)
		return status_answer(SPF_DNS_NXDOMAIN, 0);
	a = parse_reply(p, len, qdn, type, follow);
	if (next != NULL)
		dn_to_text(follow, next);
	return a;
}

/* --------------------------------------------------------------- cache */

/*
 * Answers shared by the resolvers of all threads, under one lock: a hash
 * table of (name, type) with a least-recently-used list for eviction.
 * Only definite answers are kept (records, no data, no such name), for
 * their TTL (at most a day).
 *
 * What the sender's DNS puts in the cache is bounded twice: in entries,
 * and in bytes, the table included, counted as malloc holds them
 * (entry_cost()).  An entry costs at most RESOLVER_CACHE_MAX_ENTRY: a TXT answer
 * of 4 KB fits, and so do 200 A records; a bigger answer is used but not
 * kept (without this, 4 KB of data could be 4000 one-byte records of 16
 * bytes each, 68 KB).  When either bound is hit, the least recently used
 * entries go.
 */
#define CACHE_MAX_TTL	86400
#define CACHE_MAX	1000000
/* What malloc holds for a block of N bytes: a header of up to 16 bytes,
 * and the size rounded up to 16 (glibc on 64 bits; others hold less). */
#define BLOCK(n)	(((size_t)(n) + 16 + 15) & ~(size_t)15)

struct centry {
	struct centry *hnext;		/* in its bucket */
	struct centry *older, *newer;	/* the LRU list */
	uint64_t expires;		/* seconds, monotonic */
	uint32_t hash;
	uint16_t type;
	size_t cost;			/* entry_cost() */
	struct spf_answer *ans;
	char name[];			/* lower case */
};

struct resolver_cache {
	pthread_mutex_t lock;
	struct centry **bucket;
	size_t nbuckets;		/* a power of two */
	unsigned count, max;
	size_t bytes, max_bytes;	/* held, the table included */
	struct centry *newest, *oldest;
};

static uint32_t
cache_hash(const char *name, unsigned type)
{
	uint32_t h = 2166136261u ^ type;	/* FNV-1a */

	for (; *name != '\0'; name++) {
		h ^= lower((unsigned char)*name);
		h *= 16777619u;
	}
	return h;
}

/*
 * A cached answer is handed out as it is, not copied (a copy is a
 * malloc, which costs most where threads share it: musl).  Its block
 * begins with the count of those that hold it: the cache while the
 * entry lives, and each question answered from it until it is dropped.
 * A holder is added under the cache's lock, while the cache holds it
 * too, so the count cannot reach 0 then; letting go needs no lock.
 * Readers get the TTL it was kept with.
 */
struct held {
	atomic_uint refs;
};
#define HELD_HDR	((sizeof(struct held) + _Alignof(max_align_t) - 1) & \
			    ~(_Alignof(max_align_t) - 1))

static struct held *
held_of(const struct spf_answer *a)
{
	return (struct held *)(void *)((char *)(uintptr_t)a - HELD_HDR);
}

/* A copy of A for the cache, held once (by the cache), or NULL. */
static struct spf_answer *
answer_copy(const struct spf_answer *a, uint32_t ttl)
{
	struct spf_answer *c;
	unsigned char *data, *block;
	size_t len = 0;

	for (unsigned i = 0; i < a->count; i++)
		len += (size_t)a->rr[i].len + 1;
	if ((block = calloc(1, HELD_HDR + sizeof(*a) +
	    a->count * sizeof(a->rr[0]) + len + 1)) == NULL)
		return NULL;
	atomic_init(&((struct held *)(void *)block)->refs, 1);
	c = (struct spf_answer *)(void *)(block + HELD_HDR);
	c->status = a->status;
	c->ttl = ttl;
	c->count = a->count;
	data = (unsigned char *)&c->rr[a->count];
	for (unsigned i = 0; i < a->count; i++) {
		memcpy(data, a->rr[i].data, a->rr[i].len);
		data[a->rr[i].len] = '\0';
		c->rr[i].data = data;
		c->rr[i].len = a->rr[i].len;
		c->rr[i].pref = a->rr[i].pref;
		data += a->rr[i].len + 1;
	}
	return c;
}

/* One holder of cached answer A lets go. */
static void
answer_unhold(struct spf_answer *a)
{
	struct held *h = held_of(a);

	if (atomic_fetch_sub(&h->refs, 1) == 1)
		free(h);
}

/* What an entry of NAMELEN bytes of name holding A costs. */
static size_t
entry_cost(size_t namelen, const struct spf_answer *a)
{
	size_t data = 0;

	for (unsigned i = 0; i < a->count; i++)
		data += (size_t)a->rr[i].len + 1;
	return BLOCK(sizeof(struct centry) + namelen + 1) +
	    BLOCK(HELD_HDR + sizeof(*a) + a->count * sizeof(a->rr[0]) +
	    data + 1);
}

struct resolver_cache *
resolver_cache_new(unsigned entries, size_t max_bytes)
{
	struct resolver_cache *c;
	size_t want;

	if (entries == 0 || entries > CACHE_MAX ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->max = entries;
	c->max_bytes = max_bytes;
	/* a bucket for every entry the bounds let in, at 512 bytes each
	 * when bytes bound first: chains stay short, the table small */
	want = max_bytes / 512 < entries ? max_bytes / 512 : entries;
	for (c->nbuckets = 16; c->nbuckets < want;)
		c->nbuckets *= 2;
	c->bytes = BLOCK(sizeof(*c)) + BLOCK(c->nbuckets * sizeof(*c->bucket));
	if (c->bytes > max_bytes ||
	    (c->bucket = calloc(c->nbuckets, sizeof(*c->bucket))) == NULL ||
	    pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->bucket);
		free(c);
		return NULL;
	}
	return c;
}

static void
lru_unlink(struct resolver_cache *c, struct centry *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
}

static void
lru_push(struct resolver_cache *c, struct centry *e)
{
	e->newer = NULL;
	e->older = c->newest;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

/* Unlink E from its bucket and the list, and free it. */
static void
cache_remove(struct resolver_cache *c, struct centry *e)
{
	struct centry **pp = &c->bucket[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	c->count--;
	c->bytes -= e->cost;
	answer_unhold(e->ans);
	free(e);
}

static struct centry *
cache_find(struct resolver_cache *c, const char *name, unsigned type,
    uint32_t hash)
{
	struct centry *e = c->bucket[hash & (c->nbuckets - 1)];

	for (; e != NULL; e = e->hnext)
		if (e->hash == hash && e->type == type &&
		    strcasecmp(e->name, name) == 0)
			return e;
	return NULL;
}

void
resolver_cache_free(struct resolver_cache *c)
{
	if (c == NULL)
		return;
	while (c->oldest != NULL)
		cache_remove(c, c->oldest);
	pthread_mutex_destroy(&c->lock);
	free(c->bucket);
	free(c);
}

/* The cached answer to NAME/TYPE, held by the caller until it lets go
 * (answer_unhold()), or NULL. */
static struct spf_answer *
cache_get(struct resolver_cache *c, const char *name, unsigned type)
{
	uint32_t hash = cache_hash(name, type);
	uint64_t now = now_usec() / 1000000u;
	struct spf_answer *a = NULL;
	struct centry *e;

	if (pthread_mutex_lock(&c->lock) != 0)
		return NULL;
	if ((e = cache_find(c, name, type, hash)) != NULL) {
		if (e->expires <= now)
			cache_remove(c, e);
		else {
			lru_unlink(c, e);
			lru_push(c, e);
			atomic_fetch_add(&held_of(e->ans)->refs, 1);
			a = e->ans;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return a;
}

static int
cacheable(const struct spf_answer *a)
{
	return a->ttl > 0 && (a->status == SPF_DNS_OK ||
	    a->status == SPF_DNS_NODATA || a->status == SPF_DNS_NXDOMAIN);
}

/* Keep a copy of A, the answer to NAME/TYPE, for its TTL. */
static void
cache_put(struct resolver_cache *c, const char *name, unsigned type,
    const struct spf_answer *a)
{
	uint32_t hash = cache_hash(name, type);
	uint32_t ttl = a->ttl < CACHE_MAX_TTL ? a->ttl : CACHE_MAX_TTL;
	size_t n = strlen(name), cost = entry_cost(n, a);
	struct centry *e, *old;

	if (!cacheable(a) || cost > RESOLVER_CACHE_MAX_ENTRY ||
	    (e = malloc(sizeof(*e) + n + 1)) == NULL)
		return;
	if ((e->ans = answer_copy(a, ttl)) == NULL) {
		free(e);
		return;
	}
	for (size_t i = 0; i <= n; i++)
		e->name[i] = (char)lower((unsigned char)name[i]);
	e->hash = hash;
	e->type = (uint16_t)type;
	e->cost = cost;
	e->expires = now_usec() / 1000000u + ttl;
	if (pthread_mutex_lock(&c->lock) != 0) {
		free(held_of(e->ans));
		free(e);
		return;
	}
	if ((old = cache_find(c, name, type, hash)) != NULL)
		cache_remove(c, old);
	while (c->oldest != NULL &&
	    (c->count >= c->max || c->bytes + cost > c->max_bytes))
		cache_remove(c, c->oldest);
	if (c->bytes + cost > c->max_bytes) {
		/* larger than the whole cache may hold */
		pthread_mutex_unlock(&c->lock);
		free(held_of(e->ans));
		free(e);
		return;
	}
	e->hnext = c->bucket[hash & (c->nbuckets - 1)];
	c->bucket[hash & (c->nbuckets - 1)] = e;
	lru_push(c, e);
	c->count++;
	c->bytes += cost;
	pthread_mutex_unlock(&c->lock);
}

/* ----------------------------------------------------------- questions */

/* The answer when not even an answer can be allocated: never freed. */
static struct spf_answer no_memory = { .status = SPF_DNS_SERVFAIL };
/* A question's priv when its answer came from the cache (a question in
 * flight has its struct dq there). */
static char from_cache;

static void
dq_append(struct dqlist *l, struct dq *x)
{
	x->next = NULL;
	x->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
	l->n++;
}

static void
dq_unlink(struct dqlist *l, struct dq *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		l->head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	else
		l->tail = x->prev;
	l->n--;
}

/* Take back X's question from every server that has it still. */
static void
cancel_asks(struct dq *x)
{
	struct resolver *d = x->d;

	for (unsigned i = 0; i < d->nsrv; i++) {
		struct ask *a = &x->ask[i];

		if (a->uq == NULL)
			continue;
		/* udns 0.4's dns_cancel() unlinks the query but leaves its
		 * memory (from calloc() in dns_submit_dn()) to the caller */
		dns_cancel(d->srv[i].ctx, a->uq);
		free(a->uq);
		a->uq = NULL;
	}
	x->next_try = 0;
}

/* Release everything X holds and forget it; its query keeps its answer. */
static void
forget(struct dq *x)
{
	struct resolver *d = x->d;

	cancel_asks(x);
	if (x->fd != -1)
		close(x->fd);
	free(x->in);
	free(x->last);
	free(x->failure);
	dq_unlink(x->queued ? &d->waiting : &d->flight, x);
	if (x->q != NULL)
		x->q->priv = NULL;
	free(x);
}

/* Give X's query answer A (NULL: out of memory) and forget X. */
static void
finish(struct dq *x, struct spf_answer *a)
{
	uint64_t took = now_usec() - x->start;

	if (a == x->last)
		x->last = NULL;
	if (a != NULL && x->d->cache != NULL)
		cache_put(x->d->cache, x->q->name, x->q->type, a);
	x->q->answer = a != NULL ? a : &no_memory;
	x->q->usec = took > UINT32_MAX ? UINT32_MAX : (uint32_t)took;
	forget(x);
}

/*
 * A reply to X brought answer A (NULL: out of memory).  When its CNAME
 * chain stops short, X is asked again at the name where it stopped (it
 * waits to be sent like a new question); else A is X's answer, with the
 * least TTL of the whole chain.
 */
static void
answered(struct dq *x, struct spf_answer *a)
{
	struct resolver *d = x->d;

	if (a == x->last)
		x->last = NULL;
	if (a != NULL && x->chain_queries > 0 && a->ttl > x->chain_ttl)
		a->ttl = x->chain_ttl;
	if (a == NULL || x->chain[0] == 0) {
		finish(x, a);
		return;
	}
	if (x->chain_queries == MAX_CHAIN_QUERIES) {
		a->ttl = 0;	/* no data as far as we went: not kept */
		finish(x, a);
		return;
	}
	x->chain_queries++;
	x->chain_ttl = a->ttl;
	free(a);
	cancel_asks(x);
	free(x->failure);
	x->failure = NULL;
	memcpy(x->dn, x->chain, dns_dnlen(x->chain));
	x->chain[0] = 0;
	x->truncated = 0;
	if (x->fd != -1)
		close(x->fd);
	x->fd = -1;
	free(x->in);
	x->in = NULL;
	dq_unlink(&d->flight, x);
	x->queued = 1;
	dq_append(&d->waiting, x);
}

/* Everything still open when the deadline passes times out, the
 * questions never sent included: the deadline, not our queue, ends them. */
static void
expire_all(struct resolver *d)
{
	while (d->waiting.head != NULL)
		finish(d->waiting.head, status_answer(SPF_DNS_TIMEOUT, 0));
	while (d->flight.head != NULL)
		finish(d->flight.head, status_answer(SPF_DNS_TIMEOUT, 0));
}

/* ----------------------------------------------------------------- TCP */

/* Ask X's question again over TCP, to the server that truncated it. */
static int
tcp_start(struct dq *x)
{
	unsigned char *p = x->out + 2;
	size_t dnlen = dns_dnlen(x->dn), n;

	x->id = x->d->nextid++;
	memset(p, 0, DNS_HSIZE);
	p[0] = x->id >> 8;
	p[1] = x->id & 0xff;
	p[2] = DNS_HF1_RD;
	p[5] = 1;			/* one question */
	memcpy(p + DNS_HSIZE, x->dn, dnlen);
	p += DNS_HSIZE + dnlen;
	p[0] = x->q->type >> 8;
	p[1] = x->q->type & 0xff;
	p[2] = 0;
	p[3] = C_IN;
	n = DNS_HSIZE + dnlen + 4;
	x->out[0] = n >> 8;
	x->out[1] = n & 0xff;
	x->outlen = n + 2;
	x->outoff = 0;
	x->fd = socket(x->srv.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (x->fd == -1)
		return -1;
	if (connect(x->fd, (struct sockaddr *)&x->srv, x->srvlen) == -1 &&
	    errno != EINPROGRESS)
		return -1;
	x->phase = TCP_CONNECT;
	return 0;
}

/* One step of the TCP exchange: -1 failed, 0 would block, 1 progress,
 * 2 the whole answer is in. */
static int
tcp_io(struct dq *x)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	switch (x->phase) {
	case TCP_CONNECT:
		if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0)
			return err == EINPROGRESS ? 0 : -1;
		x->phase = TCP_WRITE;
		return 1;
	case TCP_WRITE:
		n = send(x->fd, x->out + x->outoff, x->outlen - x->outoff,
		    MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		x->outoff += (size_t)n;
		if (x->outoff == x->outlen) {
			x->phase = TCP_READLEN;
			x->inoff = 0;
		}
		return 1;
	case TCP_READLEN:
		n = recv(x->fd, x->out + x->inoff, 2 - x->inoff, 0);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		x->inoff += (size_t)n;
		if (x->inoff < 2)
			return 1;
		x->inlen = get16(x->out);
		if (x->inlen < DNS_HSIZE ||
		    (x->in = malloc(x->inlen)) == NULL)
			return -1;
		x->inoff = 0;
		x->phase = TCP_READBODY;
		return 1;
	case TCP_READBODY:
		n = recv(x->fd, x->in + x->inoff, x->inlen - x->inoff, 0);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		x->inoff += (size_t)n;
		if (x->inoff < x->inlen)
			return 1;
		return get16(x->in) == x->id ? 2 : -1;
	}
	return -1;
}

/* Drive X's TCP exchange as far as it goes without blocking. */
static void
tcp_step(struct dq *x)
{
	int r = 1;

	for (int i = 0; i < 8 && r == 1; i++)
		r = tcp_io(x);
	if (r == -1)
		finish(x, status_answer(SPF_DNS_SERVFAIL, 0));
	else if (r == 2)
		answered(x, parse_reply(x->in, x->inlen, x->dn, x->q->type,
		    x->chain));
}

/* ------------------------------------------------------------- servers */

/*
 * What the process knows of its nameservers, shared by every thread's
 * resolver: the servers that stayed silent on a question another server
 * answered, and until when they are asked last.  Keyed by address and
 * port; a server not listed is alive.  Only resolvers with two servers
 * or more look here: with one, there is no choice to make.
 */
#define HEALTH_SLOTS	(2 * RESOLVER_MAX_SERVERS)

static struct {
	pthread_mutex_t lock;
	struct sockaddr_storage sa[HEALTH_SLOTS];
	uint64_t dead_until[HEALTH_SLOTS];	/* microseconds; 0: free */
} health = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
same_server(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	return 0;
}

/* The slot of SA, or -1; with the lock held. */
static int
health_find(const struct sockaddr_storage *sa)
{
	for (int i = 0; i < HEALTH_SLOTS; i++)
		if (health.dead_until[i] != 0 &&
		    same_server(&health.sa[i], sa))
			return i;
	return -1;
}

/*
 * 1 if SA is to be asked last by a question sent at NOW.  When a dead
 * server's time is up, the calling question claims it and asks it first
 * (0); the others keep asking it last until that question has found it
 * answering (server_heard()) or silent again (server_silent()), or
 * RETRY_GRACE_MS passed without telling.
 */
static int
server_dead(const struct sockaddr_storage *sa, uint64_t now)
{
	int i, dead = 0;

	if (pthread_mutex_lock(&health.lock) != 0)
		return 0;
	if ((i = health_find(sa)) != -1) {
		dead = health.dead_until[i] > now;
		if (!dead)
			health.dead_until[i] = now + RETRY_GRACE_MS * 1000u;
	}
	pthread_mutex_unlock(&health.lock);
	return dead;
}

static void
server_heard(const struct sockaddr_storage *sa)
{
	int i;

	if (pthread_mutex_lock(&health.lock) != 0)
		return;
	if ((i = health_find(sa)) != -1)
		health.dead_until[i] = 0;
	pthread_mutex_unlock(&health.lock);
}

/* SA is to be asked last until UNTIL (microseconds, monotonic). */
static void
server_silent(const struct sockaddr_storage *sa, uint64_t until)
{
	int i;

	if (pthread_mutex_lock(&health.lock) != 0)
		return;
	if ((i = health_find(sa)) == -1) {
		/* a free slot, or the one that comes back soonest */
		i = 0;
		for (int k = 1; k < HEALTH_SLOTS && health.dead_until[i]; k++)
			if (health.dead_until[k] < health.dead_until[i])
				i = k;
		health.sa[i] = *sa;
	}
	health.dead_until[i] = until;
	pthread_mutex_unlock(&health.lock);
}

/*
 * The server of ask A replied to X: it is alive, and any server asked X
 * FAILOVER_MS or more before without a reply is not (a name no server
 * answers for says nothing about the servers: none is marked then).
 */
static void
heard_from(struct dq *x, struct ask *a)
{
	struct resolver *d = x->d;
	uint64_t now;

	a->replied = 1;
	if (d->nsrv < 2)
		return;
	now = now_usec();
	server_heard(&d->srv[a - x->ask].sa);
	for (unsigned j = 0; j < d->nsrv; j++) {
		const struct ask *o = &x->ask[j];

		if (o != a && o->sent != 0 && !o->replied &&
		    now - o->sent >= FAILOVER_MS * 1000u)
			server_silent(&d->srv[j].sa,
			    now + d->dead_retry_ms * 1000u);
	}
}

/* ---------------------------------------------------------------- udns */

/* udns wants a result for every good reply; ours is in the debug hook. */
static char udns_dummy;

/* udns's parser: nothing to do, the debug hook kept the packet's answer. */
static int
parse_nothing(dnscc_t *qdn, dnscc_t *pkt, dnscc_t *cur, dnscc_t *end,
    void **result)
{
	(void)qdn;
	(void)pkt;
	(void)cur;
	(void)end;
	*result = &udns_dummy;
	return 0;
}

/*
 * udns's debug hook: code 0 is a reply matched to ask DATA, seen before
 * udns decides anything about it (notably before TC).  udns is not done
 * with the ask yet, so nothing is finished here: udns_done() follows for
 * a context of one server at once, and is the one to decide.
 */
static void
udns_reply(int code, const struct sockaddr *sa, unsigned salen,
    dnscc_t *pkt, int plen, const struct dns_query *uq, void *data)
{
	struct ask *a = data;
	struct dq *x;

	(void)uq;
	if (code != 0 || a == NULL || plen < DNS_HSIZE)
		return;
	x = a->x;
	heard_from(x, a);
	free(x->last);
	x->last = NULL;
	x->last_ask = a;
	x->chain[0] = 0;
	x->truncated = dns_tc(pkt) != 0;
	if (x->truncated) {
		if (salen > sizeof(x->srv))
			salen = sizeof(x->srv);
		memcpy(&x->srv, sa, salen);
		x->srvlen = salen;
		return;
	}
	x->last = parse_reply(pkt, (size_t)plen, x->dn, x->q->type, x->chain);
}

static void udns_done(struct dns_ctx *, void *, void *);

/* Ask X's question of server I; -1 when udns cannot take it. */
static int
ask_server(struct dq *x, unsigned i)
{
	struct server *s = &x->d->srv[i];
	struct ask *a = &x->ask[i];

	if (s->fd < 0 && (s->fd = dns_open(s->ctx)) < 0)
		return -1;
	a->x = x;
	a->replied = 0;
	a->uq = dns_submit_dn(s->ctx, x->dn, DNS_C_IN, x->q->type, DNS_NOSRCH,
	    parse_nothing, udns_done, a);
	if (a->uq == NULL)
		return -1;
	a->sent = now_usec();
	x->d->pending = 1;	/* udns sends it on its next timer run */
	return 0;
}

/* Ask the next server in X's order that can be asked, if any is left:
 * 1 if one was. */
static int
ask_next(struct dq *x)
{
	unsigned n = x->d->nsrv;

	while (x->nasked < n) {
		unsigned i = x->order[x->nasked++];

		if (ask_server(x, i) == 0) {
			x->next_try = x->nasked < n ?
			    x->ask[i].sent + FAILOVER_MS * 1000u : 0;
			return 1;
		}
	}
	x->next_try = 0;
	return 0;
}

static int
asks_out(const struct dq *x)
{
	for (unsigned i = 0; i < x->d->nsrv; i++)
		if (x->ask[i].uq != NULL)
			return 1;
	return 0;
}

/* udns is done with ask DATA. */
static void
udns_done(struct dns_ctx *ctx, void *result, void *data)
{
	struct ask *a = data;
	struct dq *x = a->x;
	struct spf_answer *got = NULL;
	int status = dns_status(ctx);

	if (result != &udns_dummy)
		free(result);
	a->uq = NULL;
	if (x->last_ask == a) {
		got = x->last;
		x->last = NULL;
		x->last_ask = NULL;
		if (got == NULL && x->truncated) {
			cancel_asks(x);
			if (tcp_start(x) == -1)
				finish(x, status_answer(SPF_DNS_SERVFAIL, 0));
			return;
		}
	}
	if (got != NULL && got->status != SPF_DNS_SERVFAIL) {
		answered(x, got);
		return;
	}
	/* This server failed, or udns gave up on it: the next one, as udns
	 * itself moves on after a failure, or wait for those still asked. */
	if (got != NULL) {
		free(x->failure);
		x->failure = got;
	}
	if (ask_next(x) || asks_out(x))
		return;
	if (x->failure != NULL) {
		got = x->failure;
		x->failure = NULL;
		finish(x, got);
	} else if (status == DNS_E_TEMPFAIL)
		/* no reply at all before udns gave up: the servers are mute */
		finish(x, status_answer(SPF_DNS_TIMEOUT, 0));
	else
		finish(x, status_answer(SPF_DNS_SERVFAIL, 0));
}

/* ------------------------------------------------------------- sending */

/* The order X asks the servers in: as configured, those known dead last
 * (they are still asked when the others do not answer). */
static void
plan(struct dq *x)
{
	struct resolver *d = x->d;
	uint64_t now = now_usec();
	int dead[RESOLVER_MAX_SERVERS];
	unsigned n = 0;

	memset(x->ask, 0, sizeof(x->ask));
	x->nasked = 0;
	for (unsigned i = 0; i < d->nsrv; i++)
		dead[i] = d->nsrv > 1 && server_dead(&d->srv[i].sa, now);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < d->nsrv; i++)
			if (dead[i] == pass)
				x->order[n++] = (unsigned char)i;
}

/* Send waiting questions, oldest first, while fewer than MAX_IN_FLIGHT
 * are out and the deadline has not passed. */
static void
send_waiting(struct resolver *d)
{
	uint64_t now = now_usec();

	while (d->waiting.head != NULL && d->flight.n < MAX_IN_FLIGHT &&
	    now < d->deadline) {
		struct dq *x = d->waiting.head;

		dq_unlink(&d->waiting, x);
		x->queued = 0;
		dq_append(&d->flight, x);
		plan(x);
		if (!ask_next(x))
			finish(x, status_answer(SPF_DNS_SERVFAIL, 0));
	}
}

/*
 * Send what waits, and have udns send what it was given, so that a batch
 * of questions is in flight together.  A send udns fails ends its ask,
 * which may ask the next server or finish the question and make room:
 * round again until nothing is left to send.  Each round asks at least
 * once more, and a question asks each server once, so it ends.  Called
 * outside udns's callbacks only.
 */
static void
flush(struct resolver *d)
{
	for (;;) {
		send_waiting(d);
		if (!d->pending)
			return;
		d->pending = 0;
		for (unsigned i = 0; i < d->nsrv; i++)
			if (d->srv[i].fd >= 0)
				dns_timeouts(d->srv[i].ctx, -1, 0);
	}
}

/* ------------------------------------------------------------- waiting */

/* Run the timers: udns's (retries; a server given up on) and ours (the
 * next server for a question not answered in time).  Returns MS, or
 * less when a timer is due sooner. */
static int
run_timers(struct resolver *d, int ms)
{
	uint64_t now;

	for (unsigned i = 0; i < d->nsrv; i++) {
		int w;

		if (d->srv[i].fd < 0)
			continue;
		w = dns_timeouts(d->srv[i].ctx, -1, 0);	/* in seconds */
		if (w >= 0 && w < ms / 1000)
			ms = w * 1000 + 1;
	}
	now = now_usec();
	for (struct dq *x = d->flight.head; x != NULL; x = x->next) {
		if (x->next_try != 0 && x->next_try <= now)
			ask_next(x);
		if (x->next_try != 0 &&
		    (int)((x->next_try - now + 999) / 1000) < ms)
			ms = (int)((x->next_try - now + 999) / 1000);
	}
	flush(d);
	return ms;
}

/* Wait at most MS for something to happen and handle it. */
static void
poll_once(struct resolver *d, int ms)
{
	struct pollfd pfd[RESOLVER_MAX_SERVERS + MAX_IN_FLIGHT];
	struct dq *who[RESOLVER_MAX_SERVERS + MAX_IN_FLIGHT];
	struct server *srv[RESOLVER_MAX_SERVERS];
	int n = 0, nudp;

	ms = run_timers(d, ms);
	for (unsigned i = 0; i < d->nsrv; i++) {
		if (d->srv[i].fd < 0)
			continue;
		pfd[n].fd = d->srv[i].fd;
		pfd[n].events = POLLIN;
		srv[n++] = &d->srv[i];
	}
	nudp = n;
	for (struct dq *x = d->flight.head; x != NULL &&
	    n < RESOLVER_MAX_SERVERS + MAX_IN_FLIGHT; x = x->next) {
		if (x->fd == -1)
			continue;
		pfd[n].fd = x->fd;
		pfd[n].events = x->phase == TCP_CONNECT ||
		    x->phase == TCP_WRITE ? POLLOUT : POLLIN;
		who[n++] = x;
	}
	if (poll(pfd, (nfds_t)n, ms) > 0) {
		for (int i = 0; i < nudp; i++)
			if (pfd[i].revents != 0)
				dns_ioevent(srv[i]->ctx, 0);
		/* udns only finishes questions still on UDP, none below */
		for (int i = nudp; i < n; i++)
			if (pfd[i].revents != 0)
				tcp_step(who[i]);
	}
	flush(d);
}

static void
res_submit(void *ctx, struct spf_query *q)
{
	struct resolver *d = ctx;
	struct dq *x;

	q->answer = NULL;
	q->usec = 0;
	q->priv = NULL;
	if (d->cache != NULL &&
	    (q->answer = cache_get(d->cache, q->name, q->type)) != NULL) {
		q->priv = &from_cache;
		return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		q->answer = &no_memory;
		return;
	}
	x->d = d;
	x->q = q;
	x->fd = -1;
	x->start = now_usec();
	x->queued = 1;
	q->priv = x;
	dq_append(&d->waiting, x);
	if (name_to_wire(q->name, x->dn, sizeof(x->dn)) == -1) {
		/* no such name can exist in the DNS */
		finish(x, status_answer(SPF_DNS_NXDOMAIN, 0));
		return;
	}
	if (x->start >= d->deadline) {
		finish(x, status_answer(SPF_DNS_TIMEOUT, 0));
		return;
	}
	flush(d);
}

/*
 * spf.h's wait(): take in what has arrived without blocking, then, while
 * Q is open, block until something happens (Q or another question
 * answered, a retry timer, the deadline).  It returns after one such
 * event even when Q is still open, so the evaluator can look at the
 * other answers and ask what they lead to at once.
 */
static void
res_wait(void *ctx, struct spf_query *q)
{
	struct resolver *d = ctx;
	uint64_t now;

	/* nothing open, nothing to take in (the evaluator waits on
	 * answers from the cache too) */
	if (d->waiting.head == NULL && d->flight.head == NULL) {
		if (q->answer == NULL)	/* never submitted */
			q->answer = &no_memory;
		return;
	}
	poll_once(d, 0);
	if (q->answer == NULL && q->priv != NULL) {
		now = now_usec();
		if (now >= d->deadline)
			expire_all(d);
		else
			poll_once(d, (int)((d->deadline - now + 999) / 1000));
	}
	if (q->answer == NULL && q->priv == NULL)	/* never submitted */
		q->answer = &no_memory;
}

static void
res_drop(void *ctx, struct spf_query *q)
{
	(void)ctx;
	if (q->priv == &from_cache)
		answer_unhold(q->answer);	/* the cache's */
	else {
		if (q->priv != NULL)
			forget(q->priv);
		if (q->answer != &no_memory)
			free(q->answer);
	}
	q->priv = NULL;
	q->answer = NULL;
}

/* ------------------------------------------------------------- the API */

/* udns makes new contexts as copies of its default one, which must be set
 * up first; once, whatever thread comes first. */
static pthread_once_t defctx_once = PTHREAD_ONCE_INIT;
static int defctx_ok;

static void
defctx_init(void)
{
	/* reads /etc/resolv.conf and the NAMESERVERS/RES_OPTIONS variables */
	defctx_ok = dns_init(&dns_defctx, 0) >= 0;
}

/* A udns context for server SA, or for the system's when SA is NULL. */
static struct dns_ctx *
server_ctx(const struct sockaddr_storage *sa)
{
	struct dns_ctx *ctx = dns_new(&dns_defctx);

	if (ctx == NULL)
		return NULL;
	if (sa != NULL && (dns_add_serv(ctx, NULL) < 0 ||
	    dns_add_serv_s(ctx, (const struct sockaddr *)sa) < 0)) {
		dns_free(ctx);
		return NULL;
	}
	/* udns asks again each second at first; our deadline ends it all */
	dns_set_opt(ctx, DNS_OPT_TIMEOUT, 1);
	dns_set_opt(ctx, DNS_OPT_NTRIES, 5);
	dns_set_dbgfn(ctx, udns_reply);
	return ctx;
}

struct resolver *
resolver_new(const struct resolver_config *conf)
{
	struct resolver *d = calloc(1, sizeof(*d));
	unsigned n = conf != NULL ? conf->nservers : 0;

	if (d == NULL)
		return NULL;
	d->timeout_ms = conf != NULL && conf->timeout_ms != 0 ?
	    conf->timeout_ms : RESOLVER_DEFAULT_TIMEOUT_MS;
	d->dead_retry_ms = conf != NULL && conf->dead_retry_ms != 0 ?
	    conf->dead_retry_ms : DEAD_RETRY_MS;
	d->nextid = (uint16_t)now_usec();
	d->cache = conf != NULL ? conf->cache : NULL;
	if (pthread_once(&defctx_once, defctx_init) != 0 || !defctx_ok)
		goto fail;
	if (n > RESOLVER_MAX_SERVERS)
		n = RESOLVER_MAX_SERVERS;
	for (d->nsrv = 0; d->nsrv < (n ? n : 1); d->nsrv++) {
		struct server *s = &d->srv[d->nsrv];

		s->fd = -1;
		if (n > 0)
			s->sa = conf->servers[d->nsrv];
		if ((s->ctx = server_ctx(n > 0 ? &s->sa : NULL)) == NULL)
			goto fail;
	}
	/* a resolver that cannot have a socket is refused now */
	if ((d->srv[0].fd = dns_open(d->srv[0].ctx)) < 0)
		goto fail;
	return d;
fail:
	resolver_free(d);
	return NULL;
}

void
resolver_free(struct resolver *d)
{
	if (d == NULL)
		return;
	while (d->waiting.head != NULL || d->flight.head != NULL) {
		struct dq *x = d->waiting.head != NULL ? d->waiting.head :
		    d->flight.head;

		/* its query may be gone already: do not touch it */
		x->q = NULL;
		forget(x);
	}
	for (unsigned i = 0; i < d->nsrv; i++)
		if (d->srv[i].ctx != NULL)
			dns_free(d->srv[i].ctx);
	free(d);
}

void
resolver_rest(struct resolver *d)
{
	if (d->flight.head != NULL)
		return;
	for (unsigned i = 0; i < d->nsrv; i++)
		if (d->srv[i].fd >= 0 && dns_active(d->srv[i].ctx) == 0) {
			dns_close(d->srv[i].ctx);
			d->srv[i].fd = -1;
		}
}

void
resolver_begin(struct resolver *d, unsigned ms, struct spf_resolver *out)
{
	d->deadline = now_usec() + (uint64_t)(ms ? ms : d->timeout_ms) * 1000u;
	out->ctx = d;
	out->submit = res_submit;
	out->wait = res_wait;
	out->drop = res_drop;
	/* A fresh socket, so a fresh random source port, for each
	 * evaluation: with udns's random IDs, 32 bits an off-path forger
	 * must guess instead of 16 (a resolver lives long).  They open
	 * again when first needed. */
	resolver_rest(d);
}
