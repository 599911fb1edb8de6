/*
 * dns.h - the resolver behind the evaluator's struct spf_resolver, on udns.
 *
 * One struct dns per thread (it owns a udns context and a socket per
 * nameserver, and is not locked).  Before each evaluation the caller
 * starts one overall deadline with dns_deadline(); every question still
 * unanswered when it passes is answered SPF_DNS_TIMEOUT.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "spf.h"

#define DNS_MAX_SERVERS		6	/* what one udns context holds */
#define DNS_DEFAULT_TIMEOUT_MS	5000

struct dns_config {
	/* Nameservers to ask, port included (0 means 53).  None: the
	 * system's, from /etc/resolv.conf (udns also honours the NAMESERVERS
	 * and RES_OPTIONS environment variables then). */
	struct sockaddr_storage servers[DNS_MAX_SERVERS];
	unsigned nservers;
	/* Default deadline of one evaluation; 0 means DNS_DEFAULT_TIMEOUT_MS. */
	unsigned timeout_ms;
	/* With two servers or more: how long one that stayed silent while
	 * another answered is asked last, before a question tries it first
	 * again; 0 means 30 s.  (The process remembers such servers, for all
	 * its resolvers; the tests shorten this.) */
	unsigned dead_retry_ms;
	/* Answers shared between resolvers (dns_cache_new()); NULL: none.
	 * It must outlive every resolver made with it. */
	struct dns_cache *cache;
};

struct dns;
struct dns_cache;

/* A cache of at most ENTRIES answers (1..1000000) holding at most
 * MAX_BYTES of memory, its table included; safe to share between
 * threads.  Answers are kept for their TTL (at most a day), negative ones
 * for the SOA's negative TTL, failures and timeouts never; an answer
 * costs at most DNS_CACHE_MAX_ENTRY bytes (a bigger one is not kept), and
 * when a bound is hit the least recently used go.  NULL when ENTRIES is 0
 * (no cache) or out of range, MAX_BYTES too small for the table, or
 * without memory. */
#define DNS_CACHE_MAX_ENTRY	4608
struct dns_cache *dns_cache_new(unsigned entries, size_t max_bytes);
void dns_cache_free(struct dns_cache *c);

/* A resolver with its own udns context; NULL when the context cannot be
 * set up (no nameserver, no socket, no memory). */
struct dns *spf_dns_new(const struct dns_config *conf);
/* Cancels whatever is still in flight and frees the resolver. */
void spf_dns_free(struct dns *d);

/*
 * udns itself exports dns_new() and dns_free() (for its contexts), so ours
 * cannot have those names in one static binary.  Callers that do not
 * include udns.h may still write dns_new()/dns_free(); a file that needs
 * both includes udns.h first and uses the spf_ names.
 */
#ifndef UDNS_VERSION
#define dns_new(conf)	spf_dns_new(conf)
#define dns_free(d)	spf_dns_free(d)
#endif

/* Start the deadline of one evaluation: MS milliseconds from now, or the
 * configured timeout when MS is 0.  When never called, the first
 * question starts it. */
void dns_deadline(struct dns *d, unsigned ms);

/* Fill OUT with the interface the evaluator asks its questions through. */
void dns_resolver(struct dns *d, struct spf_resolver *out);

/* "ok", "nodata", "nxdomain", "servfail", "timeout". */
const char *dns_status_name(enum spf_dns_status s);
/* "A", "TXT", ... ("TYPE<n>" for others, in a static buffer: NUM only for
 * the types of enum spf_rrtype, which are all that are asked). */
const char *dns_type_name(unsigned type);

/*
 * One line for a trace: `NAME TYPE: status` or `NAME TYPE: rr, rr, ...`,
 * then the time it took.  Data from the network is escaped (\" \\ and
 * \xNN for anything not printable ASCII); the line is cut to fit LEN.
 * Returns BUF.
 */
const char *dns_answer_text(const struct spf_query *q, char *buf, size_t len);

/* Parse one nameserver: "192.0.2.1", "192.0.2.1:5353", "2001:db8::1",
 * "[2001:db8::1]", "[2001:db8::1]:5353".  Numeric only; the port defaults
 * to 53.  0 on success, -1 when TEXT is not such an address. */
int dns_parse_server(const char *text, struct sockaddr_storage *out);

/* Parse the DNS message PKT (LEN bytes), the answer to NAME/TYPE, into a
 * newly allocated answer (never NULL unless out of memory).  When its
 * CNAME chain stops short of the records, the answer is NODATA and NEXT
 * (256 bytes, or NULL) gets the name the resolver asks next; "" when the
 * answer is complete.  Exposed for the unit tests, which feed it hostile
 * packets. */
struct spf_answer *dns_parse_reply(const unsigned char *pkt, size_t len,
    const char *name, unsigned type, char *next);

#endif
