/*
 * suite_mem.c - the RFC 7208 test suite in process: every scenario's
 * zone data in the in-memory resolver, every test through spf_check(),
 * comparing the result and, where the suite gives one, the explanation.
 *
 * Input: the output of test/suite2txt.py (the suite itself is read from
 * Debian's python3-spf at test time, never stored here).
 * Usage: suite_mem FILE [-v] [TESTNAME]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memres.h"

static int verbose;

static void
print_trace(void *arg, const char *line)
{
	(void)arg;
	printf("    %s\n", line);
}

static int
result_ok(const char *expected, enum spf_result got)
{
	char buf[256], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", expected);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, spf_result_name(got)) == 0)
			return 1;
	return 0;
}

/* Fields: name ip mailfrom helo results has-exp exp */
static int
run_test(struct memzone *z, char **f, const char *only)
{
	struct spf_request req;
	struct spf_resolver res;
	struct spf_outcome out;
	int ok;

	if (only != NULL && strcmp(only, f[0]) != 0)
		return -1;
	memset(&req, 0, sizeof(req));
	if (spf_request_set_ip(&req, f[1]) != 0) {
		printf("FAIL %s: bad client address %s\n", f[0], f[1]);
		return 0;
	}
	req.sender = f[2];
	req.helo = f[3];
	req.identity = SPF_ID_MAILFROM;
	req.receiver = "receiver.example";
	if (verbose)
		req.trace = print_trace;
	memzone_resolver(z, &res);
	spf_check(&req, &res, &out);
	ok = result_ok(f[4], out.result);
	if (ok && strcmp(f[5], "1") == 0 && out.result == SPF_FAIL &&
	    strcmp(f[6], out.explanation) != 0)
		ok = 0;
	if (!ok || verbose)
		printf("%s %s: got %s (%s%s%s) exp \"%s\"; want %s exp \"%s\"\n",
		    ok ? "ok" : "FAIL", f[0], spf_result_name(out.result),
		    out.mechanism, out.problem[0] ? " problem: " : "",
		    out.problem, out.explanation, f[4],
		    strcmp(f[5], "1") == 0 ? f[6] : "-");
	return ok;
}

int
main(int argc, char **argv)
{
	static char line[16384];
	struct memzone z;
	FILE *in;
	int passed = 0, failed = 0, i;
	const char *only = NULL, *path = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (path == NULL)
			path = argv[i];
		else
			only = argv[i];
	}
	if (path == NULL || (in = fopen(path, "r")) == NULL) {
		fprintf(stderr, "usage: suite_mem SUITE.txt [-v] [TEST]\n");
		return 2;
	}
	memzone_init(&z);
	while (fgets(line, sizeof(line), in) != NULL) {
		char *f[16], *p = line;
		int nf = 0, r;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == 'S') {
			memzone_clear(&z);
			continue;
		}
		if (line[0] == 'Z') {
			if (memzone_add_line(&z, line + 2) != 0) {
				fprintf(stderr, "bad zone line: %s\n", line);
				return 2;
			}
			continue;
		}
		if (line[0] != 'T')
			continue;
		for (p = line + 2; nf < 16;) {
			f[nf++] = p;
			if ((p = strchr(p, '\t')) == NULL)
				break;
			*p++ = '\0';
		}
		if (nf != 7) {
			fprintf(stderr, "bad test line\n");
			return 2;
		}
		for (i = 0; i < nf; i++)
			unescape(f[i]);
		r = run_test(&z, f, only);
		if (r > 0)
			passed++;
		else if (r == 0)
			failed++;
	}
	fclose(in);
	memzone_clear(&z);
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
