/*
 * test_spf.c - unit tests of the evaluator: record parsing, macro
 * expansion, CIDR matching, the lookup limits and the look-ahead bound.
 * It includes spf.c to reach the static functions it tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../spf.c"
#include "memres.h"

/* ------------------------------------------------------------- fixtures */

static struct memzone zone;

static int
setup(void **state)
{
	(void)state;
	memzone_init(&zone);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	memzone_clear(&zone);
	return 0;
}

static void
add(const char *line)
{
	char buf[4096], *p;

	/* "name TYPE value..." with single spaces before the value */
	snprintf(buf, sizeof(buf), "%s", line);
	p = strchr(buf, ' ');
	assert_non_null(p);
	*p = '\t';
	p = strchr(p + 1, ' ');
	if (p != NULL) {
		*p = '\t';
		if (strncmp(p - 2, "MX", 2) == 0 && (p = strchr(p + 1, ' ')))
			*p = '\t';
	}
	assert_int_equal(memzone_add_line(&zone, buf), 0);
}

static void
txt(const char *name, const char *text)
{
	assert_int_equal(memzone_add(&zone, name, SPF_T_TXT, 0, text,
	    strlen(text), 0), 0);
}

static enum spf_result
check(const char *ip, const char *sender, const char *helo,
    struct spf_outcome *out)
{
	struct spf_request req;
	struct spf_resolver res;

	memset(&req, 0, sizeof(req));
	assert_int_equal(spf_request_set_ip(&req, ip), 0);
	req.sender = sender;
	req.helo = helo;
	req.receiver = "mx.receiver.example";
	req.now = 1700000000;
	memzone_resolver(&zone, &res);
	zone.queries = 0;
	spf_check(&req, &res, out);
	return out->result;
}

static enum spf_result
result_of(const char *record, const char *ip)
{
	struct spf_outcome out;

	memzone_clear(&zone);
	txt("example.com", record);
	return check(ip, "user@example.com", "helo.example.com", &out);
}

/* The result for IP with the zone as it is. */
static enum spf_result
result_of_zone(const char *ip)
{
	struct spf_outcome out;

	return check(ip, "user@example.com", "helo.example.com", &out);
}

/* -------------------------------------------------------------- parsing */

static void
test_record_syntax(void **state)
{
	static const char *const bad[] = {
		"v=spf1 foo", "v=spf1 all:x", "v=spf1 all/24", "v=spf1 a:",
		"v=spf1 include", "v=spf1 include:", "v=spf1 exists",
		"v=spf1 ip4:1.2.3", "v=spf1 ip4:1.2.3.4/33", "v=spf1 ip4:1.2.3.256",
		"v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3.4/024",
		"v=spf1 ip6:::1/129", "v=spf1 ip6:1.2.3.4", "v=spf1 a/33",
		"v=spf1 a//129", "v=spf1 a/", "v=spf1 a//", "v=spf1 mx:foo",
		"v=spf1 a:example.123", "v=spf1 a:%{x}.com", "v=spf1 a:%{d0}.com",
		"v=spf1 a:%{c}.example.com", "v=spf1 a:%{d", "v=spf1 a:%",
		"v=spf1 redirect=a.com redirect=b.com", "v=spf1 exp=a.com exp=b.com",
		"v=spf1 1foo=bar", "v=spf1 foo=%{", "v=spf1 =x", "v=spf1 -foo=bar",
		"v=spf1 ptr:", "v=spf1 ip4:1.2.3.4//64", "v=spf1 \x01all",
		"v=spf1 a:ex\xc3\xa4mple.com", "v=spf1 ip4:1.2.3.4/",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum spf_result r = result_of(bad[i], "192.0.2.1");

		if (r != SPF_PERMERROR)
			fail_msg("\"%s\" gave %s, want permerror", bad[i],
			    spf_result_name(r));
	}
}

