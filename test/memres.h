/*
 * memres.h - an in-memory resolver implementing struct spf_resolver, for
 * the unit tests, the RFC 7208 suite run in process and the benchmarks.
 */
#ifndef MEMRES_H
#define MEMRES_H

#include <stdio.h>
#include "spf.h"

#define MEM_TIMEOUT_ALL 0	/* type of a marker: every other type times out */

struct memrr {
	char *name;
	uint16_t type;		/* SPF_T_*, 5 for CNAME, or MEM_TIMEOUT_ALL */
	int timeout;		/* this type times out */
	uint16_t pref;
	unsigned char *data;
	size_t len;
};

struct memzone {
	struct memrr *rr;
	size_t n, cap;
	unsigned queries;	/* questions asked since memzone_clear */
	FILE *log;		/* when set, one line per question */
};

void memzone_init(struct memzone *z);
void memzone_clear(struct memzone *z);
/* Add a record.  DATA: address bytes, target name, or TXT text. */
int memzone_add(struct memzone *z, const char *name, uint16_t type,
    uint16_t pref, const void *data, size_t len, int timeout);
/* Add from zone-file text: "name TYPE value", see memres.c. */
int memzone_add_line(struct memzone *z, const char *line);
void memzone_resolver(struct memzone *z, struct spf_resolver *out);

/* Undo the escapes of test/suite2txt.py in place; returns the length. */
size_t unescape(char *s);

#endif
