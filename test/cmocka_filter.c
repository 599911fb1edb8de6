/*
 * cmocka_filter.c - lets `make check TEST=NAME FILTER=PATTERN` pick the
 * cmocka tests to run without a line in each test program: linked into
 * every cmocka program with -Wl,--wrap=_cmocka_run_group_tests (see
 * CMOCKA_LIBS in test/test.mk), it hands CMOCKA_TEST_FILTER (cmocka's *
 * and ? wildcards) to cmocka_set_test_filter() before the group runs.
 * cmocka 1.1 reads no such variable itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

int __real__cmocka_run_group_tests(const char *, const struct CMUnitTest *const,
    const size_t, CMFixtureFunction, CMFixtureFunction);
int __wrap__cmocka_run_group_tests(const char *, const struct CMUnitTest *const,
    const size_t, CMFixtureFunction, CMFixtureFunction);

int
__wrap__cmocka_run_group_tests(const char *name,
    const struct CMUnitTest *const tests, const size_t n,
    CMFixtureFunction setup, CMFixtureFunction teardown)
{
	const char *filter = getenv("CMOCKA_TEST_FILTER");

	if (filter != NULL && *filter != '\0')
		cmocka_set_test_filter(filter);
	return __real__cmocka_run_group_tests(name, tests, n, setup, teardown);
}