static void
test_record_good(void **state)
{
	static const struct { const char *rec; enum spf_result want; } good[] = {
		{ "v=spf1", SPF_NEUTRAL },
		{ "v=spf1 ", SPF_NEUTRAL },
		{ "V=SPF1 -ALL", SPF_FAIL },
		{ "v=spf1   ~all  ", SPF_SOFTFAIL },
		{ "v=spf1 ?all", SPF_NEUTRAL },
		{ "v=spf1 +all", SPF_PASS },
		{ "v=spf1 ip4:192.0.2.0/24 -all", SPF_PASS },
		{ "v=spf1 ip4:192.0.2.0/0 -all", SPF_PASS },
		{ "v=spf1 ip4:198.51.100.1 -all", SPF_FAIL },
		{ "v=spf1 ip6:2001:db8::/32 -all", SPF_FAIL },
		{ "v=spf1 foo.bar-baz_1=%{d}x -all", SPF_FAIL },
		{ "v=spf1 -ip4:192.0.2.1 +all", SPF_FAIL },
		{ "v=spf1 ip6:::ffff:192.0.2.1 -all", SPF_FAIL },
		{ "v=spf1 unknown-mod=anything.%{d} -all", SPF_FAIL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		enum spf_result r = result_of(good[i].rec, "192.0.2.1");

		if (r != good[i].want)
			fail_msg("\"%s\" gave %s, want %s", good[i].rec,
			    spf_result_name(r), spf_result_name(good[i].want));
	}
}

static void
test_version(void **state)
{
	(void)state;
	assert_int_equal(result_of("v=spf10 -all", "192.0.2.1"), SPF_NONE);
	assert_int_equal(result_of("v=spf1-all", "192.0.2.1"), SPF_NONE);
	assert_int_equal(result_of("spf1 -all", "192.0.2.1"), SPF_NONE);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 -all");
	txt("example.com", "v=spf1 +all");
	{
		struct spf_outcome out;

		assert_int_equal(check("192.0.2.1", "a@example.com", "h.example",
		    &out), SPF_PERMERROR);
		assert_non_null(strstr(out.problem, "more than one"));
	}
}

static void
test_dual_cidr(void **state)
{
	struct spf_outcome out;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:h.example.com/24//64 -all");
	add("h.example.com A 192.0.2.200");
	add("h.example.com AAAA 2001:db8:1:2::1");
	assert_int_equal(check("192.0.2.7", "u@example.com", "x.example", &out),
	    SPF_PASS);
	assert_string_equal(out.mechanism, "a:h.example.com/24//64");
	assert_int_equal(check("192.0.3.7", "u@example.com", "x.example", &out),
	    SPF_FAIL);
	assert_int_equal(check("2001:db8:1:2:ffff::9", "u@example.com",
	    "x.example", &out), SPF_PASS);
	assert_int_equal(check("2001:db8:1:3::1", "u@example.com", "x.example",
	    &out), SPF_FAIL);
	/* /0 matches every address of the family, never the other one. */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 mx/0 -all");
	add("example.com MX 10 mail.example.com");
	add("mail.example.com A 203.0.113.1");
	assert_int_equal(check("198.51.100.4", "u@example.com", "x.example",
	    &out), SPF_PASS);
	assert_int_equal(check("2001:db8::1", "u@example.com", "x.example",
	    &out), SPF_FAIL);
}

static void
test_addr_match(void **state)
{
	unsigned char a[16] = { 192, 0, 2, 0x81 }, b[16] = { 192, 0, 2, 0x80 };

	(void)state;
	assert_true(addr_match(a, b, 0));
	assert_true(addr_match(a, b, 24));
	assert_true(addr_match(a, b, 25));
	assert_true(addr_match(a, b, 31));
	assert_false(addr_match(a, b, 32));
	b[0] = 193;
	assert_false(addr_match(a, b, 8));
	assert_true(addr_match(a, b, 7));
}

static void
test_mapped_ipv4(void **state)
{
	struct spf_request req;

	(void)state;
	memset(&req, 0, sizeof(req));
	assert_int_equal(spf_request_set_ip(&req, "::ffff:192.0.2.1"), 0);
	assert_int_equal(req.family, AF_INET);
	assert_memory_equal(req.ip, "\xc0\x00\x02\x01", 4);
	assert_int_equal(result_of("v=spf1 ip4:192.0.2.0/24 -all",
	    "::ffff:192.0.2.9"), SPF_PASS);
	assert_int_equal(spf_request_set_ip(&req, "192.0.2"), -1);
	assert_int_equal(spf_request_set_ip(&req, "1.2.3.4x"), -1);
	{
		/* the one unmapping, as the milter's client address takes it */
		static const unsigned char m6[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0xff, 0xff, 198, 51, 100, 7 };
		static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
		unsigned char ip[16];
		int fam = 0;

		assert_int_equal(spf_addr_set(AF_INET6, m6, &fam, ip), 0);
		assert_int_equal(fam, AF_INET);
		assert_memory_equal(ip, "\xc6\x33\x64\x07", 4);
		assert_int_equal(spf_addr_set(AF_INET6, v6, &fam, ip), 0);
		assert_int_equal(fam, AF_INET6);
		assert_memory_equal(ip, v6, 16);
		assert_int_equal(spf_addr_set(AF_UNIX, v6, &fam, ip), -1);
	}
	assert_int_equal(spf_request_set_ip(&req, ""), -1);
}

/* ------------------------------------------------------- macro expansion */

/* An evaluation of the request set up as spf_check() sets it up. */
static void
eval_start(struct eval *e, struct spf_request *req, struct spf_outcome *o,
    struct spf_resolver *res)
{
	memzone_resolver(&zone, res);
	memset(e, 0, sizeof(*e));
	memset(o, 0, sizeof(*o));
	e->req = req;
	e->res = res;
	e->out = o;
	assert_int_equal(split_sender(e), 0);
}

static const char *
expand_for(const char *ip, const char *sender, const char *macro, int exp)
{
	static char out[4096];
	struct spf_request req;
	struct spf_outcome o;
	struct spf_resolver res;
	struct eval e;
	struct sink k;
	size_t last;

	memset(&req, 0, sizeof(req));
	assert_int_equal(spf_request_set_ip(&req, ip), 0);
	req.sender = sender;
	req.helo = "mx.sender.example";
	req.receiver = "mx.receiver.example";
	req.now = 1700000000;
	eval_start(&e, &req, &o, &res);
	assert_int_equal(macro_syntax(macro, strlen(macro), exp, &last), 0);
	sink_init(&k, out, sizeof(out), 0);
	assert_int_equal(expand(&e, macro, strlen(macro), "email.example.com",
	    &k), 0);
	assert_false(k.b.overflow);
	eval_release(&e);
	return out;
}

static void
test_macros_rfc_examples(void **state)
{
	static const struct { const char *macro, *want; } v4[] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
		  "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
		  "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net",
		  "example.com.trusted-domains.example.net" },
		{ "%%%_%-", "% %20" },
		{ "%{h}", "mx.sender.example" },
		{ "%{v}", "in-addr" },
		{ "%{d99}", "email.example.com" },
		{ "%{D}", "email.example.com" },
		{ "%{L}", "strong-bad" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		assert_string_equal(expand_for("192.0.2.3",
		    "strong-bad@email.example.com", v4[i].macro, 0), v4[i].want);
	assert_string_equal(expand_for("2001:db8::cb01",
	    "strong-bad@email.example.com", "%{ir}.%{v}._spf.%{d2}", 0),
	    "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2"
	    ".ip6._spf.example.com");
}

static void
test_macros_exp_only(void **state)
{
	size_t last;

	(void)state;
	assert_int_equal(macro_syntax("%{c}", 4, 0, &last), -1);
	assert_int_equal(macro_syntax("%{r}", 4, 0, &last), -1);
	assert_int_equal(macro_syntax("%{t}", 4, 0, &last), -1);
	assert_string_equal(expand_for("2001:db8::1", "a@b.example",
	    "%{c} %{r} %{t}", 1), "2001:db8::1 mx.receiver.example 1700000000");
	assert_string_equal(expand_for("192.0.2.3", "a@b.example", "%{c}", 1),
	    "192.0.2.3");
}

static void
test_macros_url_escape(void **state)
{
	(void)state;
	assert_string_equal(expand_for("192.0.2.3", "a b/c~d@example.com",
	    "%{L}", 0), "a%20b%2Fc~d");
	assert_string_equal(expand_for("192.0.2.3", "Q=\"x\"@example.com",
	    "%{S}", 0), "Q%3D%22x%22%40example.com");
	/* Unknown sender with no local part: postmaster (RFC 7208 4.3). */
	assert_string_equal(expand_for("192.0.2.3", "@example.com", "%{l}",
	    0), "postmaster");
	assert_string_equal(expand_for("192.0.2.3", "", "%{s}", 0),
	    "postmaster@mx.sender.example");
}

static void
test_macros_delimiters(void **state)
{
	(void)state;
	assert_string_equal(expand_for("192.0.2.3", "a+b,c/d_e=f@x.example",
	    "%{l+,/_=}", 0), "a.b.c.d.e.f");
	assert_string_equal(expand_for("192.0.2.3", "a+b,c/d_e=f@x.example",
	    "%{l2r+}", 0), "b,c/d_e=f.a");
	assert_string_equal(expand_for("192.0.2.3", "a.b@x.example",
	    "%{l1}", 0), "b");
}

static void
test_domain_truncation(void **state)
{
	char label[64], spec[400], name[256];
	struct spf_request req;
	struct spf_resolver res;
	struct spf_outcome o;
	struct eval e;

	(void)state;
	memset(label, 'a', 50);
	label[50] = '\0';
	memset(&req, 0, sizeof(req));
	spf_request_set_ip(&req, "192.0.2.1");
	req.sender = "x@example.com";
	eval_start(&e, &req, &o, &res);
	snprintf(spec, sizeof(spec), "%s.%s.%s.%s.%s.%s.example.com", label,
	    label, label, label, label, label);
	assert_int_equal(expand_domain(&e, spec, strlen(spec), "example.com",
	    name), NAME_OK);
	assert_true(strlen(name) <= 253);
	assert_true(strlen(name) > 253 - 52);
	assert_string_equal(name + strlen(name) - 11, "example.com");
	eval_release(&e);
	/* An empty label after expansion is no name to ask. */
	req.sender = "a..b@example.com";
	eval_start(&e, &req, &o, &res);
	assert_int_equal(expand_domain(&e, "%{l}.example.com", 16,
	    "example.com", name), NAME_INVALID);
	eval_release(&e);
}

/* ----------------------------------------------------------- the limits */

/* A record with N "a" terms, each name with an address. */
static void
a_terms(int n)
{
	char rec[512], line[64];
	int i;

	memzone_clear(&zone);
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < n; i++) {
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec),
		    " a:h%d.example.com", i);
		snprintf(line, sizeof(line), "h%d.example.com A 203.0.113.1", i);
		add(line);
	}
	strcat(rec, " -all");
	txt("example.com", rec);
}

