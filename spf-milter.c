/*
 * spf-milter.c - main() and the libmilter side of spf-milter: options,
 * signals, the listening socket and privileges, logging, the sessions and
 * their callbacks (the per-connection HELO -> MAIL FROM procedure, the
 * policy: reject or record), and the query tool (-q).
 *
 * The text it hands to the MTA or writes to the log (header fields, SMTP
 * replies, values from the sender) is built and cleaned by header.c.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "spf.h"
#include "header.h"
#include "dns.h"
#include "conf.h"
#include "milter-threads.h"

/* milter-threads.c comes with a libmilter that libmilter.mk or musl.mk
 * compiled; a system libmilter has no thread cache. */
#pragma weak thread_cache_idle

#ifndef SPF_MILTER_VERSION
#define SPF_MILTER_VERSION "unknown"
#endif
#ifndef SPF_MILTER_CONF
#define SPF_MILTER_CONF "/etc/spf-milter.conf"
#endif

/* Room for sender data in a log line: a full address, not a flood. */
#define VALUE_MAX	320
/* Incoming fields of one name we remember for deletion.  The MTA's
 * header size limit keeps real messages far below; one that goes beyond
 * is refused for now rather than passed with a forged field left in. */
#define DELETE_MAX	65536
/* Thread stacks: an evaluation holds about 6 KB in its frame (its first
 * 16 questions) and 2-4 KB per include level (11 at most), the rest on
 * the heap: bench/spfbench prints what it touches.  0 keeps the C
 * library's default (sanitizers need more). */
#ifndef THREAD_STACK
#define THREAD_STACK	(256 * 1024)
#endif

/* ------------------------------------------------------------- logging */

/* Read by every thread, changed by a reload: atomic. */
static _Atomic int log_to_stderr = 1;	/* until the config says otherwise */
static _Atomic int log_max = LOG_INFO;
/* Until libmilter runs, errors go to the terminal too, so a failed start
 * is seen by whoever started it even when logging to syslog. */
static _Atomic int starting = 1;

static void
logmsg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
logmsg(int level, const char *fmt, ...)
{
	static const char *names[] = {
		"emerg", "alert", "crit", "error", "warning", "notice",
		"info", "debug"
	};
	char line[2048];
	va_list ap;
	int n;

	if (level > log_max)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))	/* a cut line says so */
		memcpy(line + sizeof(line) - 4, "...", 4);
	if (log_to_stderr || (starting && level <= LOG_ERR))
		fprintf(stderr, "spf-milter[%ld]: %s: %s\n", (long)getpid(),
		    names[level & 7], line);
	if (!log_to_stderr)
		syslog(level, "%s", line);
}

/* ------------------------------------------------- configuration state */

static const char *conf_path = SPF_MILTER_CONF;
static struct conf_override overrides[4];
static size_t noverrides;

/* The snapshot new connections take; swapped by a reload.  gen counts the
 * swaps so that idle resolvers of an older configuration are not lent. */
static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conf *conf_current;
static unsigned conf_gen;

static struct conf *
conf_take(unsigned *gen)
{
	struct conf *c;

	pthread_mutex_lock(&conf_lock);
	c = conf_current != NULL ? conf_ref(conf_current) : NULL;
	*gen = conf_gen;
	pthread_mutex_unlock(&conf_lock);
	return c;
}

static void
log_configure(const struct conf *c)
{
	log_max = c->log_level;
	if (c->log_destination == CONF_LOG_SYSLOG) {
		/* again on every reload: the facility may have changed */
		openlog("spf-milter", LOG_PID, c->syslog_facility);
		log_to_stderr = 0;
	} else {
		log_to_stderr = 1;
	}
}

static int
str_differs(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

/* SIGUSR1: load the file again; keep the old snapshot when it is bad. */
static void
reload(void)
{
	char *errs = NULL, *line, *save = NULL, e[512];
	size_t errlen = 0;
	FILE *ef = open_memstream(&errs, &errlen);
	struct conf *c, *old;

	c = conf_load_overrides(conf_path, overrides, noverrides, ef);
	if (ef != NULL)
		fclose(ef);
	if (c == NULL) {
		logmsg(LOG_ERR, "reload of %s failed, the old configuration "
		    "stays in effect:", hdr_esc(conf_path, e, sizeof(e)));
		for (line = errs ? strtok_r(errs, "\n", &save) : NULL;
		    line != NULL; line = strtok_r(NULL, "\n", &save))
			logmsg(LOG_ERR, "%s", hdr_esc(line, e, sizeof(e)));
		free(errs);
		return;
	}
	free(errs);
	/* Compared and applied under the lock: once C is published, main
	 * may drop it at shutdown. */
	pthread_mutex_lock(&conf_lock);
	old = conf_current;
	if (old == NULL) {	/* main is shutting down */
		pthread_mutex_unlock(&conf_lock);
		conf_unref(c);
		return;
	}
	if (str_differs(old->socket, c->socket))
		logmsg(LOG_WARNING, "reload: socket changed; it takes a "
		    "restart to listen on the new one");
	if (old->dns_cache_size != c->dns_cache_size ||
	    old->dns_cache_max_bytes != c->dns_cache_max_bytes)
		logmsg(LOG_WARNING, "reload: dns_cache_size or "
		    "dns_cache_max_bytes changed; it takes a restart to resize "
		    "the cache");
	if (str_differs(old->user, c->user))
		logmsg(LOG_WARNING, "reload: user changed; it takes a restart "
		    "to run as the new one");
	log_configure(c);
	conf_current = c;
	conf_gen++;
	pthread_mutex_unlock(&conf_lock);
	conf_unref(old);
	logmsg(LOG_INFO, "configuration reloaded from %s",
	    hdr_esc(conf_path, e, sizeof(e)));
}

/* The thread that turns SIGUSR1 into a reload.  libmilter's own signal
 * thread waits for HUP, TERM and INT; all five stay blocked elsewhere. */
static void *
signal_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1)
			reload();
	}
	return NULL;
}

/* ------------------------------------------------------ idle resolvers */

/*
 * A verification borrows a resolver and gives it back when it is done
 * (callbacks of one connection never run at once, those of different
 * connections may).  Making one costs a udns context, its buffers and a
 * socket, so up to IDLE_RESOLVERS are kept for the next connection
 * instead of making one per connection (libmilter runs a thread per
 * connection).  Each reload starts a new generation (it may have changed
 * the DNS settings): resolvers of an older one are freed when met.
 */
#define IDLE_RESOLVERS	32

static struct {
	pthread_mutex_t lock;
	struct resolver *d[IDLE_RESOLVERS];
	unsigned gen[IDLE_RESOLVERS];
	unsigned n;
} idle_dns = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* One answer cache for all resolvers, sized at start: resolvers of every
 * generation may still use it, so it lives as long as the process. */
static struct resolver_cache *dns_shared_cache;

/* Every nameserver the configuration may list has a place in the
 * resolver's. */
_Static_assert(CONF_MAX_DNS_SERVERS == RESOLVER_MAX_SERVERS,
    "dns_servers and the resolver must hold as many nameservers");

static struct resolver *
dns_from_conf(const struct conf *c)
{
	struct resolver_config rc;
	size_t i;

	memset(&rc, 0, sizeof(rc));
	for (i = 0; i < c->ndns_servers; i++)
		rc.servers[i] = c->dns_servers[i];
	rc.nservers = (unsigned)i;
	rc.timeout_ms = c->dns_timeout_ms;
	rc.cache = dns_shared_cache;
	return resolver_new(&rc);
}

/* A resolver for snapshot C of generation GEN: an idle one, or a new one
 * (NULL: none can be made). */
static struct resolver *
dns_borrow(const struct conf *c, unsigned gen)
{
	struct resolver *d = NULL, *stale[IDLE_RESOLVERS];
	unsigned nstale = 0;

	if (pthread_mutex_lock(&idle_dns.lock) == 0) {
		while (d == NULL && idle_dns.n > 0) {
			idle_dns.n--;
			if (idle_dns.gen[idle_dns.n] == gen)
				d = idle_dns.d[idle_dns.n];
			else
				stale[nstale++] = idle_dns.d[idle_dns.n];
		}
		pthread_mutex_unlock(&idle_dns.lock);
	}
	while (nstale > 0)
		resolver_free(stale[--nstale]);
	return d != NULL ? d : dns_from_conf(c);
}

/* D, of generation GEN, is idle again.  It keeps no socket: the
 * descriptors kept in reserve are counted for sessions only. */
static void
dns_give_back(struct resolver *d, unsigned gen)
{
	if (d == NULL)
		return;
	resolver_rest(d);
	if (pthread_mutex_lock(&idle_dns.lock) == 0) {
		if (idle_dns.n < IDLE_RESOLVERS) {
			idle_dns.d[idle_dns.n] = d;
			idle_dns.gen[idle_dns.n++] = gen;
			d = NULL;
		}
		pthread_mutex_unlock(&idle_dns.lock);
	}
	resolver_free(d);
}

/* ------------------------------------------------------------ sessions */

/*
 * Incoming header fields of one name to delete at end of message:
 * Authentication-Results with our authserv-id, every Received-SPF.
 * libmilter counts fields per name from 1.
 */
enum { DEL_AR, DEL_RSPF };
static const char *const del_names[2] = {
	"Authentication-Results", "Received-SPF"
};

struct deletions {
	int seen;		/* fields of this name so far */
	int *idx;		/* the indices of those to delete */
	int n, cap;		/* used, allocated */
	int overflow;		/* one could not be remembered */
};

/* What lifts a refusal: a client vouched for by DNS (trusted_forwarders,
 * trusted_forwarder_domains). */
enum exempt_kind { EXEMPT_NONE, EXEMPT_FORWARDER, EXEMPT_FORWARDER_DOMAIN };

struct exemption {
	enum exempt_kind kind;
	int checked;		/* the checks ran */
	char name[256];		/* the forwarder's confirmed name, or domain */
	char why_not[200];	/* checked, none applies: what was found */
	unsigned queries;	/* DNS questions the checks asked */
	unsigned ms;		/* and how long they took */
};

