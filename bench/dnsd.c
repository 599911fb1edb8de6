/*
 * dnsd.c - a small DNS server for the benchmark: answers over UDP on
 * 127.0.0.1 from a zone file in test/dnsserver.py's format, read by
 * memzone_load of test/memres.c (NAME TYPE DATA; of the types A, AAAA,
 * MX, PTR, TXT only; $TTL is ignored), optionally holding every answer
 * back DELAY ms, or never answering at all (-n: a dead nameserver that
 * reads every question and drops it, for the burst benchmark).
 *
 * test/dnsserver.py is the project's test server; under the benchmark's
 * load (thousands of questions per second, each delayed answer on its
 * own Python timer thread) it becomes the bottleneck on a two-core
 * machine and eats the CPU the milters are measured on.  This one answers
 * from one thread with a FIFO of pending answers (the delay is the same
 * for all, so they fall due in arrival order), so what the benchmark
 * measures is the milter, not the DNS server.
 *
 *   dnsd -z ZONE [-p PORT] [-d DELAY_MS | -n] [-P PORTFILE] [-L QUERYLOG]
 *        [-T MAX_SECONDS]
 *
 * PORTFILE gets "PORT PID" once the socket listens, as dnsserver.py
 * writes it; QUERYLOG one line per question: time, name, type, "udp".
 * Negative answers carry an SOA (MINIMUM 300); records have TTL 3600.
 * Answers that do not fit 512 bytes go out truncated (TC, no records):
 * there is no TCP, and the bench zone needs none.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "memres.h"

#define PKT_MAX		512
#define QUEUE_LEN	8192
#define T_A		1
#define T_SOA		6
#define T_PTR		12
#define T_MX		15
#define T_TXT		16
#define T_AAAA		28
#define TTL		3600
#define NEG_TTL		300

struct pending {
	double due;
	struct sockaddr_in to;
	uint16_t len;
	unsigned char pkt[PKT_MAX];
};

struct server {
	struct memzone zone;	/* names in lower case, no trailing dot */
	int fd;
	double delay;
	int silent;		/* -n: log each question, answer none */
	FILE *log;
	struct pending *q;	/* ring of QUEUE_LEN */
	unsigned head, count;
	unsigned long dropped;
};