static void
test_dns_limit(void **state)
{
	struct spf_outcome out;

	(void)state;
	/* ten a terms are fine, the eleventh is a permerror */
	a_terms(10);
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_int_equal(out.dns_lookups, 10);
	assert_int_equal(zone.queries, 11);
	a_terms(11);
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_non_null(strstr(out.problem, "more than 10"));
	/* the record and ten terms: the eleventh is never asked */
	assert_int_equal(zone.queries, 11);
}

static void
test_void_limit(void **state)
{
	struct spf_outcome out;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:n1.example.com a:n2.example.com "
	    "a:n3.example.com +all");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_int_equal(out.void_lookups, 3);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:n1.example.com exists:n2.example.com +all");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PASS);
	assert_int_equal(out.void_lookups, 2);
}

static void
test_mx_limit(void **state)
{
	struct spf_outcome out;
	char line[96];
	int i;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 mx -all");
	for (i = 0; i < 11; i++) {
		snprintf(line, sizeof(line), "example.com MX %d m%d.example.com",
		    i, i);
		add(line);
	}
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	/* ten are fine, and the hosts' addresses are looked at */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 mx -all");
	for (i = 0; i < 10; i++) {
		snprintf(line, sizeof(line), "example.com MX %d m%d.example.com",
		    i, i);
		add(line);
	}
	for (i = 0; i < 9; i++) {
		snprintf(line, sizeof(line), "m%d.example.com A 203.0.113.%d",
		    i, i + 1);
		add(line);
	}
	add("m9.example.com A 192.0.2.1");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PASS);
}

static void
test_ptr_limit(void **state)
{
	struct spf_outcome out;
	char line[96];
	int i;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ptr -all");
	/* twelve names; only the first ten are looked at (RFC 7208 4.6.4) */
	for (i = 0; i < 12; i++) {
		snprintf(line, sizeof(line),
		    "1.2.0.192.in-addr.arpa PTR h%d.example.com", i);
		add(line);
		snprintf(line, sizeof(line), "h%d.example.com A %s", i,
		    i == 11 ? "192.0.2.1" : "203.0.113.9");
		add(line);
	}
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ptr -all");
	add("1.2.0.192.in-addr.arpa PTR mail.example.com");
	add("mail.example.com A 192.0.2.1");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PASS);
	/* a name in another domain does not validate */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ptr -all");
	add("1.2.0.192.in-addr.arpa PTR mail.example.net");
	add("mail.example.net A 192.0.2.1");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
}

static void mx_hosts(const char *name, int n, int match, const char *addr);

/* An include loop and a wide include tree stay bounded in questions. */
static void
test_hostile_bounds(void **state)
{
	struct spf_outcome out;
	char rec[2048], line[128];
	int i, j;

	(void)state;
	memzone_clear(&zone);
	txt("loop.example.com", "v=spf1 include:loop.example.com -all");
	assert_int_equal(check("192.0.2.1", "u@loop.example.com", "h.example",
	    &out), SPF_PERMERROR);
	assert_true(zone.queries <= 2);
	memzone_clear(&zone);
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < 20; i++) {
		char sub[1024];

		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec),
		    " include:i%d.example.com", i);
		snprintf(sub, sizeof(sub), "v=spf1");
		for (j = 0; j < 20; j++)
			snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub),
			    " mx:m%d.i%d.example.com", j, i);
		snprintf(line, sizeof(line), "i%d.example.com", i);
		txt(line, sub);
	}
	strcat(rec, " -all");
	txt("example.com", rec);
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	/* the record, ten terms asked in turn, ten ahead at most */
	assert_true(zone.queries <= 1 + 2 * SPF_MAX_DNS_MECH);
	/* the same tree where every mx target has 10 hosts: the hosts
	 * of what is asked ahead stay inside POOL_AHEAD, the whole inside
	 * POOL_MAX, and the evaluation asks nothing it was refused */
	for (i = 0; i < 20; i++)
		for (j = 0; j < 20; j++) {
			snprintf(line, sizeof(line), "m%d.i%d.example.com", j, i);
			mx_hosts(line, 10, -1, NULL);
		}
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_non_null(strstr(out.problem, "more than 10"));
	assert_true(zone.queries <= POOL_MAX);
	/* what the evaluation needs: two records, then 9 mx terms of
	 * include:i0 with their hosts before the eleventh term */
	assert_true(zone.queries >= 2 + 9 * 11);
}

static void
test_include_semantics(void **state)
{
	struct spf_outcome out;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 include:none.example.com -all");
	add("none.example.com A 192.0.2.1");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_non_null(strstr(out.problem, "no SPF record"));
	memzone_clear(&zone);
	txt("example.com", "v=spf1 -include:inc.example.com ~all");
	txt("inc.example.com", "v=spf1 ip4:192.0.2.0/24 -all");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_string_equal(out.mechanism, "-include:inc.example.com");
	assert_string_equal(out.explanation, SPF_DEFAULT_EXPLANATION);
	assert_int_equal(check("198.51.100.1", "u@example.com", "h.example",
	    &out), SPF_SOFTFAIL);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 include:t.example.com -all");
	add("t.example.com TIMEOUT");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_TEMPERROR);
	assert_non_null(strstr(out.problem, "timeout"));
}

static void
test_redirect_and_exp(void **state)
{
	struct spf_outcome out;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exp=e.example.com redirect=r.example.com");
	txt("e.example.com", "outer %{d}");
	txt("r.example.com", "v=spf1 -all exp=e2.example.com");
	txt("e2.example.com", "%{i} is not one of %{d}'s designated mail "
	    "servers, said %{r} at %{t}");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_string_equal(out.explanation, "192.0.2.1 is not one of "
	    "r.example.com's designated mail servers, said mx.receiver.example "
	    "at 1700000000");
	assert_string_equal(out.mechanism, "-all");
	/* redirect ignored when all is there */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ?all redirect=r.example.com");
	txt("r.example.com", "v=spf1 -all");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_NEUTRAL);
	/* a broken explanation falls back to the default */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 -all exp=e.example.com");
	txt("e.example.com", "bad %{x} macro");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_string_equal(out.explanation, SPF_DEFAULT_EXPLANATION);
}