/* The phases of the procedure; -q keeps the trace of each apart. */
enum { PHASE_MAILFROM, PHASE_HELO, PHASE_EXEMPT, NPHASES };

struct session {
	struct conf *conf;	/* the snapshot taken at connect */
	unsigned gen;
	unsigned noreply;	/* SMFIP_NR_* the MTA agreed to */
	int verify;		/* 0: trusted or unusable client address */
	int trusted;
	int family;
	unsigned char ip[16];
	char ipstr[INET6_ADDRSTRLEN];
	char *helo;
	int helo_valid;		/* a domain name that can be verified */
	int helo_done;		/* helo_out holds this HELO's result */
	struct spf_outcome helo_out;
	/* the procedure's means: the resolver, and for -q a trace of each
	 * phase and the MAIL FROM result it has already */
	struct resolver *dns;
	spf_trace_fn *trace;
	void *trace_arg;
	int phase;
	const struct spf_outcome *mailfrom_given;
	/* per message */
	char *sender;
	int skip;		/* authenticated or skip_senders */
	struct hdr_verdict v[2];
	int nv;
	int final;		/* index into v of the result that counts */
	int helo_cached;	/* the HELO result came from helo_out */
	int definitive;		/* v[final] is a definitive HELO result */
	int reject;		/* v[final]'s result is one to refuse */
	struct exemption ex;	/* checked when reject is set */
	int rcpt_exempt;	/* recipients accepted by exempt_recipients */
	struct deletions del[2];	/* incoming fields to delete */
};

static void
message_reset(struct session *s)
{
	int i;

	free(s->sender);
	s->sender = NULL;
	s->skip = 0;
	s->nv = 0;
	s->final = -1;
	s->helo_cached = 0;
	s->definitive = 0;
	s->reject = 0;
	memset(&s->ex, 0, sizeof(s->ex));
	s->rcpt_exempt = 0;
	for (i = 0; i < 2; i++) {
		s->del[i].seen = 0;
		s->del[i].n = 0;
		s->del[i].overflow = 0;
	}
}

/*
 * Sessions of closed connections, kept for new ones: a session is a few
 * KiB, and musl's malloc hands memory of that size back to the kernel
 * as soon as it is free, to map it again for the next connection.
 */
#define IDLE_SESSIONS	16

static struct {
	pthread_mutex_t lock;
	struct session *s[IDLE_SESSIONS];
	unsigned n;
} idle_sessions = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* A session with every field zero but final (-1), or NULL. */
static struct session *
session_new(void)
{
	struct session *s = NULL;

	if (pthread_mutex_lock(&idle_sessions.lock) == 0) {
		if (idle_sessions.n > 0)
			s = idle_sessions.s[--idle_sessions.n];
		pthread_mutex_unlock(&idle_sessions.lock);
	}
	if (s == NULL && (s = malloc(sizeof(*s))) == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->final = -1;
	return s;
}

/* Release what S holds and keep it for another connection, or free it. */
static void
session_free(struct session *s)
{
	message_reset(s);
	free(s->del[DEL_AR].idx);
	free(s->del[DEL_RSPF].idx);
	free(s->helo);
	if (s->conf != NULL)
		conf_unref(s->conf);
	if (pthread_mutex_lock(&idle_sessions.lock) == 0) {
		if (idle_sessions.n < IDLE_SESSIONS) {
			idle_sessions.s[idle_sessions.n++] = s;
			s = NULL;
		}
		pthread_mutex_unlock(&idle_sessions.lock);
	}
	free(s);
}

static sfsistat
noreply(const struct session *s, unsigned flag)
{
	return (s != NULL && (s->noreply & flag)) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static const char *
queue_id(SMFICTX *ctx)
{
	const char *id = smfi_getsymval(ctx, "i");

	return id != NULL && *id != '\0' ? id : "NOQUEUE";
}

/* ----------------------------------------------------------- callbacks */

static sfsistat
cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	/* Steps we never look at, and those where we never answer.  RCPT
	 * only with exempt_recipients (its refusals are given there). */
	unsigned long skip = SMFIP_NORCPT | SMFIP_NOBODY |
	    SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOEOH;
	const unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR;
	struct session *s = session_new();

	(void)f2;
	(void)f3;
	/* The connection's snapshot is taken here, so the steps asked for
	 * match the configuration that will run them. */
	if (s != NULL && (s->conf = conf_take(&s->gen)) != NULL &&
	    !s->conf->delete_incoming_authentication_results &&
	    !s->conf->delete_incoming_received_spf)
		*pf1 = f1 & SMFIP_NOHDRS;
	else
		*pf1 = 0;
	if (s != NULL && s->conf != NULL && s->conf->nexempt_recipients > 0)
		skip &= ~(unsigned long)SMFIP_NORCPT;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
	if (*pf0 != (SMFIF_ADDHDRS | SMFIF_CHGHDRS))
		logmsg(LOG_WARNING, "the MTA does not let us add or delete "
		    "header fields: results will not be recorded");
	*pf1 |= f1 & skip;
	if (s != NULL) {
		s->noreply = (unsigned)(f1 & nr);
		*pf1 |= s->noreply;
		if (smfi_setpriv(ctx, s) != MI_SUCCESS) {
			session_free(s);
			*pf1 &= ~(nr | SMFIP_NOHDRS);
		}
	}
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

/* The client's address from the connect callback's sockaddr: IPv4, IPv6
 * (IPv4-mapped becomes IPv4).  -1 for anything else. */
static int
client_address(struct session *s, const struct sockaddr *sa)
{
	const void *addr;

	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return -1;
	if (spf_addr_set(sa->sa_family, addr, &s->family, s->ip) != 0)
		return -1;
	spf_ip_text(s->family, s->ip, s->ipstr, sizeof(s->ipstr));
	return 0;
}

static sfsistat
cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
	struct session *s = smfi_getpriv(ctx);
	char e[512];

	if (s == NULL) {
		/* No negotiate callback ran (old MTA) or it had no memory. */
		if ((s = session_new()) == NULL ||
		    smfi_setpriv(ctx, s) != MI_SUCCESS) {
			if (s != NULL)
				session_free(s);
			logmsg(LOG_ERR, "out of memory at connect");
			return SMFIS_TEMPFAIL;
		}
	}
	if (s->conf == NULL && (s->conf = conf_take(&s->gen)) == NULL) {
		/* Shutting down: let the connection pass unverified. */
		return noreply(s, SMFIP_NR_CONN);
	}
	if (client_address(s, hostaddr) != 0) {
		logmsg(LOG_INFO, "client \"%s\" has no IPv4 or IPv6 address, "
		    "not verified", hdr_esc(hostname, e, sizeof(e)));
		return noreply(s, SMFIP_NR_CONN);
	}
	if (conf_trusted_ip(s->conf, s->family, s->ip)) {
		s->trusted = 1;
		logmsg(LOG_DEBUG, "client %s is in trusted_networks, not "
		    "verified", s->ipstr);
		return noreply(s, SMFIP_NR_CONN);
	}
	s->verify = 1;
	return noreply(s, SMFIP_NR_CONN);
}

/* The HELO/EHLO name, kept per connection; its SPF result is cached until
 * the client names itself differently. */
static sfsistat
cb_helo(SMFICTX *ctx, char *name)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_CONTINUE;
	if (name == NULL)
		name = "";
	message_reset(s);
	if (s->helo != NULL && strcmp(s->helo, name) == 0)
		return noreply(s, SMFIP_NR_HELO);
	free(s->helo);
	/* Kept whole, whatever its length (the MTA bounds it): a header
	 * field records it as it came. */
	s->helo = strdup(name);
	s->helo_valid = s->helo != NULL && spf_valid_domain(s->helo);
	s->helo_done = 0;
	return noreply(s, SMFIP_NR_HELO);
}

/* MAIL FROM's address without angle brackets or a source route. */
static char *
sender_address(const char *arg)
{
	const char *p = arg, *end;
	size_t len;

	if (*p == '<')
		p++;
	if (*p == '@' && (end = strchr(p, ':')) != NULL)
		p = end + 1;	/* RFC 5321 4.1.2 source route */
	/* Never cut: a shorter address could name another domain.  libmilter
	 * bounds what the MTA can send. */
	len = strlen(p);
	if (len > 0 && p[len - 1] == '>')
		len--;
	return strndup(p, len);
}

/* ------------------------------------------------------- the procedure */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* V set up for a verdict about IDENTITY of S's message. */
static void
verdict_init(const struct session *s, enum spf_identity identity,
    struct hdr_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->identity = identity;
	v->ip = s->ipstr;
	v->helo = s->helo;
	v->sender = s->sender ? s->sender : "";
}

/* A request of S's client, traced when S is (-q). */
static void
request_init(const struct session *s, struct spf_request *req)
{
	memset(req, 0, sizeof(*req));
	req->family = s->family;
	memcpy(req->ip, s->ip, sizeof(req->ip));
	req->helo = s->helo;
	req->receiver = s->conf->hostname;
	req->trace = s->trace;
	req->trace_arg = s->trace_arg;
}

/* Run check_host() for IDENTITY into V. */
static void
verify(struct session *s, enum spf_identity identity, struct hdr_verdict *v)
{
	struct spf_request req;
	struct spf_resolver res;

	verdict_init(s, identity, v);
	if (identity == SPF_ID_HELO && !s->helo_valid) {
		/* An IP literal or a non-domain HELO: nothing to verify.
		 * One too long for the field is no domain: shown cut, and
		 * marked so (the header fields take the whole from v->helo). */
		v->out.result = SPF_NONE;
		if (spf_strlcpy_exact(v->out.domain, s->helo ? s->helo : "",
		    sizeof(v->out.domain)) != 0) {
			memcpy(v->out.domain, s->helo, sizeof(v->out.domain) - 4);
			memcpy(v->out.domain + sizeof(v->out.domain) - 4, "...", 4);
		}
		return;
	}
	request_init(s, &req);
	req.identity = identity;
	req.sender = v->sender;
	if (s->dns == NULL) {
		v->out.result = SPF_TEMPERROR;
		spf_strlcpy_exact(v->out.problem, "no DNS resolver available",
		    sizeof(v->out.problem));
		logmsg(LOG_ERR, "cannot set up a DNS resolver");
		return;
	}
	resolver_begin(s->dns, s->conf->dns_timeout_ms, &res);
	spf_check(&req, &res, &v->out);
}

