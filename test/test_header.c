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
#include <strings.h>
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
	assert_has(rspf("a@example.org", "a\"b\\c\r\n"),
	    " helo=\"a\\\"b\\\\c??\";");
	assert_has(rspf("a@example.org", "a..b"), " helo=\"a..b\";");
	assert_has(rspf("a@example.org", ".a"), " helo=\".a\";");
	assert_has(rspf("a@example.org", "a b"), " helo=\"a b\";");
	assert_has(rspf("a@example.org", "[192.0.2.1]"),
	    " helo=\"[192.0.2.1]\";");
	/* what naive readers take for structure is '?' inside quotes */
	assert_has(rspf("a@example.org", "x; identity=helo"),
	    " helo=\"x? identity=helo\";");
	assert_has(rspf("\"a;b (c)\"@example.org", "h.example"),
	    "envelope-from=\"\\\"a?b ?c?\\\"@example.org\";");
	/* the comment: '(' ')' '\\' as quoted-pairs, controls as '?' */
	assert_has(rspf("a(b)c\\d e", "helo.example"),
	    "domain of a\\(b\\)c\\\\d?e designates");
	/* smtp.mailfrom: the domain, a token or quoted */
	assert_has(ares("user@example.org", "mx.example.org"),
	    "; spf=pass smtp.mailfrom=example.org");
	assert_has(ares("a b@Example.ORG", "mx.example.org"),
	    "smtp.mailfrom=Example.ORG");
	assert_has(ares("noat.example", "mx.example.org"),
	    "smtp.mailfrom=noat.example");
	assert_has(ares("a=b@x=y.example", "mx.example.org"),
	    "smtp.mailfrom=\"x=y.example\"");
	assert_has(ares("a@[192.0.2.1]", "mx.example.org"),
	    "smtp.mailfrom=\"[192.0.2.1]\"");
	assert_has(ares("a@x; spf=pass", "mx.example.org"),
	    "smtp.mailfrom=\"x? spf=pass\"");
	assert_has(ares("a@", "mx.example.org"), "smtp.mailfrom=\"\"");
	assert_has(ares("a@example.org", "a=b.example"),
	    "\"a=b.example\"; spf=pass");
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
	assert_string_equal(unfold(f), "pass (mx.example.org: domain of "
	    "a@example.org designates 192.0.2.1 as permitted sender) "
	    "receiver=mx.example.org; client-ip=192.0.2.1; "
	    "envelope-from=\"a@example.org\"; helo=helo.example; "
	    "mechanism=\"ip4:192.0.2.0/24\"; identity=mailfrom");

	/* the HELO field: about the HELO name, for the real sender */
	v = about(SPF_ID_HELO, "a@example.org", "helo.example", SPF_FAIL);
	strcpy(v.out.mechanism, "-all");
	f = keep(hdr_received_spf(&v, "mx.example.org"));
	assert_string_equal(unfold(f), "fail (mx.example.org: domain of "
	    "helo.example does not designate 192.0.2.1 as permitted sender) "
	    "receiver=mx.example.org; client-ip=192.0.2.1; "
	    "envelope-from=\"a@example.org\"; helo=helo.example; "
	    "mechanism=-all; identity=helo");

	/* the null sender: postmaster@HELO in both fields */
	v = about(SPF_ID_MAILFROM, "", "helo.example", SPF_NONE);
	f = keep(hdr_received_spf(&v, "mx.example.org"));
	assert_has(f, "none (mx.example.org: domain of "
	    "postmaster@helo.example does not designate permitted sender "
	    "hosts) ");
	assert_has(f, "envelope-from=\"postmaster@helo.example\"; "
	    "helo=helo.example; identity=mailfrom");
	v.identity = SPF_ID_HELO;
	assert_has(keep(hdr_received_spf(&v, "mx.example.org")),
	    "envelope-from=\"postmaster@helo.example\"; helo=helo.example; "
	    "identity=helo");

	/* IPv6: quoted (':' is no atext) */
	v = about(SPF_ID_MAILFROM, "a@example.org", "h.example", SPF_NEUTRAL);
	v.ip = "2001:db8::1";
	assert_has(keep(hdr_received_spf(&v, "mx.example.org")),
	    "(mx.example.org: 2001:db8::1 is neither permitted nor denied by "
	    "domain of a@example.org) receiver=mx.example.org; "
	    "client-ip=\"2001:db8::1\";");

	/* hostile everything: still one well-formed field */
	v = about(SPF_ID_MAILFROM, "a@example.org",
	    "evil\r\nX-Injected: yes; identity=helo", SPF_PERMERROR);
	strcpy(v.out.problem, "bad \"record\"\r\n(x)");
	f = keep(hdr_received_spf(&v, "mx.example.org"));
	assert_well_formed(f);
	assert_null(strchr(f, '\r'));
	assert_has(f, "helo=\"evil??X-Injected: yes? identity=helo\";");
	assert_has(f, "problem=\"bad \\\"record\\\"?" "??x?\"; "
	    "identity=mailfrom");
}

