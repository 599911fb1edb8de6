/*
 * dns.h - the resolver behind the evaluator's struct spf_resolver, on udns.
 *
 * Its names start with resolver_ (udns owns dns_).  A struct resolver
 * is used by one thread at a time (the milter lends idle ones to
 * verifications): it owns a udns context and a socket per nameserver,
 * and is not locked.  Each evaluation takes the interface from resolver_begin(),
 * which starts the evaluation's one overall deadline: every question
 * still unanswered when it passes is answered SPF_DNS_TIMEOUT.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>
#include <sys/socket.h>

#include "spf.h"

/* As many nameservers as udns's own contexts hold (DNS_MAXSERV). */
#define RESOLVER_MAX_SERVERS		6
#define RESOLVER_DEFAULT_TIMEOUT_MS	5000

struct resolver_config {
	/* Nameservers to ask, port included (0 means 53).  None: the
	 * system's, from /etc/resolv.conf (udns also honours the NAMESERVERS
	 * and RES_OPTIONS environment variables then). */
	struct sockaddr_storage servers[RESOLVER_MAX_SERVERS];
	unsigned nservers;
	/* Deadline of an evaluation begun with 0 ms; 0 means
	 * RESOLVER_DEFAULT_TIMEOUT_MS. */
	unsigned timeout_ms;
	/* With two servers or more: how long one that stayed silent while
	 * another answered is asked last, before a question tries it first
	 * again; 0 means 30 s.  (The process remembers such servers, for all
	 * its resolvers; the tests shorten this.) */
	unsigned dead_retry_ms;
	/* Answers shared between resolvers (resolver_cache_new()); NULL:
	 * none.  It must outlive every resolver made with it. */
	struct resolver_cache *cache;
};

struct resolver;
struct resolver_cache;

/* ----------------------------------------------------------- the cache */

/* What one answer may cost in the cache, in bytes (a TXT answer of 4 KB
 * fits); a bigger one is used but not kept. */
#define RESOLVER_CACHE_MAX_ENTRY	4608

/* A cache of at most ENTRIES answers (1..1000000) holding at most
 * MAX_BYTES of memory, its table included; safe to share between
 * threads.  Answers are kept for their TTL (at most a day), negative ones
 * for the SOA's negative TTL, failures and timeouts never; when a bound
 * is hit the least recently used go.  NULL when ENTRIES is 0 (no cache)
 * or out of range, MAX_BYTES too small for the table, or without
 * memory. */
struct resolver_cache *resolver_cache_new(unsigned entries, size_t max_bytes);
/* The milter keeps its cache for its whole life; the tests free theirs,
 * and so does anything checked for leaks. */
void resolver_cache_free(struct resolver_cache *c);

/* -------------------------------------------------------- the resolver */

/* A resolver; NULL when it cannot be set up (no nameserver, no socket,
 * no memory). */
struct resolver *resolver_new(const struct resolver_config *conf);
/* Cancels whatever is still in flight and frees the resolver. */
void resolver_free(struct resolver *r);

/*
 * Begin one evaluation: start its deadline, MS milliseconds from now (0:
 * the configured timeout), and fill OUT with the interface the evaluator
 * asks its questions through.  Nothing may still be in flight from the
 * previous evaluation (the evaluator drops every question it asked).
 */
void resolver_begin(struct resolver *r, unsigned ms,
    struct spf_resolver *out);
/* Between evaluations: close its sockets (they open again when needed),
 * so that an idle resolver holds no descriptor. */
void resolver_rest(struct resolver *r);

/* -------------------------------------------------- for the tests only */

/*
 * Parse the DNS message PKT (LEN bytes), the answer to NAME/TYPE, into a
 * newly allocated answer (never NULL unless out of memory).  When its
 * CNAME chain stops short of the records, the answer is NODATA and NEXT
 * (256 bytes, or NULL) gets the name the resolver asks next; "" when the
 * answer is complete.  Exported so that the unit tests and the fuzzer
 * feed the real parser hostile packets without a network.
 */
struct spf_answer *resolver_parse_reply(const unsigned char *pkt, size_t len,
    const char *name, unsigned type, char *next);

#endif