static void
test_identities(void **state)
{
	struct spf_outcome out;
	struct spf_request req;
	struct spf_resolver res;

	(void)state;
	memzone_clear(&zone);
	txt("helo.example.com", "v=spf1 ip4:192.0.2.1 -all");
	assert_int_equal(check("192.0.2.1", "", "helo.example.com", &out),
	    SPF_PASS);
	assert_string_equal(out.sender, "postmaster@helo.example.com");
	assert_int_equal(check("192.0.2.1", NULL, "[192.0.2.1]", &out),
	    SPF_NONE);
	memset(&req, 0, sizeof(req));
	spf_request_set_ip(&req, "192.0.2.2");
	req.identity = SPF_ID_HELO;
	req.sender = "someone@else.example";
	req.helo = "helo.example.com";
	memzone_resolver(&zone, &res);
	spf_check(&req, &res, &out);
	assert_int_equal(out.result, SPF_FAIL);
	assert_string_equal(out.domain, "helo.example.com");
	assert_int_equal(check("192.0.2.1", "u@nodot", "h", &out), SPF_NONE);
	assert_int_equal(check("192.0.2.1", "u@a..example.com", "h", &out),
	    SPF_NONE);
}

static void
test_valid_domain(void **state)
{
	char name[300];

	(void)state;
	assert_true(spf_valid_domain("example.com"));
	assert_true(spf_valid_domain("example.com."));
	assert_false(spf_valid_domain("example"));
	assert_false(spf_valid_domain(".example.com"));
	assert_false(spf_valid_domain("a..b"));
	assert_false(spf_valid_domain("[192.0.2.1]"));
	assert_false(spf_valid_domain(""));
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	assert_false(spf_valid_domain(name));
	strcpy(name + 63, ".com");
	assert_true(spf_valid_domain(name));
}

/* Every byte value in a record must be handled without harm. */
static void
test_binary_records(void **state)
{
	struct spf_outcome out;
	char rec[64];
	int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		memzone_clear(&zone);
		snprintf(rec, sizeof(rec), "v=spf1 a:x%c.example.com -all", c);
		if (c == 0)
			memcpy(rec + 10, "\0", 1);
		assert_int_equal(memzone_add(&zone, "example.com", SPF_T_TXT, 0,
		    rec, 28, 0), 0);
		check("192.0.2.1", "u@example.com", "h.example", &out);
		assert_true(out.result == SPF_FAIL || out.result == SPF_PERMERROR);
	}
}

static void
count_line(void *arg, const char *line)
{
	int *n = arg;

	for (; *line != '\0'; line++)
		assert_true(*line >= 0x20 && *line <= 0x7e);
	(*n)++;
}

static void
test_trace(void **state)
{
	struct spf_request req;
	struct spf_resolver res;
	struct spf_outcome out;
	int lines = 0;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:\x01x.example.com a -all");
	add("example.com A 192.0.2.1");
	memset(&req, 0, sizeof(req));
	spf_request_set_ip(&req, "192.0.2.1");
	req.sender = "u@example.com";
	req.trace = count_line;
	req.trace_arg = &lines;
	memzone_resolver(&zone, &res);
	spf_check(&req, &res, &out);
	assert_int_equal(out.result, SPF_PERMERROR);
	assert_true(lines >= 2);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a -all");
	add("example.com A 192.0.2.1");
	lines = 0;
	spf_check(&req, &res, &out);
	assert_int_equal(out.result, SPF_PASS);
	assert_int_equal(out.queries, 2);
	/* record lookup, record, A lookup, mechanism */
	assert_int_equal(lines, 4);
}

/*
 * A resolver in rounds: questions asked are answered together at the next
 * wait(), as if every answer took one round trip.  Counting the rounds
 * shows how well the evaluator asks ahead: an evaluation should take as
 * many rounds as its longest chain of lookups, not as many as it asks.
 */
struct rounds {
	struct spf_resolver inner;
	struct spf_query *pending[256];
	unsigned npending, rounds, max_batch;
};

static void
round_submit(void *ctx, struct spf_query *q)
{
	struct rounds *r = ctx;

	assert_true(r->npending < 256);
	q->answer = NULL;
	r->pending[r->npending++] = q;
}

static void
round_wait(void *ctx, struct spf_query *q)
{
	struct rounds *r = ctx;
	unsigned i;

	(void)q;
	if (r->npending == 0)
		return;
	r->rounds++;
	if (r->npending > r->max_batch)
		r->max_batch = r->npending;
	for (i = 0; i < r->npending; i++)
		r->inner.submit(r->inner.ctx, r->pending[i]);
	r->npending = 0;
}

static void
round_drop(void *ctx, struct spf_query *q)
{
	struct rounds *r = ctx;
	unsigned i;

	for (i = 0; i < r->npending; i++)
		if (r->pending[i] == q)
			r->pending[i] = r->pending[--r->npending];
	r->inner.drop(r->inner.ctx, q);
}

static unsigned
rounds_max(const char *ip, const char *sender, enum spf_result want,
    unsigned *max_batch)
{
	struct rounds r;
	struct spf_resolver res = { &r, round_submit, round_wait, round_drop };
	struct spf_request req;
	struct spf_outcome out;

	memset(&r, 0, sizeof(r));
	memzone_resolver(&zone, &r.inner);
	memset(&req, 0, sizeof(req));
	assert_int_equal(spf_request_set_ip(&req, ip), 0);
	req.sender = sender;
	req.helo = "h.example.net";
	spf_check(&req, &res, &out);
	assert_int_equal(out.result, want);
	if (max_batch != NULL)
		*max_batch = r.max_batch;
	return r.rounds;
}

static unsigned
rounds_of(const char *ip, const char *sender, enum spf_result want)
{
	return rounds_max(ip, sender, want, NULL);
}

static void
test_round_trips(void **state)
{
	(void)state;
	memzone_clear(&zone);
	/* root -> l1a -> l2, with a and mx terms at every level */
	txt("example.com", "v=spf1 a mx include:l1a.example.com "
	    "include:l1b.example.com -all");
	add("example.com A 203.0.113.1");
	add("example.com MX 10 mx1.example.com");
	add("mx1.example.com A 203.0.113.2");
	txt("l1a.example.com", "v=spf1 a:h1.example.com mx:m1.example.com "
	    "include:l2.example.com ~all");
	txt("l1b.example.com", "v=spf1 a:h1b.example.com "
	    "ip4:198.51.100.0/24 ?all");
	add("h1.example.com A 203.0.113.3");
	add("h1b.example.com A 203.0.113.3");
	add("m1.example.com MX 10 mx2.example.com");
	add("mx2.example.com A 203.0.113.2");
	txt("l2.example.com", "v=spf1 a:h2.example.com mx:m3.example.com "
	    "ip4:192.0.2.0/24 -all");
	add("h2.example.com A 203.0.113.4");
	add("m3.example.com MX 10 mx3.example.com");
	add("mx3.example.com A 203.0.113.6");
	/* The longest chain: TXT root, TXT l1a, TXT l2, MX m3, A mx3. */
	assert_int_equal(rounds_of("192.0.2.9", "u@example.com", SPF_PASS), 5);
	assert_int_equal(rounds_of("10.9.9.9", "u@example.com", SPF_FAIL), 5);
	/* A flat record: one round for the record, one for its terms. */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:a1.example.com a:a2.example.com "
	    "exists:e.example.com a:a3.example.com -all");
	assert_int_equal(rounds_of("10.9.9.9", "u@example.com", SPF_PERMERROR),
	    2);
}


