/*
 * test_milter.c - cmocka tests of the text cleaning and header formatting
 * in spf-milter.c: what a sender controls must not break a reply, a
 * header field or a log line.  spf-milter.c is included to reach its
 * static functions; its main() is renamed out of the way.
 */
#define main spf_milter_main
#include "../spf-milter.c"
#undef main

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void
test_esc(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(esc("plain text", buf, sizeof(buf)), "plain text");
	assert_string_equal(esc("a\r\nb\"c\\d\x01\xff", buf, sizeof(buf)),
	    "a\\x0d\\x0ab\\x22c\\x5cd\\x01\\xff");
	assert_string_equal(esc(NULL, buf, sizeof(buf)), "");
	esc("0123456789012345678901234567890123456789", buf, 16);
	assert_true(strlen(buf) < 16);
	assert_string_equal(buf + strlen(buf) - 3, "...");
}

static void
test_reply_clean(void **state)
{
	char buf[REPLY_TEXT_MAX + 16];
	char big[2000];

	(void)state;
	reply_clean("100% a\r\nb\x01\xc3\xbc", buf, sizeof(buf));
	assert_string_equal(buf, "100%% a??b???");
	memset(big, '%', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	reply_clean(big, buf, sizeof(buf));
	assert_true(strlen(buf) < REPLY_TEXT_MAX);
	assert_int_equal(strlen(buf) % 2, 0);
}

static void
test_values(void **state)
{
	char buf[VALUE_MAX * 2 + 4];

	(void)state;
	assert_true(is_dot_atom("mx.example.org"));
	assert_false(is_dot_atom("a..b"));
	assert_false(is_dot_atom(".a"));
	assert_false(is_dot_atom("a;b"));
	assert_false(is_dot_atom(""));
	header_value("helo.example", buf, sizeof(buf));
	assert_string_equal(buf, "helo.example");
	header_value("x; identity=helo", buf, sizeof(buf));
	assert_string_equal(buf, "\"x; identity=helo\"");
	header_value("a\"b\\c\r\n", buf, sizeof(buf));
	assert_string_equal(buf, "\"a\\\"b\\\\c??\"");
	address_value("user@example.org", buf, sizeof(buf));
	assert_string_equal(buf, "user@example.org");
	address_value("a b@example.org", buf, sizeof(buf));
	assert_string_equal(buf, "\"a b@example.org\"");
	address_value("noat", buf, sizeof(buf));
	assert_string_equal(buf, "\"noat\"");
	address_value("a=b@x=y.example", buf, sizeof(buf));
	assert_string_equal(buf, "\"a=b@x=y.example\"");
	token_value("a=b.example", buf, sizeof(buf));
	assert_string_equal(buf, "\"a=b.example\"");
	token_value("mx.example.org", buf, sizeof(buf));
	assert_string_equal(buf, "mx.example.org");
	comment_text("a(b)c\\d e", buf, sizeof(buf));
	assert_string_equal(buf, "a\\(b\\)c\\\\d?e");
}

static void
test_authserv_id(void **state)
{
	char id[64];

	(void)state;
	assert_int_equal(ar_authserv_id("mx.example.org; spf=pass", id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.org");
	assert_int_equal(ar_authserv_id(" (c (nested)) \"MX.example.org\"; x", id, sizeof(id)), 0);
	assert_string_equal(id, "MX.example.org");
	assert_int_equal(ar_authserv_id("mx.example.org 1; none", id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.org");
	assert_int_equal(ar_authserv_id("", id, sizeof(id)), -1);
	assert_int_equal(ar_authserv_id("(unterminated", id, sizeof(id)), -1);
	assert_int_equal(ar_authserv_id("\"open", id, sizeof(id)), -1);
}

/* Every line of a built field is short, and a line break is a fold. */
static void
assert_well_formed(const char *v)
{
	const char *p;
	size_t col = 0;

	for (p = v; *p != '\0'; p++) {
		if (*p == '\n') {
			assert_true(p[1] == '\t');
			col = 0;
			continue;
		}
		assert_true((unsigned char)*p >= 0x20 || *p == '\t');
		assert_true((unsigned char)*p < 0x7f);
		assert_true(++col < 998);
	}
}

static void
test_received_spf(void **state)
{
	struct verdict v;
	struct hbuf b;

	(void)state;
	memset(&v, 0, sizeof(v));
	v.identity = SPF_ID_MAILFROM;
	v.ip = "192.0.2.1";
	v.helo = "helo.example";
	v.sender = "a@example.org";
	v.out.result = SPF_PASS;
	strcpy(v.out.sender, "a@example.org");
	strcpy(v.out.mechanism, "ip4:192.0.2.0/24");
	format_received_spf(&v, "mx.example.org", &b);
	assert_well_formed(b.s);
	assert_non_null(strstr(b.s, "pass (mx.example.org: domain of"));
	assert_non_null(strstr(b.s, "envelope-from=\"a@example.org\";"));
	assert_non_null(strstr(b.s, "mechanism=\"ip4:192.0.2.0/24\""));
	assert_int_equal(b.s[b.len - 1], '"');

	/* hostile everything: still one well-formed field */
	v.helo = "evil\r\nX-Injected: yes; identity=helo";
	memset(v.out.sender, 'a', sizeof(v.out.sender) - 1);
	v.out.sender[sizeof(v.out.sender) - 1] = '\0';
	v.out.result = SPF_PERMERROR;
	strcpy(v.out.problem, "bad \"record\"\r\n(x)");
	format_received_spf(&v, "mx.example.org", &b);
	assert_well_formed(b.s);
	assert_null(strstr(b.s, "\r"));
	assert_non_null(strstr(b.s, "helo=\"evil??X-Injected: yes; identity=helo\";"));
	assert_non_null(strstr(b.s, "problem=\"bad \\\"record\\\"?" "?(x)\""));
}

static void
test_auth_results(void **state)
{
	struct verdict v[2];
	struct hbuf b;

	(void)state;
	memset(v, 0, sizeof(v));
	v[0].identity = SPF_ID_HELO;
	v[0].helo = "helo.example";
	v[0].out.result = SPF_NEUTRAL;
	v[1].identity = SPF_ID_MAILFROM;
	v[1].helo = "helo.example";
	v[1].out.result = SPF_FAIL;
	strcpy(v[1].out.sender, "x y@example.org");
	format_auth_results(v, 2, "mx.example.org", &b);
	assert_well_formed(b.s);
	assert_string_equal(b.s, "mx.example.org; spf=neutral smtp.helo=helo.example;"
	    "\n\tspf=fail smtp.mailfrom=\"x y@example.org\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esc),
		cmocka_unit_test(test_reply_clean),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_authserv_id),
		cmocka_unit_test(test_received_spf),
		cmocka_unit_test(test_auth_results),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
