/*
 * fuzz_spf.c - libFuzzer target for record parsing, macro expansion and
 * evaluation.  The input is split at newlines into: the SPF record of
 * example.com, the sender, the HELO name and an explanation text (the TXT
 * of every name the record may ask for).  Built with clang
 * -fsanitize=fuzzer,address,undefined by `make fuzz`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../spf.c"
#include "memres.h"

static const char *
next_part(char **p)
{
	char *s = *p, *nl;

	if (s == NULL)
		return "";
	nl = strchr(s, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memzone z;
	struct spf_request req;
	struct spf_resolver res;
	struct spf_outcome out;
	char *buf, *p, name[256];
	const char *record, *sender, *helo, *exp;
	char macro[SPF_EXPLANATION_MAX];
	struct eval e;
	struct sink k;
	size_t last;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	p = buf;
	record = next_part(&p);
	sender = next_part(&p);
	helo = next_part(&p);
	exp = next_part(&p);

	memzone_init(&z);
	memzone_add(&z, "example.com", SPF_T_TXT, 0, record, strlen(record), 0);
	memzone_add(&z, "example.com", SPF_T_A, 0, "\xc0\x00\x02\x01", 4, 0);
	memzone_add(&z, "example.com", SPF_T_MX, 10, "example.com", 11, 0);
	memzone_add(&z, "1.2.0.192.in-addr.arpa", SPF_T_PTR, 0, "example.com",
	    11, 0);
	memzone_add(&z, "e.example.com", SPF_T_TXT, 0, exp, strlen(exp), 0);
	memzone_add(&z, "i.example.com", SPF_T_TXT, 0, record, strlen(record), 0);

	memset(&req, 0, sizeof(req));
	spf_request_set_ip(&req, (size & 1) ? "192.0.2.1" : "2001:db8::1");
	req.sender = sender;
	req.helo = helo;
	req.identity = (size & 2) ? SPF_ID_HELO : SPF_ID_MAILFROM;
	req.now = 1;
	memzone_resolver(&z, &res);
	spf_check(&req, &res, &out);
	if ((unsigned)out.result >= SPF_NRESULTS)
		abort();

	/* The explanation text also as a macro-string on its own. */
	memset(&e, 0, sizeof(e));
	e.req = &req;
	e.res = &res;
	e.out = &out;
	if (split_sender(&e) == 0) {
		sink_init(&k, macro, sizeof(macro), 0);
		if (macro_syntax(exp, strlen(exp), 1, &last) == 0)
			(void)expand(&e, exp, strlen(exp), "example.com", &k);
		if (domain_spec_syntax(exp, strlen(exp)) == 0 &&
		    expand_domain(&e, exp, strlen(exp), "example.com", name) ==
		    NAME_OK && strlen(name) > 253)
			abort();	/* 4.8: never longer than 253 */
	}
	eval_release(&e);
	memzone_clear(&z);
	free(buf);
	return 0;
}