static int
want_forwarder(void *arg, const char *name)
{
	return conf_trusted_forwarder(arg, name);
}

/*
 * The time the exemption checks may take: dns_timeout, but never beyond
 * twice dns_timeout from START, when the MAIL FROM step began.  HELO and
 * MAIL FROM take dns_timeout each at most, so the MTA's reply still
 * comes within 2 x dns_timeout (spf-milter.conf(5)).  0: no time left.
 */
static unsigned
exemption_budget(const struct session *s, long long start)
{
	long long t = s->conf->dns_timeout_ms;
	long long left = start + 2 * t - now_ms();

	return left <= 0 ? 0 : (unsigned)(left < t ? left : t);
}

/* Does the client pass the SPF record of DOMAIN, within MS?  As
 * check_host(client address, DOMAIN, postmaster@DOMAIN), the client's
 * HELO name as %{h}: pypolicyd-spf's Domain_Whitelist. */
static enum spf_result
forwarder_domain(struct session *s, const char *domain, unsigned ms,
    unsigned *queries)
{
	struct spf_request req;
	struct spf_resolver res;
	struct spf_outcome out;
	struct spf_buf b;
	char sender[300];

	/* conf.c keeps a domain to 253 bytes: it always fits */
	spf_buf_init(&b, sender, sizeof(sender));
	if (spf_buf_addf(&b, "postmaster@%s", domain) != 0)
		return SPF_NONE;
	request_init(s, &req);
	req.identity = SPF_ID_MAILFROM;
	req.sender = sender;
	resolver_begin(s->dns, ms, &res);
	spf_check(&req, &res, &out);
	*queries += out.queries;
	return out.result;
}

/*
 * May the refusal of S's message be lifted?  trusted_forwarders first: a
 * PTR name of the client that is listed and whose own A/AAAA records
 * hold its address (spf.c validates it as ptr does; a name not listed
 * costs no question); then each of trusted_forwarder_domains in turn,
 * until the client passes one's SPF record.  The HELO name and the
 * sender play no part: both are the client's to choose.  Within
 * exemption_budget(): what is not answered by then exempts nothing.
 */
static void
check_exemptions(struct session *s, long long start)
{
	const struct conf *c = s->conf;
	struct exemption *ex = &s->ex;
	struct spf_request req;
	struct spf_resolver res;
	struct spf_names names;
	struct spf_buf why;
	long long t0 = now_ms(), left;
	unsigned budget = exemption_budget(s, start);
	enum spf_result r;
	size_t i;

	if (c->ntrusted_forwarders == 0 && c->ntrusted_forwarder_domains == 0)
		return;
	ex->checked = 1;
	spf_buf_init(&why, ex->why_not, sizeof(ex->why_not));
	if (budget == 0 || s->dns == NULL) {
		spf_buf_adds(&why, s->dns == NULL ? "no DNS resolver" :
		    "no time left within 2 x dns_timeout");
		return;
	}
	if (c->ntrusted_forwarders > 0) {
		request_init(s, &req);
		resolver_begin(s->dns, budget, &res);
		spf_validated_names(&req, &res, want_forwarder, (void *)c,
		    &names);
		ex->queries += names.queries;
		if (names.count > 0) {
			ex->kind = EXEMPT_FORWARDER;
			memcpy(ex->name, names.name[0], sizeof(ex->name));
			goto done;
		}
		spf_buf_addf(&why, "no PTR name in trusted_forwarders "
		    "confirmed (PTR lookup: %s)", names.ptr == SPF_DNS_OK ?
		    "answered" : names.ptr == SPF_DNS_TIMEOUT ? "timeout" :
		    names.ptr == SPF_DNS_SERVFAIL ? "failed" : "no name");
	}
	for (i = 0; i < c->ntrusted_forwarder_domains; i++) {
		const char *d = c->trusted_forwarder_domains[i];

		if (why.len > 0)
			spf_buf_adds(&why, ", ");
		if ((left = t0 + budget - now_ms()) <= 0) {
			spf_buf_addf(&why, "%s not asked (no time left)", d);
			break;
		}
		r = forwarder_domain(s, d, (unsigned)left, &ex->queries);
		if (r == SPF_PASS) {
			ex->kind = EXEMPT_FORWARDER_DOMAIN;
			spf_strlcpy_exact(ex->name, d, sizeof(ex->name));
			goto done;
		}
		spf_buf_addf(&why, "%s gives %s", d, spf_result_name(r));
	}
	if (why.overflow)	/* a log and -q text: marked, not cut silently */
		memcpy(ex->why_not + sizeof(ex->why_not) - 4, "...", 4);
done:
	ex->ms = (unsigned)(now_ms() - t0);
}

/* Room for the words of an exemption: a name of 255 bytes and ours. */
#define REASON_MAX	400

/* Why the refusal was lifted, in words ("trusted forwarder
 * mx2.example.org, PTR confirmed"), into BUF of REASON_MAX bytes, after
 * PREFIX. */
static const char *
exemption_reason(const struct exemption *ex, const char *prefix,
    char buf[REASON_MAX])
{
	struct spf_buf b;

	/* a name of 255 bytes fits with our words: never cut */
	spf_buf_init(&b, buf, REASON_MAX);
	spf_buf_addf(&b, ex->kind == EXEMPT_FORWARDER ?
	    "%strusted forwarder %s, PTR confirmed" :
	    "%strusted forwarder domain %s, SPF pass", prefix, ex->name);
	return buf;
}

/*
 * The HELO -> MAIL FROM procedure for the message of S, up to the
 * decision, acting on nothing: the verdicts in s->v (s->final the one
 * that counts), whether its result is one to refuse (s->reject) and, if
 * so, whether an exemption lifts that (s->ex).  The milter (cb_envfrom)
 * and the query tool (-q) both run it and act on it each in its way.
 * HELO first when verify_helo: its result ends the procedure when it is
 * to be refused or definitive.
 */
static void
procedure(struct session *s)
{
	const struct conf *c = s->conf;
	long long start = now_ms();
	struct hdr_verdict *v;

	if (c->verify_helo && s->helo != NULL) {
		s->phase = PHASE_HELO;
		v = &s->v[s->nv];
		if (s->helo_done) {
			verdict_init(s, SPF_ID_HELO, v);
			v->out = s->helo_out;
			s->helo_cached = 1;
		} else {
			verify(s, SPF_ID_HELO, v);
			s->helo_out = v->out;
			s->helo_done = 1;
		}
		s->final = s->nv++;
		s->definitive = (c->definitive_helo_results &
		    CONF_RESULT_BIT(v->out.result)) != 0;
		s->reject = (c->reject_helo_results &
		    CONF_RESULT_BIT(v->out.result)) != 0;
		if (s->reject || s->definitive)
			goto exempt;
	}
	s->phase = PHASE_MAILFROM;
	v = &s->v[s->nv];
	if (s->mailfrom_given != NULL) {
		verdict_init(s, SPF_ID_MAILFROM, v);
		v->out = *s->mailfrom_given;
	} else {
		verify(s, SPF_ID_MAILFROM, v);
	}
	s->final = s->nv++;
	s->definitive = 0;
	s->reject = (c->reject_results & CONF_RESULT_BIT(v->out.result)) != 0;
exempt:
	if (s->reject) {
		s->phase = PHASE_EXEMPT;
		check_exemptions(s, start);
	}
}

/* What the procedure's outcome makes of the message. */
enum action {
	ACT_ACCEPT,		/* nothing to refuse */
	ACT_SKIP,		/* a refusal lifted by an exemption */
	ACT_REJECT_RCPT,	/* refused at RCPT TO, but for exempt_recipients */
	ACT_REJECT		/* refused at MAIL FROM */
};

static enum action
action_of(const struct session *s)
{
	if (!s->reject)
		return ACT_ACCEPT;
	if (s->ex.kind != EXEMPT_NONE)
		return ACT_SKIP;
	if (s->conf->nexempt_recipients > 0)
		return ACT_REJECT_RCPT;
	return ACT_REJECT;
}

/* What the header fields say beside the true result of a message whose
 * refusal was not enforced, into BUF; NULL when it was enforced. */
static const char *
not_enforced(const struct session *s, char buf[REASON_MAX])
{
	switch (action_of(s)) {
	case ACT_SKIP:
		return exemption_reason(&s->ex, "not enforced: ", buf);
	case ACT_REJECT_RCPT:
		return "not enforced: exempt recipients only";
	default:
		return NULL;
	}
}

/* A header field for the message, as header.c built it (free value). */
struct out_field {
	const char *name;
	char *value;	/* NULL: out of memory */
};

#define OUT_FIELDS_MAX	3

/*
 * The header fields of the configured kinds for S's message, top to
 * bottom, NOTE (or NULL) beside the final result.  With both identities
 * recorded, the final result is where its readers look: the top-most
 * Received-SPF (RFC 7208 9.1 puts a new one above the others; OpenDMARC
 * and SpamAssassin read the top one) and the last result of
 * Authentication-Results (SpamAssassin reads the last).  Returns the
 * count.
 */
static int
message_fields(const struct session *s, const char *note,
    struct out_field f[OUT_FIELDS_MAX])
{
	const struct conf *c = s->conf;
	struct hdr_verdict list[2];
	size_t h;
	int n = 0, i, k = 0;