/* Where the value of the last "KEY=" in field F starts, or NULL. */
static const char *
last_key(const char *f, const char *key)
{
	const char *p, *last = NULL;

	for (p = strstr(f, key); p != NULL; p = strstr(p + 1, key))
		last = p + strlen(key);
	return last;
}

/* Where the value of the last "; spf=" of field F starts (blanks
 * allowed, any case), or NULL. */
static const char *
last_result(const char *f)
{
	const char *p, *q, *last = NULL;

	for (p = strchr(f, ';'); p != NULL; p = strchr(p + 1, ';')) {
		for (q = p + 1; *q == ' ' || *q == '\t'; q++)
			;
		if (strncasecmp(q, "spf", 3) != 0)
			continue;
		for (q += 3; *q == ' ' || *q == '\t'; q++)
			;
		if (*q++ != '=')
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		last = q;
	}
	return last;
}

/* Field F quotes no ';', '(' or ')', its comments are balanced, and its
 * last "identity=" is the final pair, ours. */
static void
assert_injection_proof(const char *f, const char *identity)
{
	const char *u = unfold(f), *p;
	int quoted = 0, depth = 0;

	for (p = u; *p != '\0'; p++) {
		if (*p == '\\' && (quoted || depth > 0) && p[1] != '\0')
			p++;
		else if (depth > 0)
			depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
		else if (*p == '"')
			quoted = !quoted;
		else if (quoted && strchr(";()", *p) != NULL)
			fail_msg("'%c' inside quotes: %s", *p, u);
		else if (*p == '(')
			depth = 1;
	}
	assert_false(quoted);
	assert_int_equal(depth, 0);
	if (identity != NULL) {
		p = last_key(u, "identity=");
		assert_non_null(p);
		assert_string_equal(p, identity);
	}
}

/*
 * A sender cannot make a reader see a pair we did not write, whatever it
 * puts in its address, HELO name or DNS data (issue 9): readers that
 * split at every ';' or take '(' for a comment inside quotes, and readers
 * that take the last "identity=" or the last "; spf=".
 */
static void
test_injection(void **state)
{
	static const char *hostile[] = {
		"\"envelope-from=a@victim.example;identity=mailfrom;(\""
		    "@victim.example",
		"a;identity=mailfrom@victim.example",
		"a)identity=mailfrom;(b@victim.example",
		"a\\\";identity=mailfrom;x@victim.example",
		"a@x;spf=pass smtp.mailfrom=victim.example",
		"a@x (spf=pass)",
		"a@x\"; spf=pass",
	};
	struct hdr_verdict v[2];
	const char *f, *last;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		v[0] = about(SPF_ID_HELO, hostile[i], "attacker.example",
		    SPF_PASS);
		strcpy(v[0].out.mechanism, "exists:%{l};identity=mailfrom.x");
		f = keep(hdr_received_spf(&v[0], "mx.example.org"));
		assert_well_formed(f);
		assert_injection_proof(f, "helo");
		v[1] = about(SPF_ID_MAILFROM, hostile[i], hostile[i], SPF_FAIL);
		strcpy(v[1].out.problem, "x;identity=helo (y");
		f = keep(hdr_received_spf(&v[1], "mx.example.org"));
		assert_injection_proof(f, "mailfrom");
		f = keep(hdr_auth_results(v, 2, "mx.example.org"));
		assert_injection_proof(f, NULL);
		/* the last "; spf=" is our final result */
		last = last_result(unfold(f));
		assert_non_null(last);
		assert_memory_equal(last, "fail smtp.mailfrom=", 19);
	}
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
	    "\n\tspf=fail smtp.mailfrom=example.org");
	f = keep(hdr_auth_results(v + 1, 1, "mx.example.org"));
	assert_string_equal(f, "mx.example.org; spf=fail smtp.mailfrom=example.org");
	/* the null sender: the HELO domain */
	v[1] = about(SPF_ID_MAILFROM, "", "helo.example", SPF_PASS);
	f = keep(hdr_auth_results(v + 1, 1, "mx.example.org"));
	assert_string_equal(f, "mx.example.org; spf=pass smtp.mailfrom=helo.example");
	/* a HELO name that is no token is quoted */
	v[0] = about(SPF_ID_HELO, "", "[192.0.2.1]", SPF_NONE);
	f = keep(hdr_auth_results(v, 1, "mx.example.org"));
	assert_string_equal(f, "mx.example.org; spf=none smtp.helo=\"[192.0.2.1]\"");
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
	assert_non_null(strstr(u, "mechanism=-all; identity=mailfrom"));
	/* the comment names the sender cut to 256 bytes, marked */
	assert_non_null(strstr(u, "(mx.example.org: domain of sss"));
	assert_non_null(strstr(u, "sss... does not designate"));

	f = keep(hdr_auth_results(&v, 1, "mx.example.org"));
	assert_well_formed(f);
	assert_non_null(strstr(unfold(f), "smtp.mailfrom=long.example"));
	v.identity = SPF_ID_HELO;
	f = keep(hdr_auth_results(&v, 1, "mx.example.org"));
	assert_well_formed(f);
	assert_non_null(strstr(unfold(f), "smtp.helo=\"h.h.h"));
}

