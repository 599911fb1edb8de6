/*
 * mload.c - a load generator for milters.
 *
 * It plays the MTA's side of the milter protocol (version 6) and runs
 * complete SMTP transactions against a milter socket: negotiate, connect,
 * HELO, MAIL FROM, RCPT, DATA, headers, end of header, body, end of
 * message, quit.  Steps the milter asked not to get are skipped and replies
 * it asked not to send are not waited for.  Each transaction takes its
 * client address, HELO name and sender from a case file and the reply it
 * got is checked against the kind the case expects, so a misconfigured
 * run shows up as errors instead of looking fast.
 *
 * Commands are buffered until a reply is due, the way Postfix flushes its
 * milter stream only before it reads.
 *
 * Output: a human readable summary on stderr and one line of key=value
 * pairs on stdout.  Exit status 0 when there were no errors.
 *
 * Burst mode (-B N) plays N sessions that arrive at once, the way a
 * flood of SMTP clients reaches the MTA: N threads wait at a barrier,
 * then each connects, negotiates and sends its connect and HELO steps;
 * when all have, all send MAIL FROM at once, and each quits after the
 * MAIL FROM reply.  It measures, per session, how long the negotiation
 * reply took from the start of connect() and how long the MAIL FROM
 * reply took from the moment the command was sent: max, p99 and p50 of
 * each.  With -i CONNS as well, CONNS idle sessions are opened
 * first and held open through the burst.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#define MAX_CASES	4096
#define MAX_COUNT	10000000L
#define MAX_CONC	1024
#define MAX_IDLE	8192
#define MAX_BURST	8192
#define MAX_FRAME	(1024 * 1024 + 16)
#define OUTBUF_SIZE	(256 * 1024)
#define INBUF_SIZE	8192

/* Every protocol step we know how to skip or not to wait for. */
#define OFFERED_PROTO	(SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | \
	SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | \
	SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP | \
	SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | \
	SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY | \
	SMFIP_HDR_LEADSPC)
#define OFFERED_ACTIONS	(SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | \
	SMFIF_DELRCPT | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_CHGFROM | \
	SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST)

enum kind {
	K_CONTINUE, K_ACCEPT, K_REJECT, K_TEMPFAIL, K_DISCARD, K_OTHER, K_N
};
static const char *const kind_names[K_N] = {
	"continue", "accept", "reject", "tempfail", "discard", "other"
};

/* What a case expects: one kind, or "pass" (continue or accept), or any. */
enum expect { E_KIND, E_PASS, E_ANY };

struct bcase {
	char ip[64];
	int family;
	char helo[256];
	char sender[320];
	enum expect expect;
	enum kind kind;
};

struct options {
	const char *socket;
	const char *cases;
	const char *label;
	long count;
	int conc;
	double tmax;
	int reply_timeout_ms;
	int nodelay;
	int body_bytes;
	int quiet;
	const char *expect_all;	/* -E: one expectation for every case */
	int idle;		/* -i: connections to hold open idle */
	int burst;		/* -B: sessions that arrive at once */
	int late_ms;		/* -W: MAIL FROM replies slower count as late */
	int reply_timeout_set;
};

struct target {
	int family;		/* AF_UNIX or AF_INET */
	struct sockaddr_un un;
	struct sockaddr_in in;
};

struct stats {
	long tx;		/* transactions that ran to their end */
	long kinds[K_N];
	long io_errors;		/* connect, read, write, timeout, protocol */
	long mismatches;	/* reply kind not the one the case expects */
	long headers;		/* header fields added or inserted */
	long mismatch_shown;
};

/* The milter's answer to one stage. */
struct reply {
	unsigned char cmd;
	uint32_t len;
	unsigned char *data;
};

struct conn {
	int fd;
	uint32_t proto;		/* flags the milter negotiated */
	unsigned char out[OUTBUF_SIZE];
	size_t outlen;
	unsigned char in[INBUF_SIZE];
	size_t inpos, inlen;
	unsigned char *frame;	/* MAX_FRAME bytes */
	struct timespec hard_deadline;
	int reply_timeout_ms;
};

struct shared {
	const struct options *opt;
	const struct target *tgt;
	const struct bcase *cases;
	int ncases;
	long next;		/* next transaction number, atomic */
	struct timespec start, deadline, hard_deadline;
	uint32_t *lat_us;	/* per transaction; UINT32_MAX: none */
	pthread_mutex_t lock;
	struct stats total;
	uint32_t proto_seen;
	char body[65536];
	int bodylen;
};

/* ------------------------------------------------------------- utilities */

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static double
ts_sec(const struct timespec *t)
{
	return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static double
now_sec(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ts_sec(&t);
}

static struct timespec
ts_add(struct timespec t, double secs)
{
	long whole = (long)secs;

	t.tv_sec += whole;
	t.tv_nsec += (long)((secs - (double)whole) * 1e9);
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static long
parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("bad %s '%s' (want %ld..%ld)", what, s, lo, hi);
	return v;
}

/* ---------------------------------------------------------------- cases */

static int
parse_expect(const char *w, struct bcase *c)
{
	int k;

	c->expect = E_KIND;
	if (strcmp(w, "pass") == 0) {
		c->expect = E_PASS;
		return 0;
	}
	if (strcmp(w, "any") == 0) {
		c->expect = E_ANY;
		return 0;
	}
	for (k = 0; k < K_N; k++) {
		if (strcmp(w, kind_names[k]) == 0) {
			c->kind = (enum kind)k;
			return 0;
		}
	}
	return -1;
}

static int
parse_case(char *line, struct bcase *c)
{
	char ip[64], helo[256], sender[320], exp[32];
	unsigned char buf[16];

	if (sscanf(line, "%63s %255s %319s %31s", ip, helo, sender, exp) != 4)
		return -1;
	if (inet_pton(AF_INET, ip, buf) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, buf) == 1)
		c->family = AF_INET6;
	else
		return -1;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	snprintf(c->helo, sizeof(c->helo), "%s", helo);
	/* "<>" is the null sender; the brackets are added when sending. */
	snprintf(c->sender, sizeof(c->sender), "%s",
	    strcmp(sender, "<>") == 0 ? "" : sender);
	return parse_expect(exp, c);
}

