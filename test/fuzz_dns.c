/*
 * fuzz_dns.c - libFuzzer target for dns.c's reply parser, which reads
 * every packet a nameserver (or anyone spoofing one) sends.
 *
 * So that the fuzzer spends its time past the question section, most
 * inputs become the sections after a fixed header and question for
 * "example.com": byte 0 picks the type (and, with its top bit, sends the
 * input as a whole packet instead), bytes 1-4 are the answer and authority
 * counts, byte 5 the rcode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

static const unsigned types[] = {
	SPF_T_A, SPF_T_AAAA, SPF_T_MX, SPF_T_PTR, SPF_T_TXT
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char question[] =
	    "\7example\3com";	/* the NUL ends the name */
	unsigned char *pkt;
	struct spf_answer *a;
	char next[256];
	unsigned type;
	size_t n;

	if (size < 6 || size > 70000)
		return 0;
	type = types[(data[0] & 0x7f) % 5];
	if (data[0] & 0x80) {
		a = resolver_parse_reply(data + 1, size - 1, "example.com", type,
		    NULL);
		free(a);
		return 0;
	}
	n = 12 + sizeof(question) + 4 + (size - 6);
	if ((pkt = malloc(n)) == NULL)
		return 0;
	memset(pkt, 0, 12);
	pkt[2] = 0x81;
	pkt[3] = 0x80 | (data[5] & 0x0f);
	pkt[5] = 1;
	memcpy(pkt + 6, data + 1, 4);
	memcpy(pkt + 12, question, sizeof(question));
	pkt[12 + sizeof(question)] = 0;
	pkt[12 + sizeof(question) + 1] = (unsigned char)type;
	pkt[12 + sizeof(question) + 2] = 0;
	pkt[12 + sizeof(question) + 3] = 1;
	memcpy(pkt + 12 + sizeof(question) + 4, data + 6, size - 6);
	a = resolver_parse_reply(pkt, n, "example.com", type, next);
	free(pkt);
	/* read what came back: ASan checks it all lies in the block */
	if (a != NULL && a->status == SPF_DNS_OK) {
		volatile unsigned sum = 0;

		for (unsigned i = 0; i < a->count; i++)
			for (unsigned k = 0; k < a->rr[i].len; k++)
				sum += a->rr[i].data[k];
	}
	free(a);
	/* where a CNAME chain goes on: a name, never longer than one */
	if (strlen(next) > 253)
		abort();
	return 0;
}