	if (c->include_all_results && s->nv == 2)
		list[n++] = s->v[0];
	if (s->final >= 0 && (n == 0 || s->final != 0))
		list[n++] = s->v[s->final];
	if (n == 0)
		return 0;
	list[n - 1].note = note;
	for (h = 0; h < c->nheader; h++) {
		if (c->header[h] == CONF_HEADER_AUTHENTICATION_RESULTS) {
			f[k].name = "Authentication-Results";
			f[k++].value = hdr_auth_results(list, n, c->authserv_id);
		} else if (c->header[h] == CONF_HEADER_RECEIVED_SPF) {
			for (i = n; i-- > 0;) {
				f[k].name = "Received-SPF";
				f[k++].value = hdr_received_spf(&list[i],
				    c->hostname);
			}
		}
	}
	return k;
}

/* ----------------------------------------------------- the milter acts */

/* The configured template always fits a reply, with room for values. */
_Static_assert(CONF_REPLY_TEXT_MAX + 64 < HDR_REPLY_TEXT_MAX,
    "a reply text template must leave room for its values");

/* The SMTP reply for V's result, as configured (header.c builds it). */
static sfsistat
reply(SMFICTX *ctx, struct session *s, const struct hdr_verdict *v)
{
	const struct conf_reply *cr = &s->conf->reply[v->out.result];
	struct hdr_reply r;
	char e[HDR_REPLY_TEXT_MAX * 4];
	const char *cut;

	/* Said before the text, which a sender's data may end. */
	cut = hdr_reply(&r, cr->code, cr->status, cr->text, v) ?
	    " (a value shortened to fit)" : "";
	if (s->conf->dry_run) {
		logmsg(LOG_INFO, "%s: client=%s dry run: would reply%s %s %s %s",
		    queue_id(ctx), s->ipstr, cut, r.code, r.status,
		    hdr_esc(r.text, e, sizeof(e)));
		return SMFIS_CONTINUE;
	}
	logmsg(LOG_INFO, "%s: client=%s reply%s %s %s %s", queue_id(ctx),
	    s->ipstr, cut, r.code, r.status, hdr_esc(r.text, e, sizeof(e)));
	if (smfi_setreply(ctx, r.code, r.status,
	    r.text[0] != '\0' ? r.text : NULL) != MI_SUCCESS)
		logmsg(LOG_WARNING, "%s: the MTA refused the reply %s %s %s",
		    s->ipstr, r.code, r.status, hdr_esc(r.text, e, sizeof(e)));
	return r.code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

static void
log_verdict(SMFICTX *ctx, const struct session *s, const struct hdr_verdict *v,
    const char *action)
{
	char e1[VALUE_MAX * 4 + 8], e2[VALUE_MAX * 4 + 8], e3[1100];
	const char *what = v->out.problem[0] ? "problem" : "mechanism";
	const char *detail = v->out.problem[0] ? v->out.problem : v->out.mechanism;

	if (LOG_INFO > log_max)
		return;		/* escaping the values is most of the work */
	logmsg(LOG_INFO, "%s: client=%s identity=%s %s=\"%s\" domain=\"%s\" "
	    "result=%s %s=\"%s\" action=%s", queue_id(ctx), s->ipstr,
	    v->identity == SPF_ID_HELO ? "helo" : "mailfrom",
	    v->identity == SPF_ID_HELO ? "helo" : "sender",
	    hdr_esc(v->identity == SPF_ID_HELO ? v->helo : v->sender, e1, sizeof(e1)),
	    hdr_esc(v->out.domain, e2, sizeof(e2)), spf_result_name(v->out.result),
	    what, hdr_esc(detail, e3, sizeof(e3)), action);
}

/* Log the procedure's outcome for S and act on it at MAIL FROM. */
static sfsistat __attribute__((noinline))
act_mailfrom(SMFICTX *ctx, struct session *s)
{
	const struct hdr_verdict *v = &s->v[s->final];
	const char *tempfail = s->conf->reply[v->out.result].code[0] == '4' ?
	    "tempfail" : "reject";
	char action[REASON_MAX + 40], why[REASON_MAX];
	char e[sizeof(s->ex.why_not) * 4];
	struct spf_buf b;
	enum action a = action_of(s);
	int i;

	if (s->helo_cached)
		logmsg(LOG_DEBUG, "%s: client=%s HELO result taken from the "
		    "cache of this connection", queue_id(ctx), s->ipstr);
	/* a HELO result before the final one was neither refused nor
	 * definitive */
	for (i = 0; i < s->final; i++)
		log_verdict(ctx, s, &s->v[i], "accept");
	if (s->ex.checked)
		logmsg(LOG_INFO, "%s: client=%s %s%s (DNS questions: %u, %u ms)",
		    queue_id(ctx), s->ipstr, s->ex.kind != EXEMPT_NONE ?
		    "exempt: " : "not exempt: ", s->ex.kind != EXEMPT_NONE ?
		    exemption_reason(&s->ex, "", why) :
		    hdr_esc(s->ex.why_not, e, sizeof(e)), s->ex.queries,
		    s->ex.ms);
	/* our words and a reason of REASON_MAX: they fit */
	spf_buf_init(&b, action, sizeof(action));
	switch (a) {
	case ACT_ACCEPT:
		log_verdict(ctx, s, v, s->definitive ? "accept (definitive)" :
		    "accept");
		return SMFIS_CONTINUE;
	case ACT_SKIP:
		spf_buf_addf(&b, "skip (%s)", exemption_reason(&s->ex, "",
		    why));
		log_verdict(ctx, s, v, action);
		return SMFIS_CONTINUE;
	case ACT_REJECT_RCPT:
		spf_buf_addf(&b, "%s%s at RCPT TO, but for exempt_recipients%s",
		    s->conf->dry_run ? "none (dry run: " : "", tempfail,
		    s->conf->dry_run ? ")" : "");
		log_verdict(ctx, s, v, action);
		return SMFIS_CONTINUE;
	case ACT_REJECT:
		log_verdict(ctx, s, v, s->conf->dry_run ?
		    "none (dry run: reject)" : tempfail);
		break;
	}
	return reply(ctx, s, v);
}

/*
 * Why S's message is not verified: WHAT "VALUE"WHY.  Out of line, as is
 * act_mailfrom(): with a thread per connection each page of stack under
 * the evaluation is a fresh one to fault in, so cb_envfrom() keeps no
 * buffer of its own.
 */
static void __attribute__((noinline))
log_unverified(SMFICTX *ctx, const struct session *s, const char *what,
    const char *value, const char *why)
{
	char e[VALUE_MAX * 4 + 8];

	logmsg(LOG_INFO, "%s: client=%s %s\"%s\"%s, not verified",
	    queue_id(ctx), s->ipstr, what, hdr_esc(value, e, sizeof(e)), why);
}

static sfsistat
cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct session *s = smfi_getpriv(ctx);
	const char *auth;

	if (s == NULL || argv == NULL || argv[0] == NULL)
		return SMFIS_CONTINUE;
	message_reset(s);
	if ((s->sender = sender_address(argv[0])) == NULL) {
		logmsg(LOG_ERR, "out of memory at MAIL FROM");
		return SMFIS_TEMPFAIL;
	}
	/* A trusted client's message needs nothing more from us. */
	if (s->trusted)
		return SMFIS_ACCEPT;
	if (!s->verify)
		return SMFIS_CONTINUE;
	auth = smfi_getsymval(ctx, "{auth_authen}");
	if (auth != NULL && *auth != '\0' &&
	    s->conf->trust_authenticated_senders) {
		s->skip = 1;
		log_unverified(ctx, s, "authenticated as ", auth, "");
		return SMFIS_CONTINUE;
	}
	if (conf_skip_sender(s->conf, s->sender)) {
		s->skip = 1;
		log_unverified(ctx, s, "sender=", s->sender, " in skip_senders");
		return SMFIS_CONTINUE;
	}
	s->dns = dns_borrow(s->conf, s->gen);
	procedure(s);
	dns_give_back(s->dns, s->gen);
	s->dns = NULL;
	return act_mailfrom(ctx, s);
}

/* With exempt_recipients, a refusal is given here, recipient by
 * recipient; an exempt one is accepted. */
static sfsistat
cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct session *s = smfi_getpriv(ctx);
	char e[VALUE_MAX * 4 + 8];

	if (s == NULL || s->conf == NULL || argv == NULL || argv[0] == NULL ||
	    s->skip || s->final < 0 || action_of(s) != ACT_REJECT_RCPT)
		return SMFIS_CONTINUE;
	if (conf_exempt_recipient(s->conf, argv[0])) {
		s->rcpt_exempt++;
		logmsg(LOG_INFO, "%s: client=%s recipient=\"%s\" in "
		    "exempt_recipients: accepted, result=%s not enforced",
		    queue_id(ctx), s->ipstr, hdr_esc(argv[0], e, sizeof(e)),
		    spf_result_name(s->v[s->final].out.result));
		return SMFIS_CONTINUE;
	}
	logmsg(LOG_INFO, "%s: client=%s recipient=\"%s\" refused, result=%s",
	    queue_id(ctx), s->ipstr, hdr_esc(argv[0], e, sizeof(e)),
	    spf_result_name(s->v[s->final].out.result));
	return reply(ctx, s, &s->v[s->final]);
}

/* Add the current field of D to those to delete; -1 when it cannot. */
static int
del_remember(struct deletions *d)
{
	int *n;
	int cap;

	if (d->n == d->cap) {
		if (d->cap >= DELETE_MAX)
			return -1;
		cap = d->cap ? d->cap * 2 : 8;
		if ((n = realloc(d->idx, (size_t)cap * sizeof(*n))) == NULL)
			return -1;
		d->idx = n;
		d->cap = cap;
	}
	d->idx[d->n++] = d->seen;
	return 0;
}

/* Is this incoming field one to delete?  Authentication-Results with
 * our authserv-id (RFC 8601 5: ours to remove), or any Received-SPF: it
 * names no author, and its readers trust what they find. */