static int
load_cases(const char *path, struct bcase *cases)
{
	FILE *f;
	char line[1024];
	int n = 0, lineno = 0;
	char *p;

	if ((f = fopen(path, "r")) == NULL)
		die("%s: %s", path, strerror(errno));
	while (n < MAX_CASES && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || *p == '\0')
			continue;
		if (parse_case(p, &cases[n]) != 0)
			die("%s:%d: want: IP HELO SENDER EXPECT", path, lineno);
		n++;
	}
	if (ferror(f))
		die("%s: read error", path);
	fclose(f);
	if (n == 0)
		die("%s: no cases", path);
	return n;
}

/* --------------------------------------------------------------- target */

static int
is_loopback4(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

static void
parse_inet(const char *spec, struct target *t)
{
	char port[16];
	const char *at = strchr(spec, '@');
	const char *host = at != NULL ? at + 1 : "127.0.0.1";
	size_t plen = at != NULL ? (size_t)(at - spec) : strlen(spec);

	if (plen == 0 || plen >= sizeof(port))
		die("bad inet socket '%s'", spec);
	memcpy(port, spec, plen);
	port[plen] = '\0';
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	t->family = AF_INET;
	t->in.sin_family = AF_INET;
	t->in.sin_port = htons((uint16_t)parse_long(port, 1, 65535, "port"));
	if (inet_pton(AF_INET, host, &t->in.sin_addr) != 1 ||
	    !is_loopback4(&t->in.sin_addr))
		die("'%s': only IPv4 loopback addresses are allowed", host);
}

static void
parse_target(const char *spec, struct target *t)
{
	memset(t, 0, sizeof(*t));
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		const char *path = strchr(spec, ':') + 1;

		if (strlen(path) >= sizeof(t->un.sun_path))
			die("socket path too long");
		t->family = AF_UNIX;
		t->un.sun_family = AF_UNIX;
		strcpy(t->un.sun_path, path);
	} else if (strncmp(spec, "inet:", 5) == 0) {
		parse_inet(spec + 5, t);
	} else {
		die("socket must be unix:PATH or inet:PORT@127.0.0.1");
	}
}

static int
set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	return 0;
}