/* Issue 12: an exempted message carries its true result, the reason it
 * was not enforced in a comment; nothing in the note adds structure. */
static void
test_note(void **state)
{
	static const char note[] = "not enforced: trusted forwarder "
	    "mx2.example.org, PTR confirmed";
	struct hdr_verdict v[2];
	const char *f, *last;
	int r;

	(void)state;
	v[1] = about(SPF_ID_MAILFROM, "joe@victim.example", "mx2.example.org",
	    SPF_FAIL);
	strcpy(v[1].out.mechanism, "-all");
	v[1].note = note;
	f = keep(hdr_received_spf(&v[1], "mx.example.org"));
	assert_well_formed(f);
	assert_string_equal(unfold(f), "fail (mx.example.org: domain of "
	    "joe@victim.example does not designate 192.0.2.1 as permitted "
	    "sender, not enforced: trusted forwarder mx2.example.org, PTR "
	    "confirmed) receiver=mx.example.org; client-ip=192.0.2.1; "
	    "envelope-from=\"joe@victim.example\"; helo=mx2.example.org; "
	    "mechanism=-all; identity=mailfrom");
	assert_injection_proof(f, "mailfrom");
	f = keep(hdr_auth_results(&v[1], 1, "mx.example.org"));
	assert_well_formed(f);
	assert_string_equal(unfold(f), "mx.example.org; spf=fail (not "
	    "enforced: trusted forwarder mx2.example.org, PTR confirmed) "
	    "smtp.mailfrom=victim.example");
	/* with the HELO result before it, the final one is still last */
	v[0] = about(SPF_ID_HELO, "joe@victim.example", "mx2.example.org",
	    SPF_NONE);
	f = keep(hdr_auth_results(v, 2, "mx.example.org"));
	last = last_result(unfold(f));
	assert_non_null(last);
	assert_memory_equal(last, "fail (not enforced", 18);
	/* every result's sentence ends before the note */
	for (r = 0; r < SPF_NRESULTS; r++) {
		v[1].out.result = (enum spf_result)r;
		f = keep(hdr_received_spf(&v[1], "mx.example.org"));
		assert_well_formed(f);
		assert_injection_proof(f, "mailfrom");
		assert_has(f, ", not enforced: trusted forwarder "
		    "mx2.example.org, PTR confirmed) receiver=");
		assert_int_equal(strncmp(f, spf_result_name((enum spf_result)r),
		    strlen(spf_result_name((enum spf_result)r))), 0);
	}
	/* a hostile name in a note: no pair, comment end or quote */
	v[1].out.result = SPF_FAIL;
	v[1].note = "not enforced: trusted forwarder x;spf=pass)(\"y\r\n\x80 "
	    "identity=helo";
	f = keep(hdr_received_spf(&v[1], "mx.example.org"));
	assert_well_formed(f);
	assert_injection_proof(f, "mailfrom");
	assert_has(f, "sender, not enforced: trusted forwarder "
	    "x?spf?pass???y??? identity?helo) receiver=");
	f = keep(hdr_auth_results(&v[1], 1, "mx.example.org"));
	assert_injection_proof(f, NULL);
	last = last_result(unfold(f));
	assert_non_null(last);
	assert_memory_equal(last, "fail (not enforced", 18);
	/* an empty note is none */
	v[1].note = "  ";
	f = keep(hdr_received_spf(&v[1], "mx.example.org"));
	assert_has(f, "as permitted sender) receiver=");
	f = keep(hdr_auth_results(&v[1], 1, "mx.example.org"));
	assert_string_equal(unfold(f), "mx.example.org; spf=fail "
	    "smtp.mailfrom=victim.example");
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
		cmocka_unit_test_teardown(test_injection, free_made),
		cmocka_unit_test_teardown(test_long_values, free_made),
		cmocka_unit_test_teardown(test_note, free_made),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