/* ------------------------------------------ issue 10: no limit of ours */

/* NAME gets N MX hosts NAME-h0..; host I has address 203.0.113.I+1,
 * except host MATCH (if >= 0), which has ADDR. */
static void
mx_hosts(const char *name, int n, int match, const char *addr)
{
	char line[256];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%s MX %d %s-h%d.example.com",
		    name, i, name, i);
		add(line);
		if (i == match)
			snprintf(line, sizeof(line), "%s-h%d.example.com A %s",
			    name, i, addr);
		else
			snprintf(line, sizeof(line),
			    "%s-h%d.example.com A 203.0.113.%d", name, i, i + 1);
		add(line);
	}
}

/*
 * Questions asked ahead for terms that are never reached must not take
 * the place of the ones the evaluation needs.  include:a is asked ahead
 * with its 8 mx terms and their 80 hosts, but -ip4 ends it first; then
 * include:b's 8 mx terms and 80 hosts are needed, the last host
 * matching.  160 questions were the pool once: the last ones were "not
 * asked" (temperror) or their hosts skipped (fail).
 */
static void
test_pool_lookahead_crowding(void **state)
{
	struct spf_outcome out;
	char rec[512], name[64];
	int i;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 include:a.example.com "
	    "include:b.example.com -all");
	snprintf(rec, sizeof(rec), "v=spf1 -ip4:192.0.2.1");
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "a%d.example.com", i);
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " mx:%s",
		    name);
		mx_hosts(name, 10, -1, NULL);
	}
	txt("a.example.com", rec);
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "b%d.example.com", i);
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " mx:%s",
		    name);
		mx_hosts(name, 10, i == 7 ? 9 : -1, "192.0.2.1");
	}
	strcat(rec, " -all");
	txt("b.example.com", rec);
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PASS);
	assert_string_equal(out.mechanism, "include:b.example.com");
	assert_int_equal(out.problem[0], '\0');
	assert_true(out.queries <= POOL_MAX);
	/* another client: include:a's terms are evaluated too, and the
	 * 18 terms pass the limit of 10 */
	assert_int_equal(check("192.0.2.2", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_non_null(strstr(out.problem, "more than 10"));
}

/*
 * 7 mx terms of 10 hosts each, all inside the RFC's limits: asked ahead
 * at once they were 77 questions in flight, more than a resolver
 * carries (dns.c answered those above 64 with SERVFAIL: temperror).
 * Now at most SPF_MAX_IN_FLIGHT are open at any time, and the result is
 * the RFC's.
 */
static void
test_in_flight_bound(void **state)
{
	char rec[512], name[64];
	unsigned batch, rounds;
	int i;

	(void)state;
	memzone_clear(&zone);
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "m%d.example.com", i);
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " mx:%s",
		    name);
		mx_hosts(name, 10, i == 6 ? 9 : -1, "192.0.2.1");
	}
	strcat(rec, " -all");
	txt("example.com", rec);
	rounds = rounds_max("192.0.2.1", "u@example.com", SPF_PASS, &batch);
	assert_true(batch <= SPF_MAX_IN_FLIGHT);
	assert_true(rounds <= 8);
	rounds_max("192.0.2.2", "u@example.com", SPF_FAIL, &batch);
	assert_true(batch <= SPF_MAX_IN_FLIGHT);
	/* 9 mx terms of 10 hosts before the matching ip4 */
	memzone_clear(&zone);
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "m%d.example.com", i);
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " mx:%s",
		    name);
		mx_hosts(name, 10, -1, NULL);
	}
	strcat(rec, " ip4:192.0.2.1 -all");
	txt("example.com", rec);
	rounds_max("192.0.2.1", "u@example.com", SPF_PASS, &batch);
	assert_true(batch <= SPF_MAX_IN_FLIGHT);
}

/* The most questions the RFC lets one evaluation need all fit: 10 mx
 * terms with 10 hosts each (in two includes, so the look-ahead sees
 * them late), ptr and %{p} with 10 names, and the exp= record. */
static void
test_pool_worst_case(void **state)
{
	struct spf_outcome out;
	char rec[512], name[64], line[128];
	int i;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 include:a.example.com "
	    "include:b.example.com exp=e.%{p} -all");
	for (i = 0; i < 10; i++) {
		snprintf(line, sizeof(line),
		    "1.2.0.192.in-addr.arpa PTR p%d.example.com", i);
		add(line);
		snprintf(line, sizeof(line), "p%d.example.com A %s", i,
		    i == 9 ? "192.0.2.1" : "203.0.113.77");
		add(line);
	}
	txt("e.p9.example.com", "no, %{p}");
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "a%d.example.com", i);
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " mx:%s",
		    name);
		mx_hosts(name, 10, -1, NULL);
	}
	strcat(rec, " ptr:other.example.net -all");
	txt("a.example.com", rec);
	snprintf(rec, sizeof(rec), "v=spf1");
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "b%d.example.com", i);
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " mx:%s",
		    name);
		mx_hosts(name, 10, -1, NULL);
	}
	strcat(rec, " -all");
	txt("b.example.com", rec);
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_int_equal(out.dns_lookups, 10);
	assert_string_equal(out.explanation, "no, p9.example.com");
	assert_int_equal(out.problem[0], '\0');
	assert_true(out.queries <= POOL_MAX);
}

/* A CNAME chain of 9 hops is followed by the resolver; the evaluator
 * sees the address. */
static void
test_cname_chain(void **state)
{
	char line[128];
	int i;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:c0.example.com -all");
	for (i = 0; i < 9; i++) {
		snprintf(line, sizeof(line), "c%d.example.com CNAME c%d.example.com",
		    i, i + 1);
		add(line);
	}
	add("c9.example.com A 192.0.2.1");
	assert_int_equal(result_of_zone("192.0.2.1"), SPF_PASS);
}

/* A long expansion keeps the labels on its right: 4.8 drops labels on
 * the left of the whole expansion.  Cut at 1023 bytes first, the
 * domain of the record was lost and a name of the sender's asked. */
static void
test_macro_long_expansion(void **state)
{
	struct spf_outcome out;
	char local[600], sender[700], name[400];
	int i;

	(void)state;
	/* 11 labels of 49 bytes: %{l} is 549 bytes, five of them 2.7 KB */
	local[0] = '\0';
	for (i = 0; i < 11; i++)
		snprintf(local + strlen(local), sizeof(local) - strlen(local),
		    "%s%c%048d", i ? "." : "", 'a' + i, i);
	snprintf(sender, sizeof(sender), "%s@example.com", local);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 -exists:%{l}.%{l}.%{l}.%{l}.%{l}."
	    "ok.example.com +all");
	/* the name 4.8 gives: the last labels of %{l} that fit before
	 * ".ok.example.com" */
	snprintf(name, sizeof(name), "%s.ok.example.com", local + 50 * 7);
	assert_int_equal(memzone_add(&zone, name, SPF_T_A, 0,
	    "\x7f\0\0\2", 4, 0), 0);
	assert_int_equal(check("192.0.2.1", sender, "h.example", &out),
	    SPF_FAIL);
	assert_string_equal(out.mechanism, "-exists:%{l}.%{l}.%{l}.%{l}.%{l}."
	    "ok.example.com");
	/* out->sender would be cut: it is left empty, %{l} is whole */
	assert_string_equal(out.sender, "");
}