static int
open_target(const struct target *t, const struct options *o)
{
	int fd, one = 1, rc;

	fd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (t->family == AF_UNIX)
		rc = connect(fd, (const struct sockaddr *)&t->un, sizeof(t->un));
	else
		rc = connect(fd, (const struct sockaddr *)&t->in, sizeof(t->in));
	if (rc == 0 && t->family == AF_INET && o->nodelay)
		rc = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (rc == 0)
		rc = set_timeouts(fd, o->reply_timeout_ms);
	if (rc != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------- framing */

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int
flush_out(struct conn *c)
{
	size_t off = 0;
	ssize_t n;

	while (off < c->outlen) {
		n = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	c->outlen = 0;
	return 0;
}

/* Queue one command; data is LEN bytes (may contain NULs). */
static int
queue_cmd(struct conn *c, unsigned char cmd, const void *data, size_t len)
{
	if (len > MILTER_MAX_DATA_SIZE)
		return -1;
	if (c->outlen + 5 + len > sizeof(c->out) && flush_out(c) != 0)
		return -1;
	put32(c->out + c->outlen, (uint32_t)(len + 1));
	c->out[c->outlen + 4] = cmd;
	if (len > 0)
		memcpy(c->out + c->outlen + 5, data, len);
	c->outlen += 5 + len;
	return 0;
}

static int
wait_readable(struct conn *c)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	struct timespec now;
	double left;
	int ms, rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = ts_sec(&c->hard_deadline) - ts_sec(&now);
	ms = left <= 0 ? 0 : left * 1000 < c->reply_timeout_ms ?
	    (int)(left * 1000) : c->reply_timeout_ms;
	do
		rc = poll(&pfd, 1, ms);
	while (rc < 0 && errno == EINTR);
	return rc == 1 ? 0 : -1;
}

static int
read_bytes(struct conn *c, unsigned char *dst, size_t len)
{
	size_t take;
	ssize_t n;

	while (len > 0) {
		if (c->inpos == c->inlen) {
			if (wait_readable(c) != 0)
				return -1;
			n = recv(c->fd, c->in, sizeof(c->in), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			c->inpos = 0;
			c->inlen = (size_t)n;
		}
		take = c->inlen - c->inpos < len ? c->inlen - c->inpos : len;
		memcpy(dst, c->in + c->inpos, take);
		c->inpos += take;
		dst += take;
		len -= take;
	}
	return 0;
}

/* Flush what is queued, then read one reply frame. */
static int
read_reply(struct conn *c, struct reply *r)
{
	unsigned char hdr[5];
	uint32_t len;

	if (c->outlen > 0 && flush_out(c) != 0)
		return -1;
	if (read_bytes(c, hdr, sizeof(hdr)) != 0)
		return -1;
	len = get32(hdr);
	if (len == 0 || len > MAX_FRAME)
		return -1;
	r->cmd = hdr[4];
	r->len = len - 1;
	r->data = c->frame;
	if (read_bytes(c, c->frame, r->len) != 0)
		return -1;
	c->frame[r->len] = '\0';
	return 0;
}

/* ------------------------------------------------------- the transaction */

/* Per transaction state: the case, and what happened so far. */
struct tx {
	const struct bcase *bc;
	enum kind kind;
	int done;		/* a final reply ended the message */
	int skip_body;
	long headers;
};

static int
classify_replycode(const struct reply *r, struct tx *t)
{
	if (r->len < 1)
		return -1;
	if (r->data[0] == '5')
		t->kind = K_REJECT;
	else if (r->data[0] == '4')
		t->kind = K_TEMPFAIL;
	else
		t->kind = K_OTHER;
	t->done = 1;
	return 0;
}

/*
 * Apply a reply to the transaction: 1 when it was a final answer for the
 * stage, 0 when more is to come (progress, modifications), -1 on nonsense.
 */
static int
apply_reply(const struct reply *r, struct tx *t, int eom)
{
	switch (r->cmd) {
	case SMFIR_CONTINUE:
		t->kind = K_CONTINUE;
		return 1;
	case SMFIR_SKIP:
		t->skip_body = 1;
		t->kind = K_CONTINUE;
		return 1;
	case SMFIR_ACCEPT:
		t->kind = K_ACCEPT;
		break;
	case SMFIR_REJECT:
		t->kind = K_REJECT;
		break;
	case SMFIR_TEMPFAIL:
		t->kind = K_TEMPFAIL;
		break;
	case SMFIR_DISCARD:
		t->kind = K_DISCARD;
		break;
	case SMFIR_REPLYCODE:
		return classify_replycode(r, t) == 0 ? 1 : -1;
	case SMFIR_CONN_FAIL:
	case SMFIR_SHUTDOWN:
		t->kind = K_OTHER;
		break;
	case SMFIR_PROGRESS:
		return 0;
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER:
		t->headers++;
		/* FALLTHROUGH */
	case SMFIR_CHGHEADER:
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
	case SMFIR_REPLBODY:
	case SMFIR_QUARANTINE:
		return eom ? 0 : -1;
	default:
		return -1;
	}
	t->done = 1;
	return 1;
}

/* Wait for the stage's answer unless the milter negotiated no reply. */
static int
await(struct conn *c, struct tx *t, uint32_t nr_flag, int eom)
{
	struct reply r;
	int rc;

	if (nr_flag != 0 && (c->proto & nr_flag) != 0)
		return 0;
	do {
		if (read_reply(c, &r) != 0)
			return -1;
		rc = apply_reply(&r, t, eom);
	} while (rc == 0);
	return rc < 0 ? -1 : 0;
}

static int
negotiate(struct conn *c)
{
	unsigned char opt[12];
	struct reply r;

	put32(opt, SMFI_PROT_VERSION);
	put32(opt + 4, OFFERED_ACTIONS);
	put32(opt + 8, OFFERED_PROTO);
	if (queue_cmd(c, SMFIC_OPTNEG, opt, sizeof(opt)) != 0 ||
	    read_reply(c, &r) != 0)
		return -1;
	if (r.cmd != SMFIC_OPTNEG || r.len < 12)
		return -1;
	c->proto = get32(r.data + 8);
	if ((c->proto & ~(uint32_t)OFFERED_PROTO) != 0)
		return -1;
	return 0;
}

/* Append NUL-terminated S to BUF at *LEN, bounded by CAP. */
static int
add_str(unsigned char *buf, size_t *len, size_t cap, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*len + n > cap)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

/* One SMFIC_MACRO command: stage letter, then name/value pairs. */
static int
send_macros(struct conn *c, char stage, const char *const *nv, int n)
{
	unsigned char buf[1024];
	size_t len = 1;
	int i;

	buf[0] = (unsigned char)stage;
	for (i = 0; i < n; i++)
		if (add_str(buf, &len, sizeof(buf), nv[i]) != 0)
			return -1;
	return queue_cmd(c, SMFIC_MACRO, buf, len);
}

/* SMFIC_ + NUL-terminated strings. */
static int
send_strs(struct conn *c, unsigned char cmd, const char *const *s, int n)
{
	unsigned char buf[1024];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		if (add_str(buf, &len, sizeof(buf), s[i]) != 0)
			return -1;
	return queue_cmd(c, cmd, buf, len);
}

static int
step_connect(struct conn *c, struct tx *t, long txno)
{
	const char *mac[] = { "j", "mx.bench.test", "{daemon_name}", "mload",
	    "v", "mload 1", "_", "unknown [client]" };
	unsigned char buf[512];
	size_t len = 0;
	uint16_t port = (uint16_t)(1024 + txno % 60000);

	if ((c->proto & SMFIP_NOCONNECT) != 0)
		return 0;
	if (send_macros(c, SMFIC_CONNECT, mac, 8) != 0 ||
	    add_str(buf, &len, sizeof(buf), "unknown") != 0)
		return -1;
	buf[len++] = t->bc->family == AF_INET ? SMFIA_INET : SMFIA_INET6;
	buf[len++] = (unsigned char)(port >> 8);
	buf[len++] = (unsigned char)port;
	if (add_str(buf, &len, sizeof(buf), t->bc->ip) != 0 ||
	    queue_cmd(c, SMFIC_CONNECT, buf, len) != 0)
		return -1;
	return await(c, t, SMFIP_NR_CONN, 0);
}

static int
step_helo(struct conn *c, struct tx *t)
{
	const char *s[] = { t->bc->helo };

	if ((c->proto & SMFIP_NOHELO) != 0)
		return 0;
	if (send_strs(c, SMFIC_HELO, s, 1) != 0)
		return -1;
	return await(c, t, SMFIP_NR_HELO, 0);
}

static int
step_mail(struct conn *c, struct tx *t)
{
	char addr[330];
	const char *mac[] = { "{mail_addr}", t->bc->sender,
	    "{mail_mailer}", "smtp" };
	const char *s[] = { addr, "SIZE=1000" };

	if ((c->proto & SMFIP_NOMAIL) != 0)
		return 0;
	snprintf(addr, sizeof(addr), "<%s>", t->bc->sender);
	if (send_macros(c, SMFIC_MAIL, mac, 4) != 0 ||
	    send_strs(c, SMFIC_MAIL, s, 2) != 0)
		return -1;
	return await(c, t, SMFIP_NR_MAIL, 0);
}

static int
step_rcpt(struct conn *c, struct tx *t)
{
	const char *mac[] = { "{rcpt_addr}", "postmaster@bench.test",
	    "{rcpt_mailer}", "local" };
	const char *s[] = { "<postmaster@bench.test>" };

	if ((c->proto & SMFIP_NORCPT) != 0)
		return 0;
	if (send_macros(c, SMFIC_RCPT, mac, 4) != 0 ||
	    send_strs(c, SMFIC_RCPT, s, 1) != 0)
		return -1;
	return await(c, t, SMFIP_NR_RCPT, 0);
}

static int
step_data(struct conn *c, struct tx *t)
{
	if ((c->proto & SMFIP_NODATA) != 0)
		return 0;
	if (queue_cmd(c, SMFIC_DATA, NULL, 0) != 0)
		return -1;
	return await(c, t, SMFIP_NR_DATA, 0);
}

static int
step_headers(struct conn *c, struct tx *t, long txno)
{
	char from[340], msgid[80];
	const char *sp = (c->proto & SMFIP_HDR_LEADSPC) != 0 ? " " : "";
	const char *h[5][2] = {
		{ "From", from }, { "To", "postmaster@bench.test" },
		{ "Subject", "benchmark message" },
		{ "Date", "Tue, 24 Nov 2026 04:00:00 +0000" },
		{ "Message-ID", msgid } };
	char val[400];
	int i;

	if ((c->proto & SMFIP_NOHDRS) != 0)
		return 0;
	snprintf(from, sizeof(from), "<%s>", t->bc->sender);
	snprintf(msgid, sizeof(msgid), "<%ld@mload.bench.test>", txno);
	for (i = 0; i < 5 && !t->done; i++) {
		const char *s[] = { h[i][0], val };

		snprintf(val, sizeof(val), "%s%s", sp, h[i][1]);
		if (send_strs(c, SMFIC_HEADER, s, 2) != 0 ||
		    await(c, t, SMFIP_NR_HDR, 0) != 0)
			return -1;
	}
	return 0;
}

static int
step_eoh(struct conn *c, struct tx *t)
{
	if ((c->proto & SMFIP_NOEOH) != 0)
		return 0;
	if (queue_cmd(c, SMFIC_EOH, NULL, 0) != 0)
		return -1;
	return await(c, t, SMFIP_NR_EOH, 0);
}

static int
step_body(struct conn *c, struct tx *t, const char *body, int len)
{
	if ((c->proto & SMFIP_NOBODY) != 0 || len == 0)
		return 0;
	if (queue_cmd(c, SMFIC_BODY, body, (size_t)len) != 0)
		return -1;
	return await(c, t, SMFIP_NR_BODY, 0);
}

static int
step_eom(struct conn *c, struct tx *t, long txno)
{
	char qid[32];
	const char *mac[] = { "i", qid };

	snprintf(qid, sizeof(qid), "B%08lX", txno);
	if (send_macros(c, SMFIC_BODYEOB, mac, 2) != 0 ||
	    queue_cmd(c, SMFIC_BODYEOB, NULL, 0) != 0)
		return -1;
	if (await(c, t, 0, 1) != 0)
		return -1;
	t->done = 1;
	return 0;
}

/* The stages in order; each runs only while no final reply came. */
static int
run_stages(struct conn *c, struct tx *t, long txno, const struct shared *sh)
{
	if (negotiate(c) != 0 || step_connect(c, t, txno) != 0)
		return -1;
	if (!t->done && step_helo(c, t) != 0)
		return -1;
	if (!t->done && step_mail(c, t) != 0)
		return -1;
	if (!t->done && step_rcpt(c, t) != 0)
		return -1;
	if (!t->done && step_data(c, t) != 0)
		return -1;
	if (!t->done && step_headers(c, t, txno) != 0)
		return -1;
	if (!t->done && step_eoh(c, t) != 0)
		return -1;
	if (!t->done && !t->skip_body &&
	    step_body(c, t, sh->body, sh->bodylen) != 0)
		return -1;
	if (!t->done && step_eom(c, t, txno) != 0)
		return -1;
	return 0;
}

static int
expected(const struct tx *t)
{
	switch (t->bc->expect) {
	case E_ANY:
		return 1;
	case E_PASS:
		return t->kind == K_CONTINUE || t->kind == K_ACCEPT;
	default:
		return t->kind == t->bc->kind;
	}
}

static void
note_mismatch(struct shared *sh, struct stats *st, const struct tx *t)
{
	st->mismatches++;
	if (sh->opt->quiet || st->mismatch_shown++ >= 3)
		return;
	fprintf(stderr, "mload: %s %s <%s>: got %s\n", t->bc->ip, t->bc->helo,
	    t->bc->sender, kind_names[t->kind]);
}

/* One whole transaction on its own connection; latency in *US. */
static int
transaction(struct shared *sh, struct conn *c, long txno, struct tx *t,
    uint32_t *us)
{
	double t0 = now_sec();
	int rc;

	c->fd = open_target(sh->tgt, sh->opt);
	if (c->fd < 0)
		return -1;
	c->outlen = c->inpos = c->inlen = 0;
	rc = run_stages(c, t, txno, sh);
	*us = (uint32_t)((now_sec() - t0) * 1e6);
	if (rc == 0 && queue_cmd(c, SMFIC_QUIT, NULL, 0) == 0)
		rc = flush_out(c);
	close(c->fd);
	return rc;
}

static void
count_tx(struct shared *sh, struct stats *st, struct conn *c, long txno)
{
	struct tx t = { &sh->cases[txno % sh->ncases], K_OTHER, 0, 0, 0 };
	uint32_t us = 0;

	if (transaction(sh, c, txno, &t, &us) != 0) {
		st->io_errors++;
		return;
	}
	sh->lat_us[txno] = us;
	st->tx++;
	st->kinds[t.kind]++;
	st->headers += t.headers;
	if (!expected(&t))
		note_mismatch(sh, st, &t);
	if (sh->proto_seen == 0)
		sh->proto_seen = c->proto;
}

static void
merge(struct shared *sh, const struct stats *st)
{
	int k;

	if (pthread_mutex_lock(&sh->lock) != 0)
		die("mutex");
	sh->total.tx += st->tx;
	for (k = 0; k < K_N; k++)
		sh->total.kinds[k] += st->kinds[k];
	sh->total.io_errors += st->io_errors;
	sh->total.mismatches += st->mismatches;
	sh->total.headers += st->headers;
	pthread_mutex_unlock(&sh->lock);
}

static void *
worker(void *arg)
{
	struct shared *sh = arg;
	struct stats st;
	struct conn *c;
	long txno;

	memset(&st, 0, sizeof(st));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->frame = malloc(MAX_FRAME + 1)) == NULL)
		die("out of memory");
	c->hard_deadline = sh->hard_deadline;
	c->reply_timeout_ms = sh->opt->reply_timeout_ms;
	for (;;) {
		if (now_sec() >= ts_sec(&sh->deadline))
			break;
		txno = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
		if (txno >= sh->opt->count)
			break;
		count_tx(sh, &st, c, txno);
	}
	merge(sh, &st);
	free(c->frame);
	free(c);
	return NULL;
}

/* -------------------------------------------------------------- report */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Gather the latencies that were measured, sorted; returns how many. */
static long
sorted_latencies(struct shared *sh, long n)
{
	long i, m = 0;

	for (i = 0; i < n; i++)
		if (sh->lat_us[i] != UINT32_MAX)
			sh->lat_us[m++] = sh->lat_us[i];
	qsort(sh->lat_us, (size_t)m, sizeof(uint32_t), cmp_u32);
	return m;
}

static double
pct_ms(const uint32_t *v, long m, double p)
{
	long i;

	if (m == 0)
		return 0;
	i = (long)(p * (double)(m - 1) + 0.5);
	return v[i] / 1000.0;
}

static void
report(struct shared *sh, double secs)
{
	const struct options *o = sh->opt;
	const struct stats *s = &sh->total;
	long started = sh->next < o->count ? sh->next : o->count;
	long m = sorted_latencies(sh, started);
	double txps = secs > 0 ? s->tx / secs : 0;
	double p50 = pct_ms(sh->lat_us, m, 0.50), p99 = pct_ms(sh->lat_us, m, 0.99);
	double pmax = m > 0 ? sh->lat_us[m - 1] / 1000.0 : 0;
	long errors = s->io_errors + s->mismatches;

	if (!o->quiet) {
		fprintf(stderr, "%s: %ld transactions in %.2f s at concurrency"
		    " %d: %.0f tx/s\n", o->socket, s->tx, secs, o->conc, txps);
		fprintf(stderr, "  latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		    p50, p99, pmax);
		fprintf(stderr, "  replies: continue %ld, accept %ld, reject %ld,"
		    " tempfail %ld, discard %ld, other %ld; headers added %ld\n",
		    s->kinds[K_CONTINUE], s->kinds[K_ACCEPT], s->kinds[K_REJECT],
		    s->kinds[K_TEMPFAIL], s->kinds[K_DISCARD], s->kinds[K_OTHER],
		    s->headers);
		fprintf(stderr, "  errors %ld (io/protocol %ld, wrong answer %ld);"
		    " milter protocol flags 0x%x\n", errors, s->io_errors,
		    s->mismatches, (unsigned)sh->proto_seen);
	}
	printf("label=%s socket=%s conc=%d tx=%ld secs=%.3f txps=%.1f"
	    " p50_ms=%.3f p99_ms=%.3f max_ms=%.3f continue=%ld accept=%ld"
	    " reject=%ld tempfail=%ld discard=%ld other=%ld headers=%ld"
	    " errors=%ld io_errors=%ld mismatches=%ld proto=0x%x\n",
	    o->label, o->socket, o->conc, s->tx, secs, txps, p50, p99, pmax,
	    s->kinds[K_CONTINUE], s->kinds[K_ACCEPT], s->kinds[K_REJECT],
	    s->kinds[K_TEMPFAIL], s->kinds[K_DISCARD], s->kinds[K_OTHER],
	    s->headers, errors, s->io_errors, s->mismatches,
	    (unsigned)sh->proto_seen);
	fflush(stdout);
}

/* ------------------------------------------------------------ idle mode */

/* Open a session and take it up to HELO; the connection stays open. */
static int
idle_open(struct shared *sh, struct conn *c, long n)
{
	struct tx t = { &sh->cases[n % sh->ncases], K_OTHER, 0, 0, 0 };

	c->hard_deadline = sh->hard_deadline;
	c->reply_timeout_ms = sh->opt->reply_timeout_ms;
	if ((c->frame = malloc(MAX_FRAME + 1)) == NULL)
		die("out of memory");
	c->fd = open_target(sh->tgt, sh->opt);
	if (c->fd < 0)
		return -1;
	if (negotiate(c) != 0 || step_connect(c, &t, n) != 0 ||
	    (!t.done && step_helo(c, &t) != 0) || flush_out(c) != 0)
		return -1;
	return 0;
}

static int run_burst(struct shared *, int, int);

/* Hold N sessions open after HELO until the deadline, or through a burst
 * (-B) when one is asked for. */
static int
run_idle(struct shared *sh, int n)
{
	struct conn *c;
	struct timespec ts = { 0, 100000000L };
	int i, open = 0, bad = 0, rc;

	if ((c = calloc((size_t)n, sizeof(*c))) == NULL)
		die("out of memory");
	for (i = 0; i < n; i++) {
		c[i].fd = -1;
		if (idle_open(sh, &c[i], i) == 0)
			open++;
		else
			bad++;
	}
	if (sh->opt->burst > 0) {
		rc = run_burst(sh, open, bad);
	} else {
		while (now_sec() < ts_sec(&sh->deadline))
			nanosleep(&ts, NULL);
		rc = bad == 0 ? 0 : 1;
	}
	for (i = 0; i < n; i++) {
		if (c[i].fd >= 0 && queue_cmd(&c[i], SMFIC_QUIT, NULL, 0) == 0)
			(void)flush_out(&c[i]);
		if (c[i].fd >= 0)
			close(c[i].fd);
		free(c[i].frame);
	}
	free(c);
	if (sh->opt->burst == 0)
		printf("label=%s socket=%s idle_conns=%d errors=%d\n",
		    sh->opt->label, sh->opt->socket, open, bad);
	return rc;
}

/* ----------------------------------------------------------- burst mode */

/* What one session of the burst saw. */
struct burst_result {
	uint32_t neg_us;	/* start of connect() to the negotiation reply */
	uint32_t mail_us;	/* MAIL FROM sent to its reply */
	enum kind kind;		/* the MAIL FROM reply (or an earlier final one) */
	int stage;		/* 0 ok; where it failed: 1 connect, 2 negotiate,
				 * 3 connect/HELO, 4 MAIL FROM */
	int got_mail;		/* a MAIL FROM reply was read */
	int expected;		/* the case's expectation was met */
};

struct burst {
	struct shared *sh;
	pthread_barrier_t go, mail;
	struct burst_result *res;
	int next;		/* session number, atomic */
};

/*
 * One session of the burst.  All sessions connect at once (barrier GO),
 * and, once every one has negotiated and sent its connect and HELO
 * steps, all send MAIL FROM at once (barrier MAIL): that second wave is
 * what queued sessions behind blocked callbacks in libmilter's worker
 * pool.  A session that failed still meets the second barrier.
 */
static void
burst_session(struct burst *b, struct conn *c, int n)
{
	struct shared *sh = b->sh;
	struct burst_result *r = &b->res[n];
	struct tx t = { &sh->cases[n % sh->ncases], K_OTHER, 0, 0, 0 };
	double t0, t1;

	t0 = now_sec();
	c->outlen = c->inpos = c->inlen = 0;
	if ((c->fd = open_target(sh->tgt, sh->opt)) < 0)
		r->stage = 1;
	else if (negotiate(c) != 0)
		r->stage = 2;
	if (r->stage == 0) {
		r->neg_us = (uint32_t)((now_sec() - t0) * 1e6);
		if (step_connect(c, &t, n) != 0 ||
		    (!t.done && step_helo(c, &t) != 0) || flush_out(c) != 0)
			r->stage = 3;
	}
	pthread_barrier_wait(&b->mail);
	if (r->stage == 0 && !t.done && (c->proto & SMFIP_NOMAIL) == 0) {
		t1 = now_sec();
		if (step_mail(c, &t) != 0) {
			r->stage = 4;
		} else if ((c->proto & SMFIP_NR_MAIL) == 0) {
			r->mail_us = (uint32_t)((now_sec() - t1) * 1e6);
			r->got_mail = 1;
		}
	}
	r->kind = t.kind;
	r->expected = expected(&t);
	if (r->stage == 0 && queue_cmd(c, SMFIC_QUIT, NULL, 0) == 0)
		(void)flush_out(c);
	if (r->stage == 0 && sh->proto_seen == 0)
		sh->proto_seen = c->proto;
	if (c->fd >= 0)
		close(c->fd);
}

static void *
burst_thread(void *arg)
{
	struct burst *b = arg;
	struct conn *c;
	int n;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->frame = malloc(MAX_FRAME + 1)) == NULL)
		die("out of memory");
	c->hard_deadline = b->sh->hard_deadline;
	c->reply_timeout_ms = b->sh->opt->reply_timeout_ms;
	n = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&b->go);
	burst_session(b, c, n);
	free(c->frame);
	free(c);
	return NULL;
}