static int
to_delete(const struct session *s, int k, const char *value)
{
	char id[256];

	if (s->trusted)
		return 0;
	if (k == DEL_RSPF)
		return s->conf->delete_incoming_received_spf;
	return s->conf->delete_incoming_authentication_results &&
	    hdr_authserv_id(value, id, sizeof(id)) == 0 &&
	    strcasecmp(id, s->conf->authserv_id) == 0;
}

/* Remember the incoming fields to delete at end of message. */
static sfsistat
cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct session *s = smfi_getpriv(ctx);
	struct deletions *d;
	char e[512];
	int k;

	if (s == NULL || s->conf == NULL || name == NULL || value == NULL)
		return noreply(s, SMFIP_NR_HDR);
	if (strcasecmp(name, del_names[DEL_AR]) == 0)
		k = DEL_AR;
	else if (strcasecmp(name, del_names[DEL_RSPF]) == 0)
		k = DEL_RSPF;
	else
		return noreply(s, SMFIP_NR_HDR);
	d = &s->del[k];
	d->seen++;
	if (!to_delete(s, k, value))
		return noreply(s, SMFIP_NR_HDR);
	if (del_remember(d) != 0) {
		if (!d->overflow)
			logmsg(LOG_WARNING, "%s: client=%s too many incoming "
			    "%s (%d), the message will be refused: %s",
			    queue_id(ctx), s->ipstr, del_names[k], d->n,
			    hdr_esc(value, e, sizeof(e)));
		d->overflow = 1;
		return noreply(s, SMFIP_NR_HDR);
	}
	logmsg(LOG_INFO, "%s: client=%s incoming %s #%d to be deleted: %s",
	    queue_id(ctx), s->ipstr, del_names[k], d->seen,
	    hdr_esc(value, e, sizeof(e)));
	return noreply(s, SMFIP_NR_HDR);
}

/* Insert field NAME with VALUE (from header.c, freed here) on top. */
static void
insert_header(SMFICTX *ctx, const char *name, char *value)
{
	char e[1024];

	if (value == NULL) {
		logmsg(LOG_ERR, "%s: out of memory: no %s field", queue_id(ctx),
		    name);
		return;
	}
	if (smfi_insheader(ctx, 0, (char *)name, value) != MI_SUCCESS)
		logmsg(LOG_WARNING, "%s: cannot insert %s: %s", queue_id(ctx),
		    name, hdr_esc(value, e, sizeof(e)));
	free(value);
}

/* The header fields for S's message (message_fields()), each inserted
 * on top: the bottom one first. */
static void
add_headers(SMFICTX *ctx, struct session *s, const char *note)
{
	struct out_field f[OUT_FIELDS_MAX];
	int n = message_fields(s, note, f);

	while (n-- > 0)
		insert_header(ctx, f[n].name, f[n].value);
}

static sfsistat
cb_eom(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);
	char buf[REASON_MAX];
	const char *note;
	sfsistat r;
	int i, k;

	if (s == NULL || s->conf == NULL)
		return SMFIS_CONTINUE;
	if (s->conf->dry_run) {
		for (k = 0; k < 2; k++)
			if (s->del[k].n > 0)
				logmsg(LOG_INFO, "%s: dry run: would delete %d "
				    "incoming %s", queue_id(ctx), s->del[k].n,
				    del_names[k]);
		message_reset(s);
		return SMFIS_CONTINUE;
	}
	if (s->del[DEL_AR].overflow || s->del[DEL_RSPF].overflow) {
		smfi_setreply(ctx, "451", "4.7.0", "Too many "
		    "authentication header fields");
		message_reset(s);
		return SMFIS_TEMPFAIL;
	}
	/* A refusal left for RCPT TO that no recipient met (an MTA that
	 * sent no RCPT): given now, never dropped. */
	if (s->reject && !s->skip && ((action_of(s) == ACT_REJECT_RCPT &&
	    s->rcpt_exempt == 0) || action_of(s) == ACT_REJECT)) {
		logmsg(LOG_WARNING, "%s: client=%s no recipient was refused "
		    "or exempt: refused at end of message", queue_id(ctx),
		    s->ipstr);
		r = reply(ctx, s, &s->v[s->final]);
		message_reset(s);
		return r;
	}
	/* Highest index first, so no deletion moves the next one, and before
	 * our own fields are inserted, which would count. */
	for (k = 0; k < 2; k++) {
		const struct deletions *d = &s->del[k];

		for (i = d->n; i-- > 0;) {
			if (smfi_chgheader(ctx, (char *)del_names[k], d->idx[i],
			    NULL) != MI_SUCCESS)
				logmsg(LOG_WARNING, "%s: cannot delete %s #%d",
				    queue_id(ctx), del_names[k], d->idx[i]);
			else
				logmsg(LOG_INFO, "%s: deleted %s %s #%d",
				    queue_id(ctx), k == DEL_AR ? "forged" :
				    "incoming", del_names[k], d->idx[i]);
		}
	}
	if (!s->skip && s->nv > 0 && s->final >= 0 && s->conf->nheader > 0) {
		note = not_enforced(s, buf);
		add_headers(ctx, s, note);
		/* The queue id is known now: tie it to the result. */
		logmsg(LOG_INFO, "%s: client=%s identity=%s result=%s "
		    "recorded%s%s%s", queue_id(ctx), s->ipstr,
		    s->v[s->final].identity == SPF_ID_HELO ? "helo" : "mailfrom",
		    spf_result_name(s->v[s->final].out.result),
		    note != NULL ? " (" : "", note != NULL ? note : "",
		    note != NULL ? ")" : "");
	}
	message_reset(s);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_abort(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s != NULL)
		message_reset(s);
	return SMFIS_CONTINUE;
}

static sfsistat
cb_close(SMFICTX *ctx)
{
	struct session *s = smfi_getpriv(ctx);

	if (s == NULL)
		return SMFIS_CONTINUE;
	smfi_setpriv(ctx, NULL);
	session_free(s);
	return SMFIS_CONTINUE;
}

/* ------------------------------------------------------ the query tool */

/* Trace lines, kept until the result line has been printed. */
struct trace {
	char *buf;
	size_t len, cap;
	int cut;
};

#define TRACE_MAX	(1024 * 1024)