/* %{l1-} takes the last of all the parts, however many; %{h} and %{l}
 * are never cut. */
static void
test_macro_many_parts(void **state)
{
	struct spf_outcome out;
	char local[1200], sender[1300], helo[400];
	int i;

	(void)state;
	local[0] = '\0';
	for (i = 0; i < 200; i++)
		snprintf(local + strlen(local), sizeof(local) - strlen(local),
		    "%sp%d", i ? "-" : "", i);
	snprintf(sender, sizeof(sender), "%s@example.com", local);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exists:%{l1-}.x.example.com -all");
	add("p199.x.example.com A 127.0.0.2");
	assert_int_equal(check("192.0.2.1", sender, "h.example", &out),
	    SPF_PASS);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exists:%{l1r-}.x.example.com "
	    "exists:%{l2-}.y.example.com -all");
	add("p198.p199.y.example.com A 127.0.0.2");
	assert_int_equal(check("192.0.2.1", sender, "h.example", &out),
	    SPF_PASS);
	assert_string_equal(out.mechanism, "exists:%{l2-}.y.example.com");
	/* a HELO name longer than 255 bytes: %{h1} is its last label */
	helo[0] = '\0';
	for (i = 0; i < 40; i++)
		snprintf(helo + strlen(helo), sizeof(helo) - strlen(helo),
		    "%slabel%02d", i ? "." : "", i);
	assert_true(strlen(helo) > 300);
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exists:%{h1}.h.example.com -all");
	add("label39.h.example.com A 127.0.0.2");
	assert_int_equal(check("192.0.2.1", "u@example.com", helo, &out),
	    SPF_PASS);
}

/* The transformers against a plain reference: split into an array,
 * reverse, keep the rightmost N, join with dots. */
static void
reference_transform(const char *value, const char *delims, unsigned keep,
    int reverse, char *out)
{
	static char copy[4096];
	char *part[2048];
	unsigned n = 0, i, first;
	char *p = copy;

	strcpy(copy, value);
	part[n++] = p;
	for (; *p != '\0'; p++)
		if (strchr(delims, *p) != NULL) {
			*p = '\0';
			part[n++] = p + 1;
		}
	if (reverse)
		for (i = 0; i < n / 2; i++) {
			char *t = part[i];

			part[i] = part[n - 1 - i];
			part[n - 1 - i] = t;
		}
	first = keep != 0 && keep < n ? n - keep : 0;
	out[0] = '\0';
	for (i = first; i < n; i++) {
		if (i > first)
			strcat(out, ".");
		strcat(out, part[i]);
	}
}

static void
test_macro_transform(void **state)
{
	static const char *const values[] = {
		"", "a", "a.b", ".a.b.", "..", "a-b.c+d,e/f_g=h", "a--b",
	};
	static const char *const delims[] = { ".", "-", ".-+,/_=", "+=" };
	static char value[4096], want[4096], got[4096];
	unsigned v, d, keep, reverse, i;
	struct sink k;

	(void)state;
	for (v = 0; v < sizeof(values) / sizeof(values[0]) + 3; v++) {
		if (v < sizeof(values) / sizeof(values[0])) {
			strcpy(value, values[v]);
		} else {
			/* 300 to 900 parts, some empty */
			value[0] = '\0';
			for (i = 0; i < 300 * (v - 6); i++)
				snprintf(value + strlen(value),
				    sizeof(value) - strlen(value), "%s%s",
				    i ? (i % 3 ? "." : "-") : "",
				    i % 7 ? "x" : "");
		}
		for (d = 0; d < sizeof(delims) / sizeof(delims[0]); d++)
			for (keep = 0; keep < 1000; keep += keep < 5 ? 1 : 97)
				for (reverse = 0; reverse < 2; reverse++) {
					struct span sp = { value, strlen(value) };

					reference_transform(value, delims[d],
					    keep, reverse, want);
					sink_init(&k, got, sizeof(got), 0);
					transform(&k, sp, delims[d], keep,
					    reverse, 0);
					assert_false(k.b.overflow);
					if (strcmp(got, want) != 0)
						fail_msg("value %u delims \"%s\" "
						    "keep %u reverse %u: \"%s\" "
						    "want \"%s\"", v, delims[d],
						    keep, reverse, got, want);
				}
	}
}

/* 4.8 on expansions of any length against a plain reference. */
static void
test_name_window(void **state)
{
	static char spec[20000], full[20000];
	struct spf_request req;
	struct spf_resolver res;
	struct spf_outcome o;
	struct eval e;
	char name[256];
	const char *want;
	unsigned seed = 7, round, n, i;
	enum name_status st;

	(void)state;
	memset(&req, 0, sizeof(req));
	spf_request_set_ip(&req, "192.0.2.1");
	req.sender = "x@example.com";
	eval_start(&e, &req, &o, &res);
	for (round = 0; round < 400; round++) {
		/* labels of 1 to 70 bytes, up to 20000 bytes in all */
		n = 0;
		seed = seed * 1103515245 + 12345;
		while (n < 40 + (seed >> 8) % 19000) {
			unsigned l;

			seed = seed * 1103515245 + 12345;
			l = 1 + (seed >> 16) % (round % 2 ? 70 : 40);
			if (n > 0)
				spec[n++] = '.';
			for (i = 0; i < l && n < sizeof(spec) - 20; i++)
				spec[n++] = 'a' + (char)((seed >> 3) + i) % 26;
			if (n >= sizeof(spec) - 20)
				break;
		}
		memcpy(spec + n, ".example.com", 13);
		n += 12;
		/* the reference: drop labels on the left until <= 253 */
		memcpy(full, spec, n + 1);
		want = full;
		while (strlen(want) > 253 && strchr(want, '.') != NULL)
			want = strchr(want, '.') + 1;
		st = expand_domain(&e, spec, n, "example.com", name);
		for (i = 0; want[i] != '\0'; i++) {
			size_t l = strcspn(want + i, ".");

			if (l > 63)
				break;
			i += l;
			if (want[i] == '\0')
				break;
		}
		if (want[i] != '\0' || strlen(want) > 253) {
			assert_int_equal(st, NAME_INVALID);
			continue;
		}
		assert_int_equal(st, NAME_OK);
		assert_string_equal(name, want);
	}
	eval_release(&e);
}

/* RFC 7208 7.1: the domain-end is "." toplabel ["."] or a macro-expand;
 * the number of parts is *DIGIT, nonzero. */