/* max, p99 and p50 in ms of the first M values of V (sorted here) */
static void
burst_pcts(uint32_t *v, long m, double out[3])
{
	qsort(v, (size_t)m, sizeof(uint32_t), cmp_u32);
	out[0] = m > 0 ? v[m - 1] / 1000.0 : 0;
	out[1] = pct_ms(v, m, 0.99);
	out[2] = pct_ms(v, m, 0.50);
}

static int
run_burst(struct shared *sh, int nidle, int idle_bad)
{
	const struct options *o = sh->opt;
	struct burst b;
	pthread_t *tid;
	pthread_attr_t attr;
	uint32_t *neg, *mail;
	long nneg = 0, nmail = 0, kinds[K_N] = { 0 }, failed[5] = { 0 };
	long mismatches = 0, late = 0;
	double negp[3], mailp[3], t0, wall;
	int i, rc;

	memset(&b, 0, sizeof(b));
	b.sh = sh;
	if ((b.res = calloc((size_t)o->burst, sizeof(*b.res))) == NULL ||
	    (tid = calloc((size_t)o->burst, sizeof(*tid))) == NULL ||
	    (neg = calloc((size_t)o->burst, sizeof(*neg))) == NULL ||
	    (mail = calloc((size_t)o->burst, sizeof(*mail))) == NULL)
		die("out of memory");
	if (pthread_barrier_init(&b.go, NULL, (unsigned)o->burst + 1) != 0 ||
	    pthread_barrier_init(&b.mail, NULL, (unsigned)o->burst) != 0 ||
	    pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, 128 * 1024) != 0)
		die("pthread setup");
	for (i = 0; i < o->burst; i++)
		if ((rc = pthread_create(&tid[i], &attr, burst_thread, &b)) != 0)
			die("pthread_create: %s (thread %d)", strerror(rc), i);
	/* every thread is at the barrier: they start together */
	t0 = now_sec();
	pthread_barrier_wait(&b.go);
	for (i = 0; i < o->burst; i++)
		pthread_join(tid[i], NULL);
	wall = now_sec() - t0;
	for (i = 0; i < o->burst; i++) {
		struct burst_result *r = &b.res[i];

		if (r->stage != 0) {
			failed[r->stage]++;
			continue;
		}
		neg[nneg++] = r->neg_us;
		if (r->got_mail)
			mail[nmail++] = r->mail_us;
		if (r->got_mail && o->late_ms > 0 &&
		    r->mail_us > (uint32_t)o->late_ms * 1000u)
			late++;
		kinds[r->kind]++;
		if (!r->expected)
			mismatches++;
	}
	burst_pcts(neg, nneg, negp);
	burst_pcts(mail, nmail, mailp);
	rc = failed[1] + failed[2] + failed[3] + failed[4] == 0 &&
	    idle_bad == 0 && mismatches == 0 ? 0 : 1;
	if (!o->quiet) {
		fprintf(stderr, "%s: burst of %d sessions at once, %d idle held"
		    " open; %.2f s from start to the last\n", o->socket,
		    o->burst, nidle, wall);
		fprintf(stderr, "  negotiation (from connect): max %.1f ms, p99"
		    " %.1f ms, p50 %.1f ms\n", negp[0], negp[1], negp[2]);
		fprintf(stderr, "  MAIL FROM reply:            max %.1f ms, p99"
		    " %.1f ms, p50 %.1f ms (%ld replies)\n", mailp[0], mailp[1],
		    mailp[2], nmail);
		fprintf(stderr, "  replies: continue %ld, accept %ld, reject %ld,"
		    " tempfail %ld, other %ld; failed at connect %ld,"
		    " negotiation %ld, connect/HELO %ld, MAIL FROM %ld;"
		    " wrong answers %ld\n",
		    kinds[K_CONTINUE], kinds[K_ACCEPT], kinds[K_REJECT],
		    kinds[K_TEMPFAIL], kinds[K_DISCARD] + kinds[K_OTHER],
		    failed[1], failed[2], failed[3], failed[4], mismatches);
	}
	printf("label=%s socket=%s burst=%d idle_conns=%d idle_errors=%d"
	    " wall_s=%.3f neg_max_ms=%.1f neg_p99_ms=%.1f neg_p50_ms=%.1f"
	    " mail_max_ms=%.1f mail_p99_ms=%.1f mail_p50_ms=%.1f mail_replies=%ld"
	    " continue=%ld accept=%ld reject=%ld tempfail=%ld other=%ld"
	    " fail_connect=%ld fail_neg=%ld fail_helo=%ld fail_mail=%ld"
	    " mismatches=%ld late=%ld errors=%ld proto=0x%x\n",
	    o->label, o->socket, o->burst, nidle, idle_bad, wall, negp[0],
	    negp[1], negp[2], mailp[0], mailp[1], mailp[2], nmail,
	    kinds[K_CONTINUE], kinds[K_ACCEPT], kinds[K_REJECT],
	    kinds[K_TEMPFAIL], kinds[K_DISCARD] + kinds[K_OTHER], failed[1],
	    failed[2], failed[3], failed[4], mismatches, late,
	    failed[1] + failed[2] + failed[3] + failed[4] + idle_bad +
	    mismatches,
	    (unsigned)sh->proto_seen);
	fflush(stdout);
	pthread_attr_destroy(&attr);
	pthread_barrier_destroy(&b.go);
	pthread_barrier_destroy(&b.mail);
	free(b.res);
	free(tid);
	free(neg);
	free(mail);
	return rc;
}