static void
trace_line(void *arg, const char *line)
{
	struct trace *t = arg;
	char e[2048];
	size_t n;
	char *nb;

	/* The trace quotes DNS data itself: only control and 8-bit bytes
	 * must not reach the terminal. */
	hdr_esc_keep(line, e, sizeof(e), "\\\"");
	n = strlen(e) + 1;
	if (t->len + n + 1 > TRACE_MAX) {
		t->cut = 1;
		return;
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;

		while (cap < t->len + n + 1)
			cap *= 2;
		if ((nb = realloc(t->buf, cap)) == NULL) {
			t->cut = 1;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, e, n - 1);
	t->buf[t->len + n - 1] = '\n';
	t->len += n;
	t->buf[t->len] = '\0';
}

/* An argument that could never come from SMTP: a control byte in it. */
static int
malformed_arg(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* The trace of each phase of the procedure, for -q. */
struct qtrace {
	struct trace t[NPHASES];
	const struct session *s;
};

static void
qtrace_line(void *arg, const char *line)
{
	struct qtrace *q = arg;

	trace_line(&q->t[q->s->phase], line);
}

static void
print_trace(struct trace *t)
{
	if (t->buf != NULL)
		fputs(t->buf, stdout);
	if (t->cut)
		printf("(trace cut)\n");
	free(t->buf);
	t->buf = NULL;
}

/* The reply for V as the client reads it: "550 5.7.23 text" ('%' once,
 * where the reply for libmilter doubles it). */
static void
print_reply(const struct session *s, const struct hdr_verdict *v)
{
	const struct conf_reply *cr = &s->conf->reply[v->out.result];
	struct hdr_reply r;
	const char *p;

	(void)hdr_reply(&r, cr->code, cr->status, cr->text, v);
	printf("%s %s %s ", r.code[0] == '4' ? "tempfail" : "reject", r.code,
	    r.status);
	for (p = r.text; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == '%')
			p++;
		putchar(*p);
	}
}

/* ", header NAME: VALUE" for each field the message gets (unfolded), or
 * ", no header field"; then the end of the line. */
static void
print_fields(const struct session *s, const char *note)
{
	struct out_field f[OUT_FIELDS_MAX];
	const char *p;
	int n = message_fields(s, note, f), i;

	if (n == 0)
		printf(", no header field");
	for (i = 0; i < n; i++) {
		printf(", header %s: ", f[i].name);
		for (p = f[i].value; p != NULL && *p != '\0'; p++) {
			if (p[0] == '\n' && p[1] == '\t')
				p++;	/* a fold reads as one blank */
			putchar(*p == '\n' || *p == '\t' ? ' ' : *p);
		}
		if (f[i].value == NULL)
			printf("(out of memory)");
		free(f[i].value);
	}
	putchar('\n');
}

/* What the milter would do, after the procedure ran for S: the HELO
 * result, the exemption checks, the action (per recipient of RCPT when
 * exempt_recipients applies). */
static void
print_procedure(struct session *s, struct qtrace *qt, char *const *rcpt,
    int nrcpt)
{
	const struct hdr_verdict *v = &s->v[s->final];
	char buf[REASON_MAX], why[REASON_MAX], e[sizeof(s->ex.why_not) * 4];
	const char *dry = s->conf->dry_run ? "accept (dry run: would " : "";
	int i, exempt = 0;

	if (s->v[0].identity == SPF_ID_HELO && s->nv > 0) {
		printf("helo: %s\n", spf_result_name(s->v[0].out.result));
		if (s->v[0].out.result == SPF_FAIL)
			printf("helo explanation: %s\n",
			    hdr_esc(s->v[0].out.explanation, e, sizeof(e)));
		print_trace(&qt->t[PHASE_HELO]);
	}
	if (s->ex.checked) {
		if (s->ex.kind != EXEMPT_NONE)
			printf("exemption: %s", exemption_reason(&s->ex, "",
			    why));
		else
			printf("exemption: none: %s", hdr_esc(s->ex.why_not, e,
			    sizeof(e)));
		printf(" (DNS questions: %u, %u ms)\n", s->ex.queries,
		    s->ex.ms);
		print_trace(&qt->t[PHASE_EXEMPT]);
	}
	switch (action_of(s)) {
	case ACT_ACCEPT:
		printf("action: accept%s", s->definitive ?
		    " (HELO result definitive)" : "");
		print_fields(s, NULL);
		return;
	case ACT_SKIP:
		printf("action: skip (%s)", exemption_reason(&s->ex, "", why));
		print_fields(s, not_enforced(s, buf));
		return;
	case ACT_REJECT:
		printf("action: %s", dry);
		print_reply(s, v);
		printf("%s\n", *dry != '\0' ? ")" : "");
		return;
	case ACT_REJECT_RCPT:
		break;
	}
	if (nrcpt == 0) {
		printf("action: %s", dry);
		print_reply(s, v);
		printf(" at RCPT TO, but for exempt_recipients%s\n",
		    *dry != '\0' ? ")" : "");
		return;
	}
	for (i = 0; i < nrcpt; i++) {
		printf("action: RCPT %s: ", rcpt[i]);
		if (conf_exempt_recipient(s->conf, rcpt[i])) {
			printf("accept (exempt_recipients)\n");
			exempt++;
			continue;
		}
		printf("%s", dry);
		print_reply(s, v);
		printf("%s\n", *dry != '\0' ? ")" : "");
	}
	if (exempt > 0) {
		printf("action: accept for the exempt recipients");
		print_fields(s, not_enforced(s, buf));
	}
}

/* -q: the check_host() result of the MAIL FROM identity alone (the first
 * line, which scripts read), its explanation, Received-SPF and trace, as
 * always; then what the milter would do with the message (the procedure
 * of the milter, through the same code). */
static int
query(const struct conf *c, const char *ip, const char *sender,
    const char *helo, char *const *rcpt, int nrcpt)
{
	struct spf_request req;
	struct qtrace qt;
	struct session s;
	struct hdr_verdict v;
	char *rspf;
	char e[SPF_EXPLANATION_MAX * 4 + 8];
	int i, rc = SPF_MILTER_EXIT_OK;

	memset(&req, 0, sizeof(req));
	if (spf_request_set_ip(&req, ip) != 0) {
		fprintf(stderr, "spf-milter: -q: not an IPv4 or IPv6 address: "
		    "%s\n", hdr_esc(ip, e, sizeof(e)));
		return SPF_MILTER_EXIT_USAGE;
	}
	for (i = 0; i < nrcpt; i++)
		if (malformed_arg(rcpt[i]))
			break;
	if (malformed_arg(sender) || malformed_arg(helo) || i < nrcpt) {
		fprintf(stderr, "spf-milter: -q: control character in "
		    "SENDER, HELO or RCPT\n");
		return SPF_MILTER_EXIT_USAGE;
	}
	memset(&s, 0, sizeof(s));
	memset(&qt, 0, sizeof(qt));
	s.conf = (struct conf *)(uintptr_t)c;
	s.final = -1;
	s.family = req.family;
	memcpy(s.ip, req.ip, sizeof(s.ip));
	spf_ip_text(s.family, s.ip, s.ipstr, sizeof(s.ipstr));
	s.helo = strdup(helo);
	s.sender = strdup(sender);
	s.dns = dns_from_conf(c);
	if (s.helo == NULL || s.sender == NULL || s.dns == NULL) {
		fprintf(stderr, "spf-milter: -q: %s\n", s.dns == NULL ?
		    "cannot set up the DNS resolver" : "out of memory");
		rc = SPF_MILTER_EXIT_RUNTIME;
		goto out;
	}
	s.helo_valid = spf_valid_domain(s.helo);
	qt.s = &s;
	s.trace = qtrace_line;
	s.trace_arg = &qt;
	s.phase = PHASE_MAILFROM;
	verify(&s, SPF_ID_MAILFROM, &v);
	printf("%s\n", spf_result_name(v.out.result));
	if (v.out.result == SPF_FAIL)
		printf("explanation: %s\n",
		    hdr_esc(v.out.explanation, e, sizeof(e)));
	if ((rspf = hdr_received_spf(&v, c->hostname)) == NULL) {
		fprintf(stderr, "spf-milter: -q: out of memory\n");
		rc = SPF_MILTER_EXIT_RUNTIME;
		goto out;
	}
	printf("Received-SPF: %s\n", rspf);
	free(rspf);
	print_trace(&qt.t[PHASE_MAILFROM]);
	if (conf_trusted_ip(c, s.family, s.ip)) {
		printf("action: accept, not verified (trusted_networks), no "
		    "header field\n");
	} else if (conf_skip_sender(c, s.sender)) {
		printf("action: accept, not verified (skip_senders), no "
		    "header field\n");
	} else {
		s.mailfrom_given = &v.out;
		procedure(&s);
		print_procedure(&s, &qt, rcpt, nrcpt);
	}
	if (fflush(stdout) != 0)
		rc = SPF_MILTER_EXIT_RUNTIME;
out:
	for (i = 0; i < NPHASES; i++)
		free(qt.t[i].buf);
	if (s.dns != NULL)
		resolver_free(s.dns);
	free(s.helo);
	free(s.sender);
	return rc;
}

/* ---------------------------------------------------------------- main */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: spf-milter [-n] [-c FILE] [-p SOCKET] [-l syslog|stderr] "
	    "[-L LEVEL]\n"
	    "       spf-milter -t [-c FILE] [options]\n"
	    "       spf-milter [-c FILE] -q IP SENDER HELO [RCPT...]\n"
	    "       spf-milter -V | -h\n"
	    "  -c FILE    configuration file (default %s)\n"
	    "  -p SOCKET  listen on SOCKET (unix:PATH, inet:PORT@HOST, "
	    "inet6:PORT@HOST)\n"
	    "  -n         dry run: log what would be done, change nothing\n"
	    "  -l DEST    log to syslog or stderr\n"
	    "  -L LEVEL   log level: error, warn, info, debug\n"
	    "  -t         check the configuration and print it\n"
	    "  -q         query: print the SPF result for IP, SENDER "
	    "(may be \"\"), HELO,\n"
	    "             and what the milter would do (for each RCPT)\n"
	    "  -V         print the version\n"
	    "  -h         this help\n", SPF_MILTER_CONF);
}

static struct smfiDesc milter = {
	.xxfi_name = "spf-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	.xxfi_connect = cb_connect,
	.xxfi_helo = cb_helo,
	.xxfi_envfrom = cb_envfrom,
	.xxfi_envrcpt = cb_envrcpt,
	.xxfi_header = cb_header,
	.xxfi_eom = cb_eom,
	.xxfi_abort = cb_abort,
	.xxfi_close = cb_close,
	.xxfi_negotiate = cb_negotiate,
};

/* A unix socket gets the configured mode and the service user as owner,
 * so that the MTA (in that user's group) can connect. */
static int
socket_permissions(const struct conf *c, const struct passwd *pw)
{
	const char *path;

	if (strncmp(c->socket, "unix:", 5) != 0)
		return 0;
	path = c->socket + 5;
	if (chmod(path, c->socket_mode) != 0) {
		logmsg(LOG_ERR, "chmod %s: %s", path, strerror(errno));
		return -1;
	}
	if (pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) != 0) {
		logmsg(LOG_ERR, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The service user, from /etc/passwd itself: getpwnam() in a static
 * glibc binary would need the NSS modules of the build machine. */
/*
 * TCP_NODELAY on libmilter's listening socket, which accepted connections
 * inherit: the milter protocol is small requests and replies, where Nagle
 * plus delayed ACKs would add latency.  libmilter does not hand out the
 * descriptor, so find the listening TCP socket among the first few.
 */
static void
tcp_nodelay(void)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, on, listening;

	for (fd = 3; fd < 64; fd++) {
		sl = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		    &sl) != 0 || !listening)
			continue;
		sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			continue;
		on = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on)) != 0)
			logmsg(LOG_WARNING, "TCP_NODELAY: %s", strerror(errno));
	}
}

static int
lookup_user(const char *user, struct passwd *out, char **name)
{
	FILE *f;
	struct passwd *pw;
	char *end;
	unsigned long uid;
	int numeric;

	*name = NULL;
	if (user == NULL || *user == '\0')
		return 0;
	uid = strtoul(user, &end, 10);
	numeric = *end == '\0' && end != user;
	if ((f = fopen("/etc/passwd", "r")) == NULL) {
		logmsg(LOG_ERR, "/etc/passwd: %s", strerror(errno));
		return -1;
	}
	while ((pw = fgetpwent(f)) != NULL)
		if (strcmp(pw->pw_name, user) == 0 ||
		    (numeric && pw->pw_uid == (uid_t)uid))
			break;
	if (pw != NULL) {
		*out = *pw;
		*name = strdup(pw->pw_name);
		out->pw_name = *name;
	}
	fclose(f);
	if (pw == NULL || *name == NULL) {
		logmsg(LOG_ERR, "user %s not found in /etc/passwd", user);
		return -1;
	}
	return 0;
}

static int
drop_privileges(const struct passwd *pw)
{
	if (pw == NULL)
		return 0;
	if (geteuid() != 0 && geteuid() == pw->pw_uid)
		return 0;	/* started as that user already */
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		logmsg(LOG_ERR, "cannot switch to user %s: %s", pw->pw_name,
		    strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		logmsg(LOG_ERR, "could switch back to root: refusing to run");
		return -1;
	}
	return 0;
}

/* --------------------------------------------- threads and descriptors */