static void
test_domain_spec_syntax(void **state)
{
	struct spf_outcome out;

	(void)state;
	assert_int_equal(result_of("v=spf1 a:target.example.org} -all",
	    "192.0.2.1"), SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 a:x.%%. -all", "192.0.2.1"),
	    SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 a:x.%{d}. -all", "192.0.2.1"),
	    SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 a:x.%{d}com -all", "192.0.2.1"),
	    SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 exists:%{d0} -all", "192.0.2.1"),
	    SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 exists:%{d00} -all", "192.0.2.1"),
	    SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 redirect=x.example.org} -all",
	    "192.0.2.1"), SPF_PERMERROR);
	assert_int_equal(result_of("v=spf1 a:x.%% -all", "192.0.2.1"),
	    SPF_FAIL);
	assert_int_equal(result_of("v=spf1 a:%%.example.com -all",
	    "192.0.2.1"), SPF_FAIL);
	assert_int_equal(result_of("v=spf1 a:%{d}.%_ -all", "192.0.2.1"),
	    SPF_FAIL);
	/* %{d01} is %{d1} */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exists:%{d01}.t.example.com -all");
	add("com.t.example.com A 127.0.0.2");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PASS);
	assert_string_equal(expand_for("192.0.2.3", "a@email.example.com",
	    "%{d002r}", 0), "example.email");
	assert_string_equal(expand_for("192.0.2.3", "a@email.example.com",
	    "%{d01}", 0), "com");
	assert_string_equal(expand_for("192.0.2.3", "a@email.example.com",
	    "%{d0000000000000000000000000002}", 0), "example.com");
	assert_string_equal(expand_for("192.0.2.3", "a@email.example.com",
	    "%{d99999999999999999999999}", 0), "email.example.com");
}

/* 4.6.4: the address lookups of MX hosts and PTR names and the PTR
 * lookup of %{p} that find nothing count as void lookups, as pyspf and
 * Mail::SPF count them. */
static void
test_void_lookups_fanout(void **state)
{
	struct spf_outcome out;

	(void)state;
	memzone_clear(&zone);
	txt("example.com", "v=spf1 mx:m1.example.com mx:m2.example.com "
	    "mx:m3.example.com -all");
	add("m1.example.com MX 10 h1.example.com");
	add("m2.example.com MX 10 h2.example.com");
	add("m3.example.com MX 10 h3.example.com");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_int_equal(out.void_lookups, 3);
	assert_non_null(strstr(out.problem, "void"));
	/* hosts after the one that matched are not looked at */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 mx -all");
	add("example.com MX 10 h1.example.com");
	add("example.com MX 20 h2.example.com");
	add("example.com MX 30 h3.example.com");
	add("example.com MX 40 h4.example.com");
	add("h1.example.com A 192.0.2.1");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PASS);
	assert_int_equal(check("192.0.2.2", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	/* PTR names in the target domain without an address */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ptr -all");
	add("1.2.0.192.in-addr.arpa PTR n1.example.com");
	add("1.2.0.192.in-addr.arpa PTR n2.example.com");
	add("1.2.0.192.in-addr.arpa PTR n3.example.com");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_int_equal(out.void_lookups, 3);
	/* names outside it are not validated, so not counted */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ptr -all");
	add("1.2.0.192.in-addr.arpa PTR n1.example.net");
	add("1.2.0.192.in-addr.arpa PTR n2.example.net");
	add("1.2.0.192.in-addr.arpa PTR n3.example.net");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_int_equal(out.void_lookups, 0);
	/* ptr's PTR lookup is made whatever its target: a target with a
	 * label of 70 bytes is no name, the lookup still counts (1) */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 ptr:%{l}.x.example.com a:n1.example.com "
	    "a:n2.example.com -all");
	assert_int_equal(check("192.0.2.1", "a23456789a23456789a23456789a2345"
	    "6789a23456789a23456789a234567890@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_int_equal(out.void_lookups, 3);
	/* %{p}: the PTR lookup finds nothing (1), exists (2), a (3) */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exists:%{p}.x.example.com "
	    "a:n1.example.com -all");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	assert_int_equal(out.void_lookups, 3);
	/* %{p}'s names without an address: two of them, and exists */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 exists:%{p}.x.example.com -all");
	add("1.2.0.192.in-addr.arpa PTR n1.example.net");
	add("1.2.0.192.in-addr.arpa PTR n2.example.net");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_PERMERROR);
	/* the explanation's %{p} cannot change a fail */
	memzone_clear(&zone);
	txt("example.com", "v=spf1 a:n1.example.com a:n2.example.com "
	    "-all exp=e.example.com");
	txt("e.example.com", "%{p} is not allowed");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	assert_string_equal(out.explanation, "unknown is not allowed");
	assert_int_equal(out.void_lookups, 2);
}

/* Text that does not fit its field is marked, not cut silently. */
static void
test_marked_cuts(void **state)
{
	struct spf_outcome out;
	char rec[1300], exp[1200];
	size_t n;

	(void)state;
	memzone_clear(&zone);
	memset(exp, 'x', 900);
	exp[900] = '\0';
	txt("example.com", "v=spf1 -all exp=e.example.com");
	txt("e.example.com", exp);
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	n = strlen(out.explanation);
	assert_int_equal(n, sizeof(out.explanation) - 1);
	assert_string_equal(out.explanation + n - 3, "...");
	assert_memory_equal(out.explanation, exp, n - 3);
	/* a matching term longer than the field */
	memzone_clear(&zone);
	/* "%{d1...}" with 300 delimiters is "com" */
	memset(exp, '.', 300);
	exp[300] = '\0';
	snprintf(rec, sizeof(rec), "v=spf1 -exists:%%{d1%s}.example.com", exp);
	txt("example.com", rec);
	add("com.example.com A 127.0.0.2");
	assert_int_equal(check("192.0.2.1", "u@example.com", "h.example", &out),
	    SPF_FAIL);
	n = strlen(out.mechanism);
	assert_int_equal(n, sizeof(out.mechanism) - 1);
	assert_string_equal(out.mechanism + n - 3, "...");
}

/* ------------------------------------------------------ bounded strings */

static void
test_buf(void **state)
{
	char mem[8], big[16];
	struct spf_buf b;

	(void)state;
	spf_buf_init(&b, mem, sizeof(mem));
	assert_string_equal(b.s, "");
	assert_int_equal(spf_buf_adds(&b, "abc"), 0);
	assert_int_equal(spf_buf_addc(&b, '.'), 0);
	assert_int_equal(spf_buf_addf(&b, "%d", 12), 0);
	assert_string_equal(mem, "abc.12");
	assert_int_equal(b.len, 6);
	assert_false(b.overflow);
	/* "xy" does not fit in the one byte left: nothing of it is written */
	assert_int_equal(spf_buf_adds(&b, "xy"), -1);
	assert_true(b.overflow);
	assert_string_equal(mem, "abc.12");
	/* a printf piece that does not fit is taken back whole */
	spf_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(spf_buf_adds(&b, "abcde"), 0);
	assert_int_equal(spf_buf_addf(&b, "%s", "fgh"), -1);
	assert_string_equal(mem, "abcde");
	assert_true(b.overflow);
	/* exactly full: 7 bytes and the NUL */
	spf_buf_init(&b, mem, sizeof(mem));
	assert_int_equal(spf_buf_adds(&b, "1234567"), 0);
	assert_false(b.overflow);
	assert_int_equal(spf_buf_addc(&b, '8'), -1);
	spf_buf_truncate(&b, 3);
	assert_string_equal(mem, "123");
	assert_true(b.overflow);	/* the mark stays */
	/* a copy that would be shorter than its source is refused */
	assert_int_equal(spf_strlcpy_exact(big, "example.org", sizeof(big)), 0);
	assert_string_equal(big, "example.org");
	assert_int_equal(spf_strlcpy_exact(big, "sub.evil.example.org",
	    sizeof(big)), -1);
	assert_string_equal(big, "");
}