/* ---------------------------------------------------------------- main */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: mload -s unix:PATH|inet:PORT@127.0.0.1 -f CASES [-c CONC]\n"
	    "             [-n COUNT] [-T SECONDS] [-t REPLY_MS] [-b BODYBYTES]\n"
	    "             [-l LABEL] [-E EXPECT] [-N] [-q]\n"
	    "       mload -s SOCKET -f CASES -i CONNS [-T SECONDS]\n"
	    "       mload -s SOCKET -f CASES -B SESSIONS [-i CONNS] [-t REPLY_MS]\n"
	    "             [-W LATE_MS]\n"
	    "  CASES: lines 'IP HELO SENDER EXPECT', SENDER <> for null,\n"
	    "  EXPECT continue|accept|reject|tempfail|discard|pass|any\n"
	    "  -i: open CONNS sessions up to HELO, hold them idle until\n"
	    "  SECONDS passed, then quit (to measure a milter's idle memory)\n"
	    "  -B: SESSIONS arrive at once, each up to the MAIL FROM reply;\n"
	    "  negotiation and MAIL FROM reply times (default -t 120000);\n"
	    "  -W: count the MAIL FROM replies slower than LATE_MS\n");
	exit(2);
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int ch;

	memset(o, 0, sizeof(*o));
	o->count = 1000;
	o->conc = 1;
	o->tmax = 30;
	o->reply_timeout_ms = 10000;
	o->body_bytes = 2000;
	o->label = "-";
	while ((ch = getopt(argc, argv, "s:f:c:n:T:t:b:l:E:i:B:W:Nq")) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'f': o->cases = optarg; break;
		case 'c': o->conc = (int)parse_long(optarg, 1, MAX_CONC, "-c"); break;
		case 'n': o->count = parse_long(optarg, 1, MAX_COUNT, "-n"); break;
		case 'T': o->tmax = (double)parse_long(optarg, 1, 3600, "-T"); break;
		case 't':
			o->reply_timeout_ms = (int)parse_long(optarg, 1, 600000, "-t");
			o->reply_timeout_set = 1;
			break;
		case 'b': o->body_bytes = (int)parse_long(optarg, 0, 65535, "-b"); break;
		case 'l': o->label = optarg; break;
		case 'N': o->nodelay = 1; break;
		case 'q': o->quiet = 1; break;
		case 'E': o->expect_all = optarg; break;
		case 'i': o->idle = (int)parse_long(optarg, 1, MAX_IDLE, "-i"); break;
		case 'B': o->burst = (int)parse_long(optarg, 1, MAX_BURST, "-B"); break;
		case 'W': o->late_ms = (int)parse_long(optarg, 1, 600000, "-W"); break;
		default: usage();
		}
	}
	if (optind != argc || o->socket == NULL || o->cases == NULL)
		usage();
	/* a late reply is what a burst measures, not an error */
	if (o->burst > 0 && !o->reply_timeout_set)
		o->reply_timeout_ms = 120000;
}