/*
 * libmilter's threading model.  Built with _FFR_WORKERS_POOL (as Debian's
 * libmilter is), a pool of workers runs the callbacks of all sessions,
 * and its manager hands several sessions that became ready at once to
 * the same idle worker: while that worker waits in one session's DNS
 * lookups, the others wait for it, so under a burst with slow DNS replies
 * come long after 2 x dns_timeout (measured: MAIL FROM replies after 80 s
 * and more with 500 sessions and dns_timeout 10; bench/README).  Without
 * it, upstream's default, every session has a thread of its own and waits
 * only for its own lookups.  Only the pool build has this symbol: the
 * weak reference is NULL without it, in the static and the dynamic link.
 */
extern int mi_pool_controller_init(void) __attribute__((weak));

static int
libmilter_pooled(void)
{
	return mi_pool_controller_init != NULL;
}

/*
 * libmilter waits for a session's commands with poll() or, built without
 * SM_CONF_POLL (upstream's default), with select(), which cannot take a
 * descriptor from FD_SETSIZE (1024) up: such a session is closed by its
 * listener, which then sleeps, and gives up for good after 16 in a row.
 * The pool build always polls, and so does the libmilter built by
 * libmilter.mk and musl.mk (SPF_LIBMILTER_POLL).
 */
static int
libmilter_polls(void)
{
#ifdef SPF_LIBMILTER_POLL
	return 1;
#else
	return libmilter_pooled();
#endif
}

/* Sessions wait in the kernel's queue while the listener is busy;
 * libmilter takes SOMAXCONN by default, which is 128 with musl.  The
 * kernel caps it at net.core.somaxconn. */
#define LISTEN_BACKLOG	4096

/*
 * Out of descriptors or threads.  libmilter's listener calls accept() in
 * a loop and, on EMFILE or ENFILE, at once again: the milter spun at
 * 100 % CPU, and the sessions it had accepted failed to open the sockets
 * of their DNS lookups ("cannot set up a DNS resolver").  When it cannot
 * start a session's thread (RLIMIT_NPROC, vm.max_map_count), it closes
 * the connection, sleeps 1 s, then 2 s, 3 s... with every new connection
 * waiting, and after 16 in a row it stops the milter.  That loop is
 * libmilter's, so accept() is defined here: the linker binds libmilter's
 * call to this one, in the static binary (libc's accept is then not
 * linked in) as in a dynamic one (the executable's symbol comes first).
 * Nothing else in the program calls accept(); libmilter calls it from
 * its one listener thread, so the state below has one writer.
 *
 * A connection is admitted only while there is room for every session
 * open and the new one: descriptors for the DNS sockets of each
 * (session_fds()), and a thread each within RLIMIT_NPROC and two memory
 * mappings each (stack and guard) within vm.max_map_count.  With a
 * thread per connection the sessions are the threads beyond those
 * running before the first one, less those waiting in the thread cache
 * (milter-threads.c), counted from /proc/self/stat only when
 * an upper bound (the last count plus the admissions since) reaches the
 * room: far from the limits this costs nothing.  A connection that
 * cannot be admitted is refused: accepted and closed at once, so the MTA
 * applies milter_default_action now instead of after its timeout, and
 * libmilter's loop goes on to the next.  When the descriptor table is
 * full all the same (EMFILE), a spare descriptor is given up for that.
 * One line is logged when refusing starts, one when it ends.
 *
 * With libmilter's worker pool, sessions are not threads: only the
 * refusal at EMFILE works then, without a reserve for the lookups.  A
 * libmilter that may use select() gets no descriptor from FD_SETSIZE up.
 */
static struct {
	long fd_limit;		/* RLIMIT_NOFILE (soft) */
	long base_fds;		/* descriptors not of sessions, with slack */
	long thread_room;	/* sessions the thread limits allow */
	const char *thread_why;	/* which limit that is */
	long base_threads;	/* threads before the first session; 0: unknown */
	long bound;		/* sessions open at most */
	int stat_fd;		/* /proc/self/stat, or -1 */
	int spare_fd;		/* /dev/null, given up to refuse at EMFILE */
	int counting;		/* a reserve is kept (thread per connection) */
	int refusing;
	unsigned long refused;
} adm = { 0, 0, LONG_MAX, "", 0, 0, -1, -1, 0, 0, 0 };

/* Descriptors opened later by the rest of the program (syslog, a reload
 * reading the file, libmilter's own) */
#define FDS_SLACK	8
/* Mappings besides the threads' (the program, its heap, malloc's) */
#define MAPS_SLACK	256

