/*
 * memres.h - an in-memory resolver implementing struct spf_resolver, for
 * the unit tests, the RFC 7208 suite run in process and the benchmarks.
 */
#ifndef MEMRES_H
#define MEMRES_H

#include <stdio.h>
#include "spf.h"

#define MEM_TIMEOUT_ALL 0	/* type of a marker: every other type times out */
#define MEM_FAIL 0xffff		/* type of a marker from a SERVFAIL, REFUSED or
				   GARBLE line: data is that word; every
				   question for the name gets SERVFAIL */

struct memrr {
	char *name;
	uint16_t type;		/* SPF_T_*, 5 for CNAME, or MEM_TIMEOUT_ALL */
	int timeout;		/* this type times out */
	uint16_t pref;
	unsigned char *data;
	size_t len;
	size_t *seg;		/* TXT from memzone_load: the lengths of the */
	size_t nseg;		/* quoted strings data joins (else NULL, 0) */
};

struct memzone {
	struct memrr *rr;
	size_t n, cap;
	unsigned queries;	/* questions asked since memzone_clear */
	FILE *log;		/* when set, one line per question */
	int empty_nonterminals;	/* a name that only has names below it is
				   NODATA, not NXDOMAIN (off for the suite) */
};

void memzone_init(struct memzone *z);
void memzone_clear(struct memzone *z);
/* Add a record.  DATA: address bytes, target name, or TXT text. */
int memzone_add(struct memzone *z, const char *name, uint16_t type,
    uint16_t pref, const void *data, size_t len, int timeout);
/* Add from zone-file text: "name TYPE value", see memres.c. */
int memzone_add_line(struct memzone *z, const char *line);
/*
 * Add the records of a zone file in test/dnsserver.py's format (NAME TYPE
 * DATA, see memres.c); a bad line is reported on ERRORS (when not NULL)
 * as "PATH:LINE: message" and gives -1, the records before it stay.
 */
int memzone_load(struct memzone *z, const char *path, FILE *errors);
/* NAME (lower case, no trailing dot) has records, or has names below it
 * and z->empty_nonterminals is set. */
int memzone_exists(const struct memzone *z, const char *name);
void memzone_resolver(struct memzone *z, struct spf_resolver *out);

/* Undo the escapes of test/suite2txt.py in place; returns the length. */
size_t unescape(char *s);

#endif
