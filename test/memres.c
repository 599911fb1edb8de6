/*
 * memres.c - an in-memory resolver for tests and benchmarks: answers
 * every question from a table at once, with the same NXDOMAIN / NODATA /
 * timeout distinctions the real resolver makes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memres.h"

#define T_CNAME 5
/* A CNAME chain longer than this is taken for a loop (answered as if
 * the name had no record of the type): above the chains recursive
 * servers follow, so it never decides a result of a test. */
#define MEM_MAX_CNAME 16

void
memzone_init(struct memzone *z)
{
	memset(z, 0, sizeof(*z));
}

void
memzone_clear(struct memzone *z)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		free(z->rr[i].name);
		free(z->rr[i].data);
		free(z->rr[i].seg);
	}
	free(z->rr);
	z->rr = NULL;
	z->n = z->cap = 0;
	z->queries = 0;
}

/* NAME in lower case without a trailing dot, into S (strlen(NAME) + 1). */
static char *
normalise_to(char *s, const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)name[i]);
	if (n > 0 && s[n - 1] == '.')
		n--;
	s[n] = '\0';
	return s;
}

static char *
normalise(const char *name)
{
	char *s = malloc(strlen(name) + 1);

	return s != NULL ? normalise_to(s, name) : NULL;
}

int
memzone_add(struct memzone *z, const char *name, uint16_t type, uint16_t pref,
    const void *data, size_t len, int timeout)
{
	struct memrr *rr;

	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 64;
		struct memrr *n = realloc(z->rr, cap * sizeof(*n));

		if (n == NULL)
			return -1;
		z->rr = n;
		z->cap = cap;
	}
	rr = &z->rr[z->n];
	memset(rr, 0, sizeof(*rr));
	rr->name = normalise(name);
	rr->type = type;
	rr->timeout = timeout;
	rr->pref = pref;
	rr->len = len;
	rr->data = malloc(len + 1);
	if (rr->name == NULL || rr->data == NULL)
		return -1;
	if (len > 0)
		memcpy(rr->data, data, len);
	rr->data[len] = '\0';
	z->n++;
	return 0;
}

