/*
 * conf_spf_stub.c - the two result-name functions of spf.c, so that the
 * configuration tests build and run without the evaluator.  The names
 * are RFC 7208 section 8's; the real ones are checked through
 * `spf-milter -t` by run-conf-tests.sh.
 */
#include <strings.h>

#include "../spf.h"

static const char *const names[SPF_NRESULTS] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror",
	"permerror"
};

const char *
spf_result_name(enum spf_result r)
{
	return (unsigned)r < SPF_NRESULTS ? names[r] : "unknown";
}

int
spf_result_parse(const char *name)
{
	int i;

	for (i = 0; i < SPF_NRESULTS; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}
