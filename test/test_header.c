/*
 * test_header.c - cmocka tests of header.c, linked with it: what a sender
 * controls must not break a reply, a header field or a log line, and the
 * fields must read as meant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "header.h"

static void
test_esc(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(hdr_esc("plain text", buf, sizeof(buf)), "plain text");
	assert_string_equal(hdr_esc("a\r\nb\"c\\d\x01\xff", buf, sizeof(buf)),
	    "a\\x0d\\x0ab\\x22c\\x5cd\\x01\\xff");
	assert_string_equal(hdr_esc(NULL, buf, sizeof(buf)), "");
	hdr_esc("0123456789012345678901234567890123456789", buf, 16);
	assert_string_equal(buf, "012345678901...");
	/* an escape is never cut in half */
	hdr_esc("0123456789\r\n", buf, 16);
	assert_string_equal(buf, "0123456789...");
	hdr_esc("01234567\r", buf, 16);
	assert_string_equal(buf, "01234567\\x0d");
	assert_string_equal(hdr_esc("abc", buf, 3), "");
}

/* A verdict of RESULT for DOMAIN with explanation EXP. */
static struct hdr_verdict
verdict(enum spf_result result, const char *domain, const char *exp)
{
	struct hdr_verdict v;

	memset(&v, 0, sizeof(v));
	v.identity = SPF_ID_MAILFROM;
	v.ip = "192.0.2.1";
	v.helo = "helo.example";
	v.sender = "a@example.org";
	v.out.result = result;
	snprintf(v.out.domain, sizeof(v.out.domain), "%s", domain);
	snprintf(v.out.explanation, sizeof(v.out.explanation), "%s", exp);
	return v;
}

/* Every reply text is safe for smfi_setreply and Postfix: printable
 * ASCII, '%' only in pairs, short enough for one SMTP line. */
static void
assert_safe_reply(const struct hdr_reply *r)
{
	const char *p;
	size_t run = 0;

	assert_true(strlen(r->text) < HDR_REPLY_TEXT_MAX);
	assert_true(strlen(r->code) + 1 + strlen(r->status) + 1 +
	    strlen(r->text) + 2 <= 512);
	assert_int_equal(r->status[0], r->code[0]);
	for (p = r->text; ; p++) {
		if (*p == '%') {
			run++;
			continue;
		}
		assert_int_equal(run % 2, 0);
		run = 0;
		if (*p == '\0')
			break;
		assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	}
}