size_t
unescape(char *s)
{
	char *w = s, *r = s;

	while (*r != '\0') {
		if (*r != '\\') {
			*w++ = *r++;
			continue;
		}
		r++;
		switch (*r) {
		case 't': *w++ = '\t'; r++; break;
		case 'n': *w++ = '\n'; r++; break;
		case 'x': {
			char hex[3] = { r[1], r[2], '\0' };

			*w++ = (char)strtoul(hex, NULL, 16);
			r += 3;
			break;
		}
		case '\0': break;
		default: *w++ = *r++; break;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static int
type_code(const char *t)
{
	static const struct { const char *name; int code; } types[] = {
		{ "A", SPF_T_A }, { "AAAA", SPF_T_AAAA }, { "MX", SPF_T_MX },
		{ "TXT", SPF_T_TXT }, { "SPF", SPF_T_TXT }, { "PTR", SPF_T_PTR },
		{ "CNAME", T_CNAME },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(t, types[i].name) == 0)
			return types[i].code;
	return -1;
}

/*
 * One record from the fields of a "Z" line of suite2txt.py (tab-separated,
 * without the "Z"): name, type, values.
 */
int
memzone_add_line(struct memzone *z, const char *line)
{
	char buf[8192], *f[64], *p;
	int nf = 0, type;
	unsigned char addr[16];
	size_t len = 0, i;
	char txt[8192];

	if (strlen(line) >= sizeof(buf))
		return -1;
	strcpy(buf, line);
	for (p = buf; nf < 64;) {
		f[nf++] = p;
		if ((p = strchr(p, '\t')) == NULL)
			break;
		*p++ = '\0';
	}
	if (nf < 2)
		return -1;
	unescape(f[0]);
	if (strcmp(f[1], "TIMEOUT") == 0) {
		if (nf < 3)
			return memzone_add(z, f[0], MEM_TIMEOUT_ALL, 0, "", 0, 1);
		if ((type = type_code(f[2])) < 0)
			return 0;
		return memzone_add(z, f[0], (uint16_t)type, 0, "", 0, 1);
	}
	if ((type = type_code(f[1])) < 0 || (nf < 3 && type != SPF_T_TXT))
		return -1;
	switch (type) {
	case SPF_T_A:
		if (inet_pton(AF_INET, f[2], addr) != 1)
			return -1;
		return memzone_add(z, f[0], SPF_T_A, 0, addr, 4, 0);
	case SPF_T_AAAA:
		if (inet_pton(AF_INET6, f[2], addr) != 1)
			return -1;
		return memzone_add(z, f[0], SPF_T_AAAA, 0, addr, 16, 0);
	case SPF_T_MX:
		if (nf < 4)
			return -1;
		unescape(f[3]);
		return memzone_add(z, f[0], SPF_T_MX, (uint16_t)atoi(f[2]),
		    f[3], strlen(f[3]), 0);
	case SPF_T_TXT:
		for (i = 2; i < (size_t)nf; i++) {
			size_t l = unescape(f[i]);

			if (len + l >= sizeof(txt))
				return -1;
			memcpy(txt + len, f[i], l);
			len += l;
		}
		return memzone_add(z, f[0], SPF_T_TXT, 0, txt, len, 0);
	default:
		unescape(f[2]);
		return memzone_add(z, f[0], (uint16_t)type, 0, f[2],
		    strlen(f[2]), 0);
	}
}

/* ------------------------------------------------------- zone files */

/*
 * memzone_load reads test/dnsserver.py's zone files: one record a line,
 * NAME TYPE DATA; blank lines and lines starting with # are skipped.
 *   A, AAAA, PTR, CNAME   the address or name (a trailing dot is dropped)
 *   MX                    PREF NAME
 *   TXT                   one or more "quoted" strings (\" \\ \xNN and \c
 *                         for c), joined into one record; their lengths
 *                         are kept in seg/nseg for a server
 *   NAME TIMEOUT          a MEM_TIMEOUT_ALL marker: questions of a type
 *                         NAME has no records of time out
 *   NAME SERVFAIL|REFUSED|GARBLE   a MEM_FAIL marker holding the word:
 *                         the resolver answers SERVFAIL for NAME
 *   $TTL N                checked and ignored: the resolver's answers
 *                         always carry TTL 300
 * Words after the data of A, AAAA, PTR, CNAME and MX are ignored.
 */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A name of at most 253 characters, labels of 1 to 63, no trailing dot
 * (it is dropped); NULL if it is none. */
static const char *
zone_name(char *s)
{
	size_t n = strlen(s), l;
	const char *p;

	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	if (n == 0 || n > 253)
		return NULL;
	for (p = s; *p != '\0'; p += l + (p[l] == '.')) {
		l = strcspn(p, ".");
		if (l == 0 || l > 63 || (p[l] == '.' && p[l + 1] == '\0'))
			return NULL;
	}
	return s;
}

/* The quoted strings of REST joined into OUT (of at least strlen(REST)),
 * their lengths into SEG (as many entries); NULL or the error message. */
static const char *
zone_txt(const char *p, unsigned char *out, size_t *len, size_t *seg,
    size_t *nseg)
{
	size_t n = 0, start;
	int hi, lo;

	*nseg = 0;
	while ((p = strchr(p, '"')) != NULL) {
		start = n;
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (p[0] != '\\' || p[1] == '\0')
				out[n++] = (unsigned char)*p;
			else if (p[1] == 'x' && (hi = hexval(p[2])) >= 0 &&
			    (lo = hexval(p[3])) >= 0) {
				out[n++] = (unsigned char)(hi * 16 + lo);
				p += 3;
			} else
				out[n++] = (unsigned char)*++p;
		}
		if (*p != '"')
			return "unterminated string";
		seg[(*nseg)++] = n - start;
		p++;
	}
	*len = n;
	return NULL;
}

/* One line of a zone file (no newline); NULL or the error message. */
static const char *
zone_line(struct memzone *z, char *line)
{
	char *name, *type, *rest, *word, *end;
	const char *err;
	unsigned char addr[16];
	unsigned long pref;
	size_t len, nseg, *seg;
	int t, af;

	name = strtok_r(line, " \t\r", &rest);
	if (strcmp(name, "$TTL") == 0) {
		word = strtok_r(NULL, " \t\r", &rest);
		if (word == NULL || strtoul(word, &end, 10) > 0x7fffffffUL ||
		    *end != '\0' || !isdigit((unsigned char)*word))
			return "$TTL wants a number";
		return NULL;
	}
	if ((type = strtok_r(NULL, " \t\r", &rest)) == NULL)
		return "no type";
	if (zone_name(name) == NULL)
		return "bad name";
	if (strcasecmp(type, "TIMEOUT") == 0)
		return memzone_add(z, name, MEM_TIMEOUT_ALL, 0, "", 0, 1) ?
		    "out of memory" : NULL;
	if (strcasecmp(type, "SERVFAIL") == 0 ||
	    strcasecmp(type, "REFUSED") == 0 || strcasecmp(type, "GARBLE") == 0) {
		for (word = type; *word != '\0'; word++)
			*word = (char)toupper((unsigned char)*word);
		return memzone_add(z, name, MEM_FAIL, 0, type, strlen(type),
		    0) ? "out of memory" : NULL;
	}
	if (strcasecmp(type, "TXT") == 0) {
		/* at most strlen(rest) bytes and strlen(rest) / 2 strings */
		len = strlen(rest) + 1;
		if ((word = malloc(len)) == NULL ||
		    (seg = malloc(len / 2 * sizeof(*seg) + 1)) == NULL) {
			free(word);
			return "out of memory";
		}
		if ((err = zone_txt(rest, (unsigned char *)word, &len, seg,
		    &nseg)) == NULL && memzone_add(z, name, SPF_T_TXT, 0,
		    word, len, 0) != 0)
			err = "out of memory";
		free(word);
		if (err != NULL) {
			free(seg);
			return err;
		}
		z->rr[z->n - 1].seg = seg;
		z->rr[z->n - 1].nseg = nseg;
		return NULL;
	}
	if ((t = type_code(type)) < 0 || strcasecmp(type, "SPF") == 0)
		return "unknown type";
	pref = 0;
	if (t == SPF_T_MX) {
		word = strtok_r(NULL, " \t\r", &rest);
		if (word == NULL || !isdigit((unsigned char)*word) ||
		    (pref = strtoul(word, &end, 10)) > 65535 || *end != '\0')
			return "MX wants PREF NAME";
	}
	if ((word = strtok_r(NULL, " \t\r", &rest)) == NULL)
		return "no data";
	if (t == SPF_T_A || t == SPF_T_AAAA) {
		af = t == SPF_T_A ? AF_INET : AF_INET6;
		if (inet_pton(af, word, addr) != 1)
			return "bad address";
		return memzone_add(z, name, (uint16_t)t, 0, addr,
		    af == AF_INET ? 4 : 16, 0) ? "out of memory" : NULL;
	}
	if (zone_name(word) == NULL)
		return "bad name in the data";
	return memzone_add(z, name, (uint16_t)t, (uint16_t)pref, word,
	    strlen(word), 0) ? "out of memory" : NULL;
}

int
memzone_load(struct memzone *z, const char *path, FILE *errors)
{
	char *line = NULL, *p;
	const char *err = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		if (errors != NULL)
			fprintf(errors, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while (err == NULL && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		p = line + strspn(line, " \t\r");
		if (*p != '\0' && *p != '#')
			err = zone_line(z, p);
	}
	if (err != NULL && errors != NULL)
		fprintf(errors, "%s:%u: %s\n", path, lineno, err);
	else if (err == NULL && ferror(f)) {
		err = "read error";
		if (errors != NULL)
			fprintf(errors, "%s: read error\n", path);
	}
	free(line);
	fclose(f);
	return err != NULL ? -1 : 0;
}

/* ----------------------------------------------------------- answering */

int
memzone_exists(const struct memzone *z, const char *name)
{
	size_t ln = strlen(name), lr, i;

	for (i = 0; i < z->n; i++) {
		lr = strlen(z->rr[i].name);
		if (lr == ln && strcmp(z->rr[i].name, name) == 0)
			return 1;
		if (z->empty_nonterminals && lr > ln &&
		    z->rr[i].name[lr - ln - 1] == '.' &&
		    strcmp(z->rr[i].name + lr - ln, name) == 0)
			return 1;
	}
	return 0;
}

static struct spf_answer *answer(struct memzone *, const char *, uint16_t,
    int);

/* The answer for NAME, normalised. */
static struct spf_answer *
answer_name(struct memzone *z, const char *name, uint16_t type, int hops)
{
	size_t i, count = 0, datalen = 0;
	int exists = 0, timeout_all = 0, timeout = 0, fail = 0;
	const struct memrr *cname = NULL;
	struct spf_answer *a;
	unsigned char *data;

	for (i = 0; i < z->n; i++) {
		const struct memrr *rr = &z->rr[i];

		if (strcmp(rr->name, name) != 0)
			continue;
		exists = 1;
		if (rr->type == MEM_TIMEOUT_ALL)
			timeout_all = 1;
		else if (rr->type == MEM_FAIL)
			fail = 1;
		else if (rr->type == type && rr->timeout)
			timeout = 1;
		else if (rr->type == type) {
			count++;
			datalen += rr->len + 1;
		} else if (rr->type == T_CNAME)
			cname = rr;
	}
	if (fail)
		return spf_answer_new(SPF_DNS_SERVFAIL, 0, 0, 0);
	if (timeout || (count == 0 && timeout_all))
		return spf_answer_new(SPF_DNS_TIMEOUT, 0, 0, 0);
	if (count == 0 && cname != NULL && hops < MEM_MAX_CNAME)
		return answer(z, (const char *)cname->data, type, hops + 1);
	if (count == 0) {
		if (!exists && z->empty_nonterminals)
			exists = memzone_exists(z, name);
		return spf_answer_new(exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN,
		    300, 0, 0);
	}
	a = spf_answer_new(SPF_DNS_OK, 300, (unsigned)count, datalen);
	if (a == NULL)
		return NULL;
	data = (unsigned char *)&a->rr[count];
	for (i = 0, count = 0; i < z->n; i++) {
		const struct memrr *rr = &z->rr[i];

		if (strcmp(rr->name, name) != 0 || rr->type != type ||
		    rr->timeout)
			continue;
		memcpy(data, rr->data, rr->len);
		data[rr->len] = '\0';
		a->rr[count].data = data;
		a->rr[count].len = (uint16_t)rr->len;
		a->rr[count].pref = rr->pref;
		data += rr->len + 1;
		count++;
	}
	return a;
}

/* The answer for QNAME; a name of usual length costs no allocation, so
 * a benchmark counting the heap sees the answers only. */
static struct spf_answer *
answer(struct memzone *z, const char *qname, uint16_t type, int hops)
{
	char buf[320], *name = buf;
	struct spf_answer *a;

	if (strlen(qname) < sizeof(buf))
		normalise_to(buf, qname);
	else if ((name = normalise(qname)) == NULL)
		return NULL;
	a = answer_name(z, name, type, hops);
	if (name != buf)
		free(name);
	return a;
}

static void
mem_submit(void *ctx, struct spf_query *q)
{
	struct memzone *z = ctx;

	z->queries++;
	if (z->log != NULL)
		fprintf(z->log, "query %s %u\n", q->name, q->type);
	q->answer = answer(z, q->name, q->type, 0);
	q->usec = 0;
}

static void
mem_wait(void *ctx, struct spf_query *q)
{
	(void)ctx;
	if (q->answer == NULL)
		q->answer = spf_answer_new(SPF_DNS_SERVFAIL, 0, 0, 0);
}

static void
mem_drop(void *ctx, struct spf_query *q)
{
	(void)ctx;
	free(q->answer);
	q->answer = NULL;
}

void
memzone_resolver(struct memzone *z, struct spf_resolver *out)
{
	out->ctx = z;
	out->submit = mem_submit;
	out->wait = mem_wait;
	out->drop = mem_drop;
}
