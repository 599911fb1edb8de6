/*
 * memres.c - an in-memory resolver for tests and benchmarks: answers
 * every question from a table at once, with the same NXDOMAIN / NODATA /
 * timeout distinctions the real resolver makes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "memres.h"

#define T_CNAME 5

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
	}
	free(z->rr);
	z->rr = NULL;
	z->n = z->cap = 0;
	z->queries = 0;
}

static char *
normalise(const char *name)
{
	size_t n = strlen(name), i;
	char *s = malloc(n + 1);

	if (s == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)name[i]);
	if (n > 0 && s[n - 1] == '.')
		n--;
	s[n] = '\0';
	return s;
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

/* ----------------------------------------------------------- answering */

static struct spf_answer *
answer(struct memzone *z, const char *qname, uint16_t type, int hops)
{
	char *name = normalise(qname);
	size_t i, count = 0, datalen = 0;
	int exists = 0, timeout_all = 0, timeout = 0;
	const struct memrr *cname = NULL;
	struct spf_answer *a;
	unsigned char *data;

	if (name == NULL)
		return NULL;
	for (i = 0; i < z->n; i++) {
		const struct memrr *rr = &z->rr[i];

		if (strcmp(rr->name, name) != 0)
			continue;
		exists = 1;
		if (rr->type == MEM_TIMEOUT_ALL)
			timeout_all = 1;
		else if (rr->type == type && rr->timeout)
			timeout = 1;
		else if (rr->type == type) {
			count++;
			datalen += rr->len + 1;
		} else if (rr->type == T_CNAME)
			cname = rr;
	}
	if (timeout || (count == 0 && timeout_all)) {
		free(name);
		return spf_answer_new(SPF_DNS_TIMEOUT, 0, 0, 0);
	}
	if (count == 0 && cname != NULL && hops < 8) {
		free(name);
		return answer(z, (const char *)cname->data, type, hops + 1);
	}
	if (count == 0) {
		free(name);
		return spf_answer_new(exists ? SPF_DNS_NODATA : SPF_DNS_NXDOMAIN,
		    300, 0, 0);
	}
	a = spf_answer_new(SPF_DNS_OK, 300, (unsigned)count, datalen);
	if (a == NULL) {
		free(name);
		return NULL;
	}
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