static void
test_reply(void **state)
{
	struct hdr_verdict v;
	struct hdr_reply r;
	char big[2000], tmpl[460];

	(void)state;
	/* the template filled in; "%%" of the template stays "%%" */
	v = verdict(SPF_FAIL, "example.org", "see http://x/");
	assert_int_equal(hdr_reply(&r, "550", "5.7.23",
	    "%{domain}: %{exp} (100%%)", &v), 0);
	assert_string_equal(r.code, "550");
	assert_string_equal(r.status, "5.7.23");
	assert_string_equal(r.text, "example.org: see http://x/ (100%%)");
	assert_safe_reply(&r);
	/* the default explanation names the client and the domain */
	v = verdict(SPF_FAIL, "example.org", SPF_DEFAULT_EXPLANATION);
	hdr_reply(&r, "550", "5.7.23", "SPF validation failed: %{exp}", &v);
	assert_string_equal(r.text, "SPF validation failed: 192.0.2.1 is not "
	    "a permitted sender for example.org");
	/* %{exp} is empty for any other result */
	v = verdict(SPF_SOFTFAIL, "example.org", "");
	hdr_reply(&r, "550", "5.7.23", "[%{exp}] %{domain}", &v);
	assert_string_equal(r.text, "[] example.org");
	/* the sender's bytes: '%' doubled, CR/LF and 8-bit as '?' */
	v = verdict(SPF_FAIL, "example.org", "100% a\r\nb\x01\xc3\xbc");
	hdr_reply(&r, "550", "5.7.23", "%{exp}", &v);
	assert_string_equal(r.text, "100%% a??b???");
	assert_safe_reply(&r);
	/* classes forced to agree, whatever was asked */
	hdr_reply(&r, "451", "5.7.24", "x", &v);
	assert_string_equal(r.status, "4.7.24");
	/* a long explanation is shortened, marked, never cut in a "%%" */
	memset(big, '%', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	v = verdict(SPF_FAIL, "example.org", big);
	assert_int_equal(hdr_reply(&r, "550", "5.7.23", "%{exp} [%{domain}]",
	    &v), 1);
	assert_safe_reply(&r);
	assert_non_null(strstr(r.text, "%%... [example.org]"));
	/* the template's own text stays whole; the explanation gives way
	 * first, the domain only when even "..." leaves too little */
	memset(tmpl, 'x', 400);
	strcpy(tmpl + 400, "%{exp}%{domain}");
	memset(big, 'e', sizeof(big) - 1);
	v = verdict(SPF_FAIL, "example.org", big);
	assert_int_equal(hdr_reply(&r, "550", "5.7.23", tmpl, &v), 1);
	assert_safe_reply(&r);
	assert_memory_equal(r.text, tmpl, 400);
	assert_string_equal(r.text + strlen(r.text) - 15, "e...example.org");
	memset(big, 'd', 300);
	big[300] = '\0';
	v = verdict(SPF_FAIL, big, "why");
	assert_int_equal(hdr_reply(&r, "550", "5.7.23", tmpl, &v), 1);
	assert_safe_reply(&r);
	assert_memory_equal(r.text + 400, "whyddd", 6);
	assert_string_equal(r.text + strlen(r.text) - 4, "d...");
	assert_int_equal(strlen(r.text), HDR_REPLY_TEXT_MAX - 1);
	assert_int_equal(strlen(r.text), HDR_REPLY_TEXT_MAX - 1);
}

/* Field values made in a test; freed by its teardown. */
static char *made[64];
static size_t nmade;

static const char *
keep(char *v)
{
	assert_non_null(v);
	assert_true(nmade < sizeof(made) / sizeof(made[0]));
	made[nmade++] = v;
	return v;
}

static int
free_made(void **state)
{
	(void)state;
	while (nmade > 0)
		free(made[--nmade]);
	return 0;
}

/* A verdict about SENDER from HELO with RESULT. */
static struct hdr_verdict
about(enum spf_identity id, const char *sender, const char *helo,
    enum spf_result result)
{
	struct hdr_verdict v;

	memset(&v, 0, sizeof(v));
	v.identity = id;
	v.ip = "192.0.2.1";
	v.helo = helo;
	v.sender = sender;
	v.out.result = result;
	return v;
}

/* The Received-SPF value for a pass of SENDER from HELO. */
static const char *
rspf(const char *sender, const char *helo)
{
	struct hdr_verdict v = about(SPF_ID_MAILFROM, sender, helo, SPF_PASS);

	return keep(hdr_received_spf(&v, "mx.example.org"));
}

/* The Authentication-Results value for a pass of SENDER under ID. */
static const char *
ares(const char *sender, const char *id)
{
	struct hdr_verdict v = about(SPF_ID_MAILFROM, sender, "helo.example",
	    SPF_PASS);

	return keep(hdr_auth_results(&v, 1, id));
}

/* HAYSTACK unfolded: each "\n\t" read as one space. */
static const char *
unfold(const char *haystack)
{
	static char u[1 << 16];
	size_t i, o = 0;

	for (i = 0; haystack[i] != '\0' && o + 1 < sizeof(u); i++) {
		if (haystack[i] == '\n' && haystack[i + 1] == '\t') {
			u[o++] = ' ';
			i++;
		} else {
			u[o++] = haystack[i];
		}
	}
	u[o] = '\0';
	return u;
}

static void
assert_has(const char *haystack, const char *needle)
{
	const char *u = unfold(haystack);

	if (strstr(u, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, u);
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

/* Values: a dot-atom or token as it is, anything else quoted. */
static void
test_values(void **state)
{
	(void)state;
	assert_has(rspf("a@example.org", "helo.example"), " helo=helo.example;");
	assert_has(rspf("a@example.org", "x; identity=helo"),
	    " helo=\"x; identity=helo\";");
	assert_has(rspf("a@example.org", "a\"b\\c\r\n"),
	    " helo=\"a\\\"b\\\\c??\";");
	assert_has(rspf("a@example.org", "a..b"), " helo=\"a..b\";");
	assert_has(rspf("a@example.org", ".a"), " helo=\".a\";");
	assert_has(rspf("a@example.org", "a;b"), " helo=\"a;b\";");
	/* the comment: '(' ')' '\\' as quoted-pairs, controls as '?' */
	assert_has(rspf("a(b)c\\d e", "helo.example"),
	    "domain of a\\(b\\)c\\\\d?e designates");
	assert_has(ares("user@example.org", "mx.example.org"),
	    "smtp.mailfrom=user@example.org");
	assert_has(ares("a b@example.org", "mx.example.org"),
	    "smtp.mailfrom=\"a b@example.org\"");
	assert_has(ares("noat", "mx.example.org"), "smtp.mailfrom=\"noat\"");
	assert_has(ares("a=b@x=y.example", "mx.example.org"),
	    "smtp.mailfrom=\"a=b@x=y.example\"");
	assert_has(ares("a@example.org", "a=b.example"),
	    "\"a=b.example\"; spf=pass");
	assert_has(ares("a@example.org", "mx.example.org"),
	    "mx.example.org; spf=pass");
}

static void
test_authserv_id(void **state)
{
	char id[64];

	(void)state;
	assert_int_equal(hdr_authserv_id("mx.example.org; spf=pass", id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.org");
	assert_int_equal(hdr_authserv_id(" (c (nested)) \"MX.example.org\"; x", id, sizeof(id)), 0);
	assert_string_equal(id, "MX.example.org");
	assert_int_equal(hdr_authserv_id("mx.example.org 1; none", id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.org");
	assert_int_equal(hdr_authserv_id("", id, sizeof(id)), -1);
	assert_int_equal(hdr_authserv_id("(unterminated", id, sizeof(id)), -1);
	assert_int_equal(hdr_authserv_id("\"open", id, sizeof(id)), -1);
	assert_int_equal(hdr_authserv_id("0123456789", id, 8), -1);
}

static void
test_received_spf(void **state)
{
	struct hdr_verdict v;
	const char *f;

	(void)state;
	v = about(SPF_ID_MAILFROM, "a@example.org", "helo.example", SPF_PASS);
	strcpy(v.out.mechanism, "ip4:192.0.2.0/24");
	f = keep(hdr_received_spf(&v, "mx.example.org"));
	assert_well_formed(f);
	assert_has(f, "pass (mx.example.org: domain of a@example.org "
	    "designates 192.0.2.1 as permitted sender) ");
	assert_has(f, "envelope-from=\"a@example.org\";");
	assert_has(f, "mechanism=\"ip4:192.0.2.0/24\"");
	assert_int_equal(f[strlen(f) - 1], '"');

	/* hostile everything: still one well-formed field */
	v.helo = "evil\r\nX-Injected: yes; identity=helo";
	v.out.result = SPF_PERMERROR;
	strcpy(v.out.problem, "bad \"record\"\r\n(x)");
	f = keep(hdr_received_spf(&v, "mx.example.org"));
	assert_well_formed(f);
	assert_null(strchr(f, '\r'));
	assert_has(f, "helo=\"evil??X-Injected: yes; identity=helo\";");
	assert_has(f, "problem=\"bad \\\"record\\\"?" "?(x)\"");
}

static void
test_auth_results(void **state)
{
	struct hdr_verdict v[2];
	const char *f;

	(void)state;
	v[0] = about(SPF_ID_HELO, "x y@example.org", "helo.example",
	    SPF_NEUTRAL);
	v[1] = about(SPF_ID_MAILFROM, "x y@example.org", "helo.example",
	    SPF_FAIL);
	f = keep(hdr_auth_results(v, 2, "mx.example.org"));
	assert_well_formed(f);
	assert_string_equal(f, "mx.example.org; spf=neutral smtp.helo=helo.example;"
	    "\n\tspf=fail smtp.mailfrom=\"x y@example.org\"");
}

/* Issue 11 item 6: a field far over the old 2048 bytes keeps every pair
 * whole; only the comment's copy of the sender is shortened. */
static void
test_long_values(void **state)
{
	static char sender[3000], helo[2500];
	struct hdr_verdict v;
	const char *f, *u;
	size_t i;

	(void)state;
	memset(sender, 's', sizeof(sender) - 1);
	memcpy(sender + sizeof(sender) - 14, "@long.example", 14);
	for (i = 0; i + 1 < sizeof(helo); i++)
		helo[i] = i % 2 ? '.' : 'h';
	helo[sizeof(helo) - 2] = 'x';
	v = about(SPF_ID_MAILFROM, sender, helo, SPF_FAIL);
	strcpy(v.out.mechanism, "-all");
	f = keep(hdr_received_spf(&v, "mx.example.org"));
	assert_well_formed(f);
	assert_true(strlen(f) > 2 * 2048);
	/* every pair there, the long values folded in their quotes only */
	u = unfold(f);
	assert_non_null(strstr(u, "receiver=mx.example.org;"));
	assert_non_null(strstr(u, "client-ip=192.0.2.1;"));
	assert_non_null(strstr(u, "envelope-from=\"sss"));
	assert_non_null(strstr(u, "@long.example\";"));
	assert_non_null(strstr(u, "helo=\"h.h.h"));
	assert_non_null(strstr(u, ".h.x\";"));
	assert_non_null(strstr(u, "identity=mailfrom;"));
	assert_non_null(strstr(u, "mechanism=-all"));
	/* the comment names the sender cut to 256 bytes, marked */
	assert_non_null(strstr(u, "(mx.example.org: domain of sss"));
	assert_non_null(strstr(u, "sss... does not designate"));

	f = keep(hdr_auth_results(&v, 1, "mx.example.org"));
	assert_well_formed(f);
	assert_non_null(strstr(unfold(f), "@long.example\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_esc),
		cmocka_unit_test(test_reply),
		cmocka_unit_test_teardown(test_values, free_made),
		cmocka_unit_test(test_authserv_id),
		cmocka_unit_test_teardown(test_received_spf, free_made),
		cmocka_unit_test_teardown(test_auth_results, free_made),
		cmocka_unit_test_teardown(test_long_values, free_made),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