/* Raise the soft descriptor limit to the hard one, and say what it is. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		logmsg(LOG_WARNING, "getrlimit(RLIMIT_NOFILE): %s",
		    strerror(errno));
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur != rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			logmsg(LOG_WARNING, "cannot raise the descriptor limit "
			    "from %llu to %llu: %s", (unsigned long long)was,
			    (unsigned long long)rl.rlim_max, strerror(errno));
			rl.rlim_cur = was;
		}
	}
	if (rl.rlim_cur != was)
		logmsg(LOG_INFO, "descriptor limit %llu (raised from %llu)",
		    (unsigned long long)rl.rlim_cur, (unsigned long long)was);
	else
		logmsg(LOG_INFO, "descriptor limit %llu",
		    (unsigned long long)rl.rlim_cur);
	adm.fd_limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX ?
	    INT_MAX : (long)rl.rlim_cur;
}

/* Field 20 of /proc/self/stat: the threads of the process; -1 unknown. */
static long
count_threads(void)
{
	char buf[1024], *p;
	ssize_t n;
	int field;

	if (adm.stat_fd < 0 ||
	    (n = pread(adm.stat_fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	/* the name in parentheses may hold anything: skip to its end */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (field = 2; field < 20 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	return p != NULL ? strtol(p + 1, NULL, 10) : -1;
}

/* Entries of a /proc directory, or lines of a /proc file; -1 unknown. */
static long
count_proc(const char *path, int dir)
{
	char buf[4096];
	ssize_t got, i;
	long n = 0;
	int fd;

	if (dir) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (d == NULL)
			return -1;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		return n - 1;	/* the directory's own descriptor */
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return got < 0 ? -1 : n;
}

/* The number a /proc/sys file holds; -1 unknown. */
static long
proc_number(const char *path)
{
	char buf[32];
	ssize_t got;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	return strtol(buf, NULL, 10);
}

/* Sessions the thread limits leave room for: RLIMIT_NPROC counts the
 * user's threads (not enforced for root), vm.max_map_count two mappings
 * per thread. */
static void
thread_limits(void)
{
	struct rlimit rl;
	long maps, room;

	if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < LONG_MAX) {
		adm.thread_room = (long)rl.rlim_cur;
		adm.thread_why = "RLIMIT_NPROC";
	}
	if ((maps = proc_number("/proc/sys/vm/max_map_count")) > 0 &&
	    (room = (maps - count_proc("/proc/self/maps", 0) - MAPS_SLACK) /
	    2) < adm.thread_room) {
		adm.thread_room = room;
		adm.thread_why = "vm.max_map_count";
	}
}

/* Before smfi_main, after the switch to the user: what is open now is
 * not sessions'. */
static void
admission_setup(void)
{
	long n;

	adm.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	adm.stat_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	n = count_proc("/proc/self/fd", 1);
	adm.base_fds = (n > 0 ? n : 16) + FDS_SLACK;
	thread_limits();
	adm.counting = !libmilter_pooled() && adm.stat_fd >= 0 &&
	    adm.fd_limit > 0;
	if (!adm.counting)
		logmsg(LOG_INFO, "no descriptors are kept in reserve for the "
		    "DNS lookups of open sessions (%s)", libmilter_pooled() ?
		    "libmilter's worker pool" : adm.stat_fd < 0 ?
		    "no /proc/self/stat" : "descriptor limit unknown");
}

/* The descriptors one session may hold: its connection, one UDP socket
 * per nameserver (dns.c opens one per configured server; one for the
 * system's), one TCP socket for an answer too long for UDP. */
static long
session_fds(void)
{
	size_t n;

	pthread_mutex_lock(&conf_lock);
	n = conf_current != NULL ? conf_current->ndns_servers : 0;
	pthread_mutex_unlock(&conf_lock);
	return 2 + (long)(n > 0 ? n : 1);
}

/* Sessions there is room for; *WHY says which limit sets it. */
static long
session_room(char *why, size_t len)
{
	long k = session_fds(), room = (adm.fd_limit - adm.base_fds) / k;
	long threads = adm.thread_room - adm.base_threads;

	snprintf(why, len, "descriptors: limit %ld, %ld a session", adm.fd_limit,
	    k);
	if (threads < room) {
		room = threads;
		snprintf(why, len, "threads: %s", adm.thread_why);
	}
	return room;
}

/* May the connection just accepted be served?  0: WHY says why not. */
static int
admit_session(char *why, size_t len)
{
	long room, threads;

	if (!adm.counting)
		return 1;
	room = session_room(why, len);
	if (adm.bound < room) {
		adm.bound++;
		return 1;
	}
	/* near the room: count the sessions (the accepted one has no
	 * thread yet; threads waiting in the cache serve none, and the
	 * next session takes one of them instead of a new thread) */
	if ((threads = count_threads()) < 0)
		return 1;
	adm.bound = threads - adm.base_threads;
	if (thread_cache_idle != NULL)
		adm.bound -= (long)thread_cache_idle();
	if (adm.bound < 0)
		adm.bound = 0;
	if (adm.bound < room) {
		adm.bound++;
		return 1;
	}
	return 0;
}

static void
refusing(const char *what)
{
	adm.refused++;
	if (adm.refusing)
		return;
	adm.refusing = 1;
	logmsg(LOG_WARNING, "out of %s: refusing new connections until "
	    "sessions end (the MTA applies its milter_default_action to "
	    "them)", what);
}

static void
admitting(void)
{
	if (!adm.refusing)
		return;
	adm.refusing = 0;
	logmsg(LOG_NOTICE, "room again: accepting connections; %lu refused "
	    "meanwhile", adm.refused);
	adm.refused = 0;
}

/* Wait a little instead of spinning while nothing can be accepted. */
static void
accept_pause(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

int
accept(int lfd, struct sockaddr *sa, socklen_t *salen)
{
	char why[128], what[192];
	int fd, err;

	if (adm.base_threads == 0 && adm.counting)
		adm.base_threads = count_threads();
	fd = accept4(lfd, sa, salen, SOCK_CLOEXEC);
	if (fd >= 0) {
		if (fd >= FD_SETSIZE && !libmilter_polls()) {
			snprintf(what, sizeof(what), "descriptors (%d, and "
			    "libmilter may use select())", fd);
		} else if (admit_session(why, sizeof(why))) {
			admitting();
			return fd;
		} else {
			snprintf(what, sizeof(what), "%s (%ld sessions open)",
			    why, adm.bound);
		}
		close(fd);
		refusing(what);
		errno = ECONNABORTED;
		return -1;
	}
	err = errno;
	if (err == EMFILE || err == ENFILE) {
		/* refuse one with the spare, so the MTA is not left waiting */
		if (adm.spare_fd >= 0) {
			close(adm.spare_fd);
			if ((fd = accept4(lfd, sa, salen, SOCK_CLOEXEC)) >= 0)
				close(fd);
			adm.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		}
		snprintf(what, sizeof(what), "descriptors (%s)", strerror(err));
		refusing(what);
		if (fd < 0 || adm.spare_fd < 0)
			accept_pause();
		errno = fd >= 0 ? ECONNABORTED : err;
		return -1;
	}
	if (err == ENOBUFS || err == ENOMEM)
		accept_pause();
	errno = err;
	return -1;
}

static int
start_threads(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	sigset_t set;
	int err;

	/* A client or nameserver that hangs up must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	/* Before any thread: every thread inherits the mask, so only the
	 * sigwait threads ever see these signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if ((err = pthread_sigmask(SIG_BLOCK, &set, NULL)) != 0) {
		logmsg(LOG_ERR, "pthread_sigmask: %s", strerror(err));
		return -1;
	}
#ifdef M_ARENA_MAX
	/* glibc gives busy threads arenas of their own, each keeping freed
	 * memory; one arena keeps the peak near what is in use. */
	mallopt(M_ARENA_MAX, 1);
#endif
	if (THREAD_STACK > 0 && pthread_attr_init(&attr) == 0) {
		/* libmilter's workers inherit a small stack. */
		if (pthread_attr_setstacksize(&attr, THREAD_STACK) == 0)
			pthread_setattr_default_np(&attr);
		pthread_attr_destroy(&attr);
	}
	if ((err = pthread_create(&tid, NULL, signal_thread, NULL)) != 0) {
		logmsg(LOG_ERR, "cannot start the signal thread: %s",
		    strerror(err));
		return -1;
	}
	pthread_detach(tid);
	return 0;
}

static int listen_and_serve(const struct conf *, const struct passwd *);

/* C is main's own reference: a reload may replace conf_current at any
 * time once the signal thread runs. */
static int
run_milter(const struct conf *c)
{
	struct passwd pwbuf, *pw = NULL;
	char *user = NULL;
	int rc;

	log_configure(c);
	raise_fd_limit();
	if (c->dns_cache_size > 0 &&
	    (dns_shared_cache = resolver_cache_new(c->dns_cache_size,
	    c->dns_cache_max_bytes)) == NULL)
		logmsg(LOG_WARNING, "no DNS answer cache: out of memory");
	if (start_threads() != 0)
		return SPF_MILTER_EXIT_RUNTIME;
	if (lookup_user(c->user, &pwbuf, &user) != 0)
		return SPF_MILTER_EXIT_RUNTIME;
	if (user != NULL)
		pw = &pwbuf;
	rc = listen_and_serve(c, pw);
	free(user);
	return rc;
}

/*
 * Make the path of a unix socket free for us, or say why it is not.
 * libmilter's smfi_opensocket(1) unlinks whatever is there, so a second
 * instance started by mistake would take the live socket of the first
 * away.  A socket something still listens on is refused; a socket
 * nobody listens on (left by a crash) is removed; anything else at the
 * path is named and left alone.  0: free; -1: refused (logged).
 */
static int
claim_unix_socket(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		logmsg(LOG_ERR, "socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		logmsg(LOG_ERR, "socket %s: the path is %s, not a socket; "
		    "remove it or choose another socket", path,
		    conf_file_kind(st.st_mode));
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		logmsg(LOG_ERR, "socket %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		logmsg(LOG_ERR, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0 || errno == EAGAIN) {
		/* EAGAIN: a listener whose backlog is full is alive too. */
		logmsg(LOG_ERR, "socket %s: another process is listening on "
		    "it (a second spf-milter?); not taking it over", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		logmsg(LOG_ERR, "socket %s: cannot tell whether it is in use: "
		    "%s", path, strerror(errno));
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		logmsg(LOG_ERR, "socket %s: cannot remove the stale socket: "
		    "%s", path, strerror(errno));
		return -1;
	}
	logmsg(LOG_INFO, "socket %s: removed a stale socket nobody listened "
	    "on", path);
	return 0;
}

static int
listen_and_serve(const struct conf *c, const struct passwd *pw)
{
	char e[512];

	if (strncmp(c->socket, "unix:", 5) == 0 &&
	    claim_unix_socket(c->socket + 5) != 0)
		return SPF_MILTER_EXIT_RUNTIME;
	if (smfi_setconn(c->socket) != MI_SUCCESS ||
	    smfi_register(milter) != MI_SUCCESS) {
		logmsg(LOG_ERR, "libmilter refused socket %s",
		    hdr_esc(c->socket, e, sizeof(e)));
		return SPF_MILTER_EXIT_RUNTIME;
	}
	if (smfi_setbacklog(LISTEN_BACKLOG) != MI_SUCCESS)
		logmsg(LOG_WARNING, "libmilter refused a listen backlog of %d",
		    LISTEN_BACKLOG);
	/* 0: never unlink; claim_unix_socket() cleared the path. */
	if (smfi_opensocket(0) != MI_SUCCESS) {
		logmsg(LOG_ERR, "cannot open socket %s",
		    hdr_esc(c->socket, e, sizeof(e)));
		return SPF_MILTER_EXIT_RUNTIME;
	}
	tcp_nodelay();
	if (socket_permissions(c, pw) != 0 ||
	    drop_privileges(pw) != 0)
		return SPF_MILTER_EXIT_RUNTIME;
	admission_setup();
	if (libmilter_pooled())
		logmsg(LOG_WARNING, "libmilter is built with a worker pool "
		    "(_FFR_WORKERS_POOL): when many sessions wait for DNS at "
		    "once, replies can come long after 2 x dns_timeout and the "
		    "MTA's milter timeout; build spf-milter with a libmilter "
		    "without it, a thread per connection (README: make "
		    "MILTER_SRC=DIR)");
	logmsg(LOG_INFO, "spf-milter %s listening on %s%s", SPF_MILTER_VERSION,
	    hdr_esc(c->socket, e, sizeof(e)),
	    c->dry_run ? " (dry run)" : "");
	starting = 0;
	if (smfi_main() != MI_SUCCESS) {
		logmsg(LOG_ERR, "libmilter stopped with an error");
		return SPF_MILTER_EXIT_RUNTIME;
	}
	logmsg(LOG_INFO, "spf-milter stopped");
	return SPF_MILTER_EXIT_OK;
}

static int
add_override(const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < noverrides; i++)
		if (strcmp(overrides[i].key, key) == 0)
			break;
	if (i == sizeof(overrides) / sizeof(overrides[0]))
		return -1;
	overrides[i].key = key;
	overrides[i].value = value;
	if (i == noverrides)
		noverrides++;
	return 0;
}

int
main(int argc, char **argv)
{
	int ch, test = 0, q = 0, explicit_conf = 0, rc;
	struct conf *c;
	const char *path;

	while ((ch = getopt(argc, argv, "+c:p:nl:L:tqVh")) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			explicit_conf = 1;
			break;
		case 'p':
			add_override("socket", optarg);
			break;
		case 'n':
			add_override("dry_run", "yes");
			break;
		case 'l':
			add_override("log_destination", optarg);
			break;
		case 'L':
			add_override("log_level", optarg);
			break;
		case 't':
			test = 1;
			break;
		case 'q':
			q = 1;
			break;
		case 'V':
			printf("spf-milter %s\n", SPF_MILTER_VERSION);
			return SPF_MILTER_EXIT_OK;
		case 'h':
			usage(stdout);
			return SPF_MILTER_EXIT_OK;
		default:
			usage(stderr);
			return SPF_MILTER_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (q && argc < 3) {
		fprintf(stderr, "spf-milter: -q needs three arguments: IP "
		    "SENDER HELO (SENDER may be \"\"), then any RCPT\n");
		return SPF_MILTER_EXIT_USAGE;
	}
	if ((!q && argc != 0) || (q && test)) {
		usage(stderr);
		return SPF_MILTER_EXIT_USAGE;
	}
	/* The query tool works without a file: defaults then. */
	path = conf_path;
	if (q && !explicit_conf && access(path, F_OK) != 0)
		path = NULL;
	if ((c = conf_load_overrides(path, overrides, noverrides, stderr)) == NULL)
		return SPF_MILTER_EXIT_CONFIG;
	if (q) {
		rc = query(c, argv[0], argv[1], argv[2], argv + 3, argc - 3);
		conf_unref(c);
		return rc;
	}
	if (conf_require_socket(c, stderr) != 0) {
		conf_unref(c);
		return SPF_MILTER_EXIT_CONFIG;
	}
	if (test) {
		conf_print(c, stdout);
		conf_unref(c);
		return fflush(stdout) == 0 ? SPF_MILTER_EXIT_OK :
		    SPF_MILTER_EXIT_RUNTIME;
	}
	conf_current = conf_ref(c);
	rc = run_milter(c);
	pthread_mutex_lock(&conf_lock);
	conf_unref(conf_current);
	conf_current = NULL;
	pthread_mutex_unlock(&conf_lock);
	conf_unref(c);
	return rc;
}
