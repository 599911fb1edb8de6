/*
 * spf.h - the SPF evaluator (RFC 7208 check_host()) and the resolver
 * interface it asks its DNS questions through.
 *
 * The evaluator is pure: no globals, no I/O of its own, no threads.  Every
 * DNS question goes through a struct spf_resolver, which lets the evaluator
 * start several questions at once and collect the answers later; dns.c
 * implements it on udns, the tests implement it in memory.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#ifndef SPF_H
#define SPF_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ------------------------------------------------------------- results */

enum spf_result {
	SPF_NONE = 0,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
	SPF_NRESULTS
};

/* "pass", "fail", ... as RFC 7208 section 8 spells them. */
const char *spf_result_name(enum spf_result r);
/* The inverse, case-insensitive; -1 when NAME is no result. */
int spf_result_parse(const char *name);

/* -------------------------------------------------- resolver interface */

enum spf_rrtype {
	SPF_T_A = 1,
	SPF_T_PTR = 12,
	SPF_T_MX = 15,
	SPF_T_TXT = 16,
	SPF_T_AAAA = 28
};

enum spf_dns_status {
	SPF_DNS_OK = 0,		/* answer with count >= 1 records */
	SPF_DNS_NODATA,		/* name exists, no record of this type */
	SPF_DNS_NXDOMAIN,	/* name does not exist */
	SPF_DNS_SERVFAIL,	/* server failure, refused, malformed answer */
	SPF_DNS_TIMEOUT		/* no answer before the deadline */
};

/*
 * One resource record of an answer.
 *   A, AAAA: data holds 4 or 16 address bytes in network order.
 *   TXT:     data holds the record's character-strings concatenated
 *            (RFC 7208 3.3), len bytes, followed by a NUL that is not
 *            counted; the text itself may contain NUL bytes.
 *   MX, PTR: data holds the target name, NUL-terminated, without the
 *            trailing dot, lower or mixed case as served; pref is the MX
 *            preference.
 */
struct spf_rr {
	const unsigned char *data;
	uint16_t len;
	uint16_t pref;
};

struct spf_answer {
	enum spf_dns_status status;
	uint32_t ttl;		/* seconds; for negative answers the negative TTL */
	unsigned count;		/* records in rr[] (only when status is OK) */
	struct spf_rr rr[];	/* the records; their data follows in the same block */
};

/*
 * A question.  The evaluator fills name and type and owns the struct; the
 * resolver sets answer (never NULL once wait() returned), usec (how long
 * the question took) and may use priv until drop().  The answer is the
 * resolver's, read-only to the evaluator (it may be shared with others).
 */
struct spf_query {
	char name[256];		/* no trailing dot */
	uint16_t type;		/* enum spf_rrtype */
	struct spf_answer *answer;
	uint32_t usec;
	void *priv;
};

/*
 * submit() starts a question and returns at once (it may answer at once:
 * then q->answer is set on return).  wait() first takes in every answer
 * that has arrived, without blocking; then, while q has no answer, it
 * blocks until q or some other question gets its answer (or the
 * resolver's deadline passes: then every question still open is answered
 * SPF_DNS_TIMEOUT).  The evaluator calls it again until q is answered,
 * looking at the other answers in between.  A resolver may also simply
 * block until q is answered.
 * drop() forgets q: cancels it when still in flight and releases its
 * answer.  Every submitted question is dropped exactly once.
 */
struct spf_resolver {
	void *ctx;
	void (*submit)(void *ctx, struct spf_query *q);
	void (*wait)(void *ctx, struct spf_query *q);
	void (*drop)(void *ctx, struct spf_query *q);
};

/* Allocate an answer with room for COUNT records and DATALEN data bytes;
 * the data area starts at (unsigned char *)&a->rr[count].  Helper for
 * resolvers: one malloc, released with free(). */
struct spf_answer *spf_answer_new(enum spf_dns_status status, uint32_t ttl,
    unsigned count, size_t datalen);

/* ----------------------------------------------------------- the check */

enum spf_identity {
	SPF_ID_MAILFROM = 0,
	SPF_ID_HELO
};

typedef void spf_trace_fn(void *arg, const char *line);

struct spf_request {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char ip[16];		/* 4 or 16 bytes, network order */
	enum spf_identity identity;
	const char *sender;		/* MAIL FROM address, "" or NULL for <> */
	const char *helo;		/* HELO/EHLO argument, may be NULL */
	const char *receiver;		/* %{r}; NULL gives "unknown" */
	time_t now;			/* %{t}; 0 means time(NULL) */
	spf_trace_fn *trace;		/* optional */
	void *trace_arg;
};

/* Store ADDR of family AF (AF_INET: 4 bytes, AF_INET6: 16) as *FAMILY
 * and IP, an IPv4-mapped IPv6 address as the IPv4 address it maps (RFC
 * 7208 5.6: it is evaluated as IPv4).  -1 for another family.  The one
 * place that unmaps: the request, the milter's client address and the
 * trusted networks all go through it. */
int spf_addr_set(int af, const void *addr, int *family, unsigned char *ip);

/* Set request->family and ->ip from a textual IPv4 or IPv6 address;
 * an IPv4-mapped IPv6 address becomes IPv4 (RFC 7208 5.6).  -1 if bad. */