static volatile sig_atomic_t stop;

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("dnsd: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static double
mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* ------------------------------------------------------------ the zone */

/* A domain name in wire format (uncompressed labels). */
static int
encode_name(const char *name, unsigned char *out, size_t cap)
{
	size_t n = 0, l;

	while (*name != '\0') {
		l = strcspn(name, ".");
		if (l == 0 || l > 63 || n + l + 2 > cap)
			return -1;
		out[n++] = (unsigned char)l;
		memcpy(out + n, name, l);
		n += l;
		name += l;
		if (*name == '.')
			name++;
	}
	out[n++] = 0;
	return (int)n;
}

/* The wire rdata of R into OUT; its length, or -1 when it does not fit.
 * TXT goes out as the strings it was written as (cut at 255 bytes). */
static int
encode_rdata(const struct memrr *r, unsigned char *out, size_t cap)
{
	char name[256];
	size_t n = 0, off = 0, i, l, left, one = r->len;
	const size_t *seg = r->nseg > 0 ? r->seg : &one;
	int m;

	switch (r->type) {
	case T_A:
	case T_AAAA:
		if (r->len > cap)
			return -1;
		memcpy(out, r->data, r->len);
		return (int)r->len;
	case T_MX:
		if (cap < 2)
			return -1;
		out[n++] = (unsigned char)(r->pref >> 8);
		out[n++] = (unsigned char)r->pref;
		/* FALLTHROUGH */
	case T_PTR:
		if (r->len >= sizeof(name))
			return -1;
		memcpy(name, r->data, r->len + 1);
		lower(name);
		if ((m = encode_name(name, out + n, cap - n)) < 0)
			return -1;
		return (int)n + m;
	case T_TXT:
		for (i = 0; i < (r->nseg > 0 ? r->nseg : 1); i++) {
			left = seg[i];
			do {
				l = left > 255 ? 255 : left;
				if (n + 1 + l > cap)
					return -1;
				out[n++] = (unsigned char)l;
				memcpy(out + n, r->data + off, l);
				n += l;
				off += l;
				left -= l;
			} while (left > 0);
		}
		return (int)n;
	default:
		return -1;
	}
}

/* Every record must be one dnsd can put on the wire: no CNAME, TIMEOUT,
 * SERVFAIL, REFUSED or GARBLE. */
static void
check_zone(const struct server *s, const char *path)
{
	unsigned char buf[65536];
	size_t i;

	for (i = 0; i < s->zone.n; i++)
		if (s->zone.rr[i].timeout ||
		    encode_rdata(&s->zone.rr[i], buf, sizeof(buf)) < 0)
			die("%s: %s: cannot serve this record", path,
			    s->zone.rr[i].name);
}

/* ---------------------------------------------------------- the answer */

struct out {
	unsigned char *p;
	size_t len, cap;
	int full;
};

static void
put(struct out *o, const void *d, size_t n)
{
	if (o->full || o->len + n > o->cap) {
		o->full = 1;
		return;
	}
	memcpy(o->p + o->len, d, n);
	o->len += n;
}

static void
put16(struct out *o, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(o, b, 2);
}

static void
put32(struct out *o, uint32_t v)
{
	put16(o, v >> 16);
	put16(o, v & 0xffff);
}

/* The question's name (lower case, dotted) and type; length of the
 * question section, or -1. */
static int
parse_question(const unsigned char *pkt, size_t len, char *name,
    uint16_t *type)
{
	size_t i = 12, n = 0, l;

	if (len < 17 || pkt[4] != 0 || pkt[5] != 1)
		return -1;
	while (i < len && pkt[i] != 0) {
		l = pkt[i++];
		if (l > 63 || i + l >= len || n + l + 1 >= 256)
			return -1;
		if (n > 0)
			name[n++] = '.';
		memcpy(name + n, pkt + i, l);
		n += l;
		i += l;
	}
	name[n] = '\0';
	lower(name);
	if (i + 5 > len)
		return -1;
	*type = (uint16_t)(pkt[i + 1] << 8 | pkt[i + 2]);
	return (int)(i + 5 - 12);
}

static void
add_soa(struct out *o, const char *name)
{
	unsigned char wire[600];
	const char *apex = name;
	const char *dot;
	char buf[300];
	int n, m;

	/* the last two labels */
	while ((dot = strchr(apex, '.')) != NULL && strchr(dot + 1, '.') != NULL)
		apex = dot + 1;
	if ((n = encode_name(apex, wire, sizeof(wire))) < 0)
		return;
	put(o, wire, (size_t)n);
	put16(o, T_SOA);
	put16(o, 1);
	put32(o, TTL);
	snprintf(buf, sizeof(buf), "ns.%s", apex);
	if ((m = encode_name(buf, wire, 300)) < 0)
		return;
	snprintf(buf, sizeof(buf), "hostmaster.%s", apex);
	if ((n = encode_name(buf, wire + m, sizeof(wire) - (size_t)m)) < 0)
		return;
	put16(o, (unsigned)(m + n + 20));
	put(o, wire, (size_t)(m + n));
	put32(o, 1);
	put32(o, 3600);
	put32(o, 600);
	put32(o, 86400);
	put32(o, NEG_TTL);
}

/* One record, owned by the question's name. */
static void
add_rr(struct out *o, const struct memrr *r)
{
	unsigned char rd[PKT_MAX];
	int n = encode_rdata(r, rd, sizeof(rd));

	if (n < 0) {		/* cannot fit the packet either */
		o->full = 1;
		return;
	}
	put16(o, 0xc00c);
	put16(o, r->type);
	put16(o, 1);
	put32(o, TTL);
	put16(o, (unsigned)n);
	put(o, rd, (size_t)n);
}

static int
add_answers(const struct server *s, struct out *o, const char *name,
    uint16_t type)
{
	size_t i;
	int count = 0;

	for (i = 0; i < s->zone.n; i++) {
		const struct memrr *r = &s->zone.rr[i];

		if (r->type != type || strcmp(r->name, name) != 0)
			continue;
		add_rr(o, r);
		count++;
	}
	return count;
}

/* Build the reply to PKT into O; 0, or -1 to stay silent. */
static int
build_reply(const struct server *s, const unsigned char *pkt, size_t len,
    struct out *o, char *name, uint16_t *type)
{
	int qlen, an, rcode = 0, ns = 0;
	size_t counts;

	if ((qlen = parse_question(pkt, len, name, type)) < 0 || (pkt[2] & 0x80))
		return -1;
	put(o, pkt, 2);				/* id */
	put16(o, 0x8400 | (pkt[2] & 0x01) << 8 | 0x80);	/* QR AA RD RA */
	counts = o->len;
	put16(o, 1);
	put32(o, 0);
	put16(o, 0);
	put(o, pkt + 12, (size_t)qlen);
	an = add_answers(s, o, name, *type);
	if (an == 0) {
		rcode = memzone_exists(&s->zone, name) ? 0 : 3;
		add_soa(o, name);
		ns = 1;
	}
	o->p[3] = (unsigned char)((o->p[3] & 0xf0) | rcode);
	o->p[counts + 3] = (unsigned char)an;
	o->p[counts + 5] = (unsigned char)ns;
	if (o->full) {		/* too long for UDP: TC, question only */
		o->full = 0;
		o->len = counts + 8 + (size_t)qlen;
		o->p[2] |= 0x02;
		o->p[counts + 3] = o->p[counts + 5] = 0;
	}
	return 0;
}

/* ------------------------------------------------------------ the loop */

static const char *
type_name(uint16_t t, char *buf, size_t len)
{
	switch (t) {
	case T_A: return "A";
	case T_AAAA: return "AAAA";
	case T_MX: return "MX";
	case T_TXT: return "TXT";
	case T_PTR: return "PTR";
	default:
		snprintf(buf, len, "TYPE%u", t);
		return buf;
	}
}

static void
log_question(struct server *s, const char *name, uint16_t type)
{
	struct timespec t;
	char buf[16];

	if (s->log == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &t);
	fprintf(s->log, "%ld.%06ld %s %s udp\n", (long)t.tv_sec,
	    t.tv_nsec / 1000, name, type_name(type, buf, sizeof(buf)));
}

static void
send_now(struct server *s, const struct pending *p)
{
	if (sendto(s->fd, p->pkt, p->len, 0, (const struct sockaddr *)&p->to,
	    sizeof(p->to)) < 0 && errno != EAGAIN)
		fprintf(stderr, "dnsd: sendto: %s\n", strerror(errno));
}

static void
handle_packet(struct server *s, const unsigned char *pkt, size_t len,
    const struct sockaddr_in *from)
{
	struct pending *p, now;
	struct out o;
	char name[256];
	uint16_t type;

	if (s->delay > 0 && s->count == QUEUE_LEN) {
		s->dropped++;
		return;
	}
	p = s->delay > 0 ? &s->q[(s->head + s->count) % QUEUE_LEN] : &now;
	o.p = p->pkt;
	o.len = 0;
	o.cap = sizeof(p->pkt);
	o.full = 0;
	if (build_reply(s, pkt, len, &o, name, &type) != 0)
		return;
	log_question(s, name, type);
	if (s->silent)
		return;
	p->len = (uint16_t)o.len;
	p->to = *from;
	if (p == &now) {
		send_now(s, p);
		return;
	}
	p->due = mono() + s->delay;
	s->count++;
}

static void
read_all(struct server *s)
{
	unsigned char pkt[PKT_MAX];
	struct sockaddr_in from;
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < 1000; i++) {
		fl = sizeof(from);
		n = recvfrom(s->fd, pkt, sizeof(pkt), 0,
		    (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		handle_packet(s, pkt, (size_t)n, &from);
	}
}

/* Send what fell due; milliseconds until the next one (or 1000). */
static int
send_due(struct server *s)
{
	double now = mono(), wait;

	while (s->count > 0 && s->q[s->head].due <= now) {
		send_now(s, &s->q[s->head]);
		s->head = (s->head + 1) % QUEUE_LEN;
		s->count--;
	}
	if (s->count == 0)
		return 1000;
	wait = (s->q[s->head].due - now) * 1000;
	return wait < 1 ? 1 : (int)wait;
}

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void
serve(struct server *s, double max_secs)
{
	struct pollfd pfd = { s->fd, POLLIN, 0 };
	double end = mono() + max_secs;
	int ms = 1000;

	while (!stop && mono() < end) {
		if (poll(&pfd, 1, ms) > 0)
			read_all(s);
		ms = send_due(s);
		if (s->log != NULL)
			fflush(s->log);
	}
	if (s->dropped > 0)
		fprintf(stderr, "dnsd: %lu questions dropped (queue full)\n",
		    s->dropped);
}

static int
open_socket(int port)
{
	struct sockaddr_in a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		die("socket on 127.0.0.1:%d: %s", port, strerror(errno));
	return fd;
}

static void
write_portfile(const char *path, int fd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char tmp[4096];
	FILE *f;

	if (getsockname(fd, (struct sockaddr *)&a, &al) != 0)
		die("getsockname: %s", strerror(errno));
	if (path == NULL) {
		printf("%u %ld\n", ntohs(a.sin_port), (long)getpid());
		fflush(stdout);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL ||
	    fprintf(f, "%u %ld\n", ntohs(a.sin_port), (long)getpid()) < 0 ||
	    fclose(f) != 0 || rename(tmp, path) != 0)
		die("%s: %s", path, strerror(errno));
}

int
main(int argc, char **argv)
{
	static struct server s;
	const char *zone = NULL, *portfile = NULL, *logpath = NULL;
	int ch, port = 0, delay = 0, maxsecs = 3600, bad = 0;

	while (!bad && (ch = getopt(argc, argv, "z:p:d:nP:L:T:")) != -1) {
		switch (ch) {
		case 'z': zone = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'd': delay = atoi(optarg); break;
		case 'n': s.silent = 1; break;
		case 'P': portfile = optarg; break;
		case 'L': logpath = optarg; break;
		case 'T': maxsecs = atoi(optarg); break;
		default: bad = 1; break;
		}
	}
	if (bad || zone == NULL || optind != argc || port < 0 || port > 65535 ||
	    delay < 0 || delay > 60000 || maxsecs < 1) {
		fprintf(stderr, "usage: dnsd -z ZONE [-p PORT] [-d DELAY_MS | -n]"
		    " [-P PORTFILE] [-L QUERYLOG] [-T MAX_SECONDS]\n");
		return 2;
	}
	memzone_init(&s.zone);
	s.zone.empty_nonterminals = 1;
	if (memzone_load(&s.zone, zone, stderr) != 0)
		return 2;
	check_zone(&s, zone);
	s.delay = delay / 1000.0;
	if ((s.q = calloc(QUEUE_LEN, sizeof(*s.q))) == NULL)
		die("out of memory");
	if (logpath != NULL && (s.log = fopen(logpath, "a")) == NULL)
		die("%s: %s", logpath, strerror(errno));
	if (signal(SIGTERM, on_term) == SIG_ERR ||
	    signal(SIGINT, on_term) == SIG_ERR)
		die("signal");
	s.fd = open_socket(port);
	write_portfile(portfile, s.fd);
	serve(&s, maxsecs);
	if (s.log != NULL)
		fclose(s.log);
	free(s.q);
	memzone_clear(&s.zone);
	return 0;
}