/* ------------------------------------------- spf_validated_names() */

static int
want_forwarder(void *arg, const char *name)
{
	return strcasecmp(name, (const char *)arg) == 0 ||
	    (strlen(name) > 12 && strcasecmp(name + strlen(name) - 12,
	    ".fwd.example") == 0);
}

/* The names of IP validated, with WANT; zone.queries counts questions. */
static unsigned
validated(const char *ip, int (*want)(void *, const char *), void *arg,
    struct spf_names *out)
{
	struct spf_request req;
	struct spf_resolver res;

	memset(&req, 0, sizeof(req));
	assert_int_equal(spf_request_set_ip(&req, ip), 0);
	memzone_resolver(&zone, &res);
	zone.queries = 0;
	spf_validated_names(&req, &res, want, arg, out);
	assert_int_equal(out->queries, zone.queries);
	return out->count;
}

/* RFC 7208 5.5 as ptr and %{p} apply it: a name counts only when its own
 * A/AAAA records hold the address; a forged PTR never does. */
static void
test_validated_names(void **state)
{
	struct spf_names n;

	(void)state;
	/* confirmed */
	add("77.2.0.192.in-addr.arpa PTR mx2.example.org");
	add("mx2.example.org A 192.0.2.77");
	assert_int_equal(validated("192.0.2.77", NULL, NULL, &n), 1);
	assert_string_equal(n.name[0], "mx2.example.org");
	assert_int_equal(n.ptr, SPF_DNS_OK);
	assert_int_equal(zone.queries, 2);
	/* forged: the attacker's PTR names the forwarder, whose A record
	 * does not hold the attacker's address */
	add("66.2.0.192.in-addr.arpa PTR mx2.example.org");
	add("66.2.0.192.in-addr.arpa PTR MX2.Example.Org");
	assert_int_equal(validated("192.0.2.66", NULL, NULL, &n), 0);
	assert_int_equal(zone.queries, 2);
	/* no PTR at all; a PTR lookup that times out */
	assert_int_equal(validated("192.0.2.5", NULL, NULL, &n), 0);
	assert_int_equal(n.ptr, SPF_DNS_NXDOMAIN);
	add("6.2.0.192.in-addr.arpa TIMEOUT");
	assert_int_equal(validated("192.0.2.6", NULL, NULL, &n), 0);
	assert_int_equal(n.ptr, SPF_DNS_TIMEOUT);
	/* a name whose address lookup fails is skipped, the next counts */
	add("7.2.0.192.in-addr.arpa PTR slow.fwd.example");
	add("7.2.0.192.in-addr.arpa PTR b.fwd.example");
	add("slow.fwd.example TIMEOUT");
	add("b.fwd.example A 192.0.2.1");
	add("b.fwd.example A 192.0.2.7");
	assert_int_equal(validated("192.0.2.7", NULL, NULL, &n), 1);
	assert_string_equal(n.name[0], "b.fwd.example");
	/* IPv6: AAAA, and the address must be the client's, not an A */
	add("7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa PTR v6.fwd.example");
	add("v6.fwd.example A 192.0.2.7");
	assert_int_equal(validated("2001:db8::7", NULL, NULL, &n), 0);
	add("v6.fwd.example AAAA 2001:db8::7");
	assert_int_equal(validated("2001:db8::7", NULL, NULL, &n), 1);
	assert_string_equal(n.name[0], "v6.fwd.example");
	/* IPv4-mapped IPv6 is IPv4 */
	assert_int_equal(validated("::ffff:192.0.2.77", NULL, NULL, &n), 1);
	assert_string_equal(n.name[0], "mx2.example.org");
}

/* WANT filters before any address lookup: names not wanted cost nothing,
 * so a PTR answer full of names gains a sender nothing. */
static void
test_validated_names_want(void **state)
{
	struct spf_names n;
	char line[200];
	int i;

	(void)state;
	add("9.2.0.192.in-addr.arpa PTR other.example.net");
	add("9.2.0.192.in-addr.arpa PTR mx2.example.org");
	add("other.example.net A 192.0.2.9");
	add("mx2.example.org A 192.0.2.9");
	assert_int_equal(validated("192.0.2.9", want_forwarder,
	    "mx2.example.org", &n), 1);
	assert_string_equal(n.name[0], "mx2.example.org");
	assert_int_equal(zone.queries, 2);	/* PTR, mx2's A */
	assert_int_equal(validated("192.0.2.9", NULL, NULL, &n), 2);
	assert_int_equal(zone.queries, 3);
	/* at most 10 PTR names are looked at (4.6.4): the 11th, the only
	 * confirmed one, is not */
	for (i = 1; i <= 11; i++) {
		snprintf(line, sizeof(line),
		    "10.2.0.192.in-addr.arpa PTR h%d.fwd.example", i);
		add(line);
	}
	add("h11.fwd.example A 192.0.2.10");
	assert_int_equal(validated("192.0.2.10", want_forwarder, "x", &n), 0);
	assert_int_equal(zone.queries, 11);
	add("h10.fwd.example A 192.0.2.10");
	add("h3.fwd.example A 192.0.2.10");
	assert_int_equal(validated("192.0.2.10", want_forwarder, "x", &n), 2);
	assert_string_equal(n.name[0], "h3.fwd.example");
	assert_string_equal(n.name[1], "h10.fwd.example");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dual_cidr, setup, teardown),
		cmocka_unit_test(test_addr_match),
		cmocka_unit_test_setup_teardown(test_mapped_ipv4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macros_rfc_examples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macros_exp_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macros_url_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macros_delimiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dns_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_void_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mx_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptr_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_include_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_and_exp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identities, setup, teardown),
		cmocka_unit_test(test_valid_domain),
		cmocka_unit_test_setup_teardown(test_binary_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trips, setup, teardown),
		cmocka_unit_test(test_buf),
		cmocka_unit_test_setup_teardown(test_pool_lookahead_crowding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_flight_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_worst_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cname_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macro_long_expansion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_macro_many_parts, setup, teardown),
		cmocka_unit_test(test_macro_transform),
		cmocka_unit_test_setup_teardown(test_name_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_spec_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_void_lookups_fanout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_marked_cuts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validated_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validated_names_want, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