int spf_request_set_ip(struct spf_request *req, const char *text);

#define SPF_EXPLANATION_MAX 512

struct spf_outcome {
	enum spf_result result;
	char domain[256];	/* the domain check_host() started with */
	/* <sender> as evaluated: postmaster@... filled in; empty when it
	 * is longer than the field (never cut: a cut one could show another
	 * domain).  The evaluation itself used the whole sender. */
	char sender[520];
	/* The mechanism that matched ("ip4:192.0.2.0/24", "-all", ...) or,
	 * when none matched, "default"; empty for none/errors.  A term
	 * longer than the field ends in "..." (so does a long problem). */
	char mechanism[256];
	/* What caused a permerror or temperror, in words. */
	char problem[256];
	/* For fail: the expanded exp= text or the default explanation.  Raw
	 * text from DNS: the caller cleans it before it goes anywhere.  A
	 * text longer than the field ends in "...". */
	char explanation[SPF_EXPLANATION_MAX];
	unsigned dns_lookups;	/* terms that counted against the limit of 10 */
	unsigned void_lookups;
	unsigned queries;	/* DNS questions asked */
};

/* The explanation used when the record has none (or it failed). */
#define SPF_DEFAULT_EXPLANATION "DEFAULT"

/*
 * check_host() for REQ's identity: the MAIL FROM address (or
 * postmaster@HELO for the null sender) or the HELO name.  Never fails:
 * every problem becomes a result.  Memory used is bounded and released
 * before it returns.
 */
void spf_check(const struct spf_request *req, const struct spf_resolver *res,
    struct spf_outcome *out);

/* Limits of RFC 7208 section 4.6.4 and our own bounds. */
#define SPF_MAX_DNS_MECH	10	/* terms causing DNS queries */
#define SPF_MAX_VOID		2	/* lookups answered NXDOMAIN / no data */
#define SPF_MAX_MX_NAMES	10
#define SPF_MAX_PTR_NAMES	10
/* The most questions one evaluation has unanswered at once: a resolver
 * must carry this many in flight (it may carry more).  The evaluator
 * waits for an answer before it asks more. */
#define SPF_MAX_IN_FLIGHT	32

/* ----------------------------------------- validated names of a client */

/* What spf_validated_names() found. */
struct spf_names {
	unsigned count;				/* names in name[] */
	char name[SPF_MAX_PTR_NAMES][256];	/* validated, in PTR order */
	enum spf_dns_status ptr;		/* status of the PTR lookup */
	unsigned queries;			/* DNS questions asked */
};

/*
 * The validated names of a client (RFC 7208 5.5), found as the ptr
 * mechanism and %{p} find them: of the PTR names of REQ's address (the
 * first SPF_MAX_PTR_NAMES, 4.6.4), those that WANT accepts (NULL: all)
 * and whose A or AAAA records hold the address; a name whose address
 * lookup fails is skipped (5.5).  WANT is asked before any address
 * lookup, so a name it refuses costs no question.  Of REQ only family,
 * ip and trace are used.  Bounded like an evaluation; every question is
 * dropped before it returns.  For the milter's trusted_forwarders.
 */
void spf_validated_names(const struct spf_request *req,
    const struct spf_resolver *res, int (*want)(void *arg, const char *name),
    void *arg, struct spf_names *out);

/* ----------------------------------------------------- bounded strings */

/*
 * The one way the product builds text of bounded length: a buffer of the
 * caller's, filled piece by piece.  A piece that does not fit entirely is
 * not written at all, and the buffer is marked overflowed for good; the
 * text stays NUL-terminated and holds every piece that fit.  Nothing is
 * ever cut silently: the caller looks at overflow and decides (fail,
 * refuse, or mark the text as cut where a cut is harmless, as in a log).
 */
struct spf_buf {
	char *s;
	size_t size;		/* bytes at s, the NUL included */
	size_t len;
	int overflow;		/* a piece did not fit */
};

/* Start B on BUF of SIZE bytes (SIZE >= 1), empty. */
void spf_buf_init(struct spf_buf *b, char *buf, size_t size);
/* Append LEN bytes of S (no NUL among them); 0, or -1 when they do not
 * fit (then nothing is appended). */
int spf_buf_add(struct spf_buf *b, const char *s, size_t len);
int spf_buf_addc(struct spf_buf *b, char c);
int spf_buf_adds(struct spf_buf *b, const char *s);
int spf_buf_addf(struct spf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Back to LEN bytes (LEN <= b->len); the overflow mark stays. */
void spf_buf_truncate(struct spf_buf *b, size_t len);
/* Copy S into BUF of SIZE bytes; 0, or -1 (BUF empty) when S does not
 * fit.  For fixed fields where a shorter string would mean another name. */
int spf_strlcpy_exact(char *buf, const char *s, size_t size);

/* Helpers shared with the milter and the tests. */

/* 1 if NAME is a syntactically valid domain for SPF (RFC 7208 4.3):
 * labels of 1..63 characters, total <= 253, at least two labels, no
 * empty label; an IP literal or a single label is not. */
int spf_valid_domain(const char *name);

/* Format ADDR (family 4 or 6 bytes) as text into BUF (>= 46 bytes). */
const char *spf_ip_text(int family, const unsigned char *ip, char *buf, size_t len);

#endif