/* Idle sessions and bursts need more descriptors than the usual 1024. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
make_body(struct shared *sh, int bytes)
{
	static const char line[] = "The quick brown fox jumps over the lazy dog.\r\n";
	int n = 0;

	while (n < bytes) {
		int take = (int)sizeof(line) - 1 < bytes - n ?
		    (int)sizeof(line) - 1 : bytes - n;

		memcpy(sh->body + n, line, (size_t)take);
		n += take;
	}
	sh->bodylen = bytes;
}

static void
run_threads(struct shared *sh, int conc)
{
	pthread_t tid[MAX_CONC];
	pthread_attr_t attr;
	int i, rc;

	if (pthread_attr_init(&attr) != 0 ||
	    pthread_attr_setstacksize(&attr, 256 * 1024) != 0)
		die("pthread_attr");
	for (i = 0; i < conc; i++)
		if ((rc = pthread_create(&tid[i], &attr, worker, sh)) != 0)
			die("pthread_create: %s", strerror(rc));
	for (i = 0; i < conc; i++)
		pthread_join(tid[i], NULL);
	pthread_attr_destroy(&attr);
}

int
main(int argc, char **argv)
{
	static struct bcase cases[MAX_CASES];
	static struct shared sh;
	struct options opt;
	struct target tgt;
	struct timespec end;
	long i;

	parse_options(argc, argv, &opt);
	parse_target(opt.socket, &tgt);
	raise_nofile();
	sh.opt = &opt;
	sh.tgt = &tgt;
	sh.cases = cases;
	sh.ncases = load_cases(opt.cases, cases);
	for (i = 0; opt.expect_all != NULL && i < sh.ncases; i++)
		if (parse_expect(opt.expect_all, &cases[i]) != 0)
			die("bad -E '%s'", opt.expect_all);
	make_body(&sh, opt.body_bytes);
	if ((sh.lat_us = malloc((size_t)opt.count * sizeof(uint32_t))) == NULL)
		die("out of memory");
	for (i = 0; i < opt.count; i++)
		sh.lat_us[i] = UINT32_MAX;
	if (pthread_mutex_init(&sh.lock, NULL) != 0)
		die("mutex");
	clock_gettime(CLOCK_MONOTONIC, &sh.start);
	sh.deadline = ts_add(sh.start, opt.tmax);
	sh.hard_deadline = ts_add(sh.deadline, opt.reply_timeout_ms / 1000.0);
	if (opt.idle > 0)
		return run_idle(&sh, opt.idle);
	if (opt.burst > 0)
		return run_burst(&sh, 0, 0);
	run_threads(&sh, opt.conc);
	clock_gettime(CLOCK_MONOTONIC, &end);
	report(&sh, ts_sec(&end) - ts_sec(&sh.start));
	free(sh.lat_us);
	return sh.total.io_errors + sh.total.mismatches == 0 ? 0 : 1;
}
