/*
 * test_conf.c - cmocka tests of conf.c: every parameter's parsing and
 * validation, the file format, overrides, printing and the helpers the
 * milter calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../conf.h"

static char errbuf[4096];

/* Load TEXT as a file named "t.conf" (in a temporary directory, so the
 * messages name a stable path); errors land in errbuf. */
static struct conf *
load_n(const char *text, size_t len, const struct conf_override *ov,
    size_t nov)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[64];
	char *cwd = getcwd(NULL, 0);
	struct conf *c;
	FILE *f, *err;

	assert_non_null(cwd);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	f = fopen("t.conf", "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	memset(errbuf, 0, sizeof(errbuf));
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	assert_non_null(err);
	setvbuf(err, NULL, _IONBF, 0);
	c = conf_load_overrides("t.conf", ov, nov, err);
	fclose(err);
	unlink("t.conf");
	assert_int_equal(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s", dir);
	rmdir(path);
	free(cwd);
	return c;
}

static struct conf *
load_ov(const char *text, const struct conf_override *ov, size_t nov)
{
	return load_n(text, strlen(text), ov, nov);
}

static struct conf *
load(const char *text)
{
	return load_ov(text, NULL, 0);
}

/* TEXT must fail with exactly the messages EXPECTED. */
static void
expect_errors(const char *text, const char *expected)
{
	struct conf *c = load(text);

	assert_null(c);
	assert_string_equal(errbuf, expected);
}

/* TEXT must load; returns it for further checks. */
static struct conf *
expect_ok(const char *text)
{
	struct conf *c = load(text);

	if (c == NULL)
		fail_msg("unexpected errors:\n%s", errbuf);
	assert_string_equal(errbuf, "");
	return c;
}

#define B(r) CONF_RESULT_BIT(r)

/* ----------------------------------------------------------- defaults */

static void
test_defaults(void **state)
{
	struct conf *c = expect_ok("");
	char host[256];

	(void)state;
	assert_null(c->socket);
	assert_int_equal(c->socket_mode, 0660);
	assert_string_equal(c->user, "");
	assert_true(c->verify_helo);
	assert_int_equal(c->definitive_helo_results, B(SPF_PASS) | B(SPF_FAIL));
	assert_int_equal(c->reject_results,
	    B(SPF_FAIL) | B(SPF_TEMPERROR) | B(SPF_PERMERROR));
	assert_int_equal(c->reject_helo_results, c->reject_results);
	assert_string_equal(c->reply[SPF_FAIL].code, "550");
	assert_string_equal(c->reply[SPF_FAIL].status, "5.7.23");
	assert_non_null(strstr(c->reply[SPF_FAIL].text, "%{exp}"));
	assert_string_equal(c->reply[SPF_TEMPERROR].code, "451");
	assert_string_equal(c->reply[SPF_TEMPERROR].status, "4.7.24");
	assert_string_equal(c->reply[SPF_PERMERROR].code, "550");
	assert_string_equal(c->reply[SPF_PERMERROR].status, "5.7.24");
	assert_int_equal(c->nheader, 1);
	assert_int_equal(c->header[0], CONF_HEADER_RECEIVED_SPF);
	assert_false(c->include_all_results);
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	assert_string_equal(c->hostname, host);
	assert_string_equal(c->authserv_id, host);
	assert_true(c->delete_incoming_authentication_results);
	assert_true(c->delete_incoming_received_spf);
	assert_int_equal(c->ntrusted_networks, 2);
	assert_true(c->trust_authenticated_senders);
	assert_int_equal(c->nskip_senders, 0);
	assert_int_equal(c->ntrusted_forwarders, 0);
	assert_int_equal(c->ntrusted_forwarder_domains, 0);
	assert_int_equal(c->nexempt_recipients, 0);
	assert_false(c->dry_run);
	assert_int_equal(c->log_destination, CONF_LOG_SYSLOG);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->syslog_facility, LOG_MAIL);
	assert_int_equal(c->dns_timeout_ms, 10000);
	assert_int_equal(c->ndns_servers, 0);
	assert_int_equal(c->dns_cache_size, 1000);
	assert_int_equal(c->dns_cache_max_bytes, 1 << 20);
	assert_int_equal(conf_require_socket(c, NULL), -1);
	conf_unref(c);
}

static void
test_missing_file(void **state)
{
	FILE *err = fmemopen(errbuf, sizeof(errbuf), "w");

	(void)state;
	setvbuf(err, NULL, _IONBF, 0);
	assert_null(conf_load("/nonexistent/x.conf", err));
	fclose(err);
	assert_string_equal(errbuf,
	    "/nonexistent/x.conf: cannot open: No such file or directory\n");
	memset(errbuf, 0, sizeof(errbuf));
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	setvbuf(err, NULL, _IONBF, 0);
	assert_null(conf_load("/", err));
	fclose(err);
	assert_string_equal(errbuf,
	    "/: cannot read: a directory, not a regular file\n");
}

/* Only a regular file of bounded size is read, and nothing can block. */
static void
test_file_kinds(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[64], big[80];
	FILE *err, *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Before the fix, fopen() of a FIFO without a writer hung: the
	 * alarm turns a hang into a failure. */
	alarm(10);
	memset(errbuf, 0, sizeof(errbuf));
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	setvbuf(err, NULL, _IONBF, 0);
	assert_null(conf_load(path, err));
	fclose(err);
	alarm(0);
	assert_non_null(strstr(errbuf, "/fifo: cannot read: a FIFO (named "
	    "pipe), not a regular file\n"));
	unlink(path);

	memset(errbuf, 0, sizeof(errbuf));
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	setvbuf(err, NULL, _IONBF, 0);
	assert_null(conf_load("/dev/zero", err));
	fclose(err);
	assert_string_equal(errbuf, "/dev/zero: cannot read: a character "
	    "device, not a regular file\n");

	/* One byte over the limit (sparse: no disk used). */
	snprintf(big, sizeof(big), "%s/big.conf", dir);
	f = fopen(big, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), CONF_FILE_MAX + 1), 0);
	fclose(f);
	memset(errbuf, 0, sizeof(errbuf));
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	setvbuf(err, NULL, _IONBF, 0);
	assert_null(conf_load(big, err));
	fclose(err);
	assert_non_null(strstr(errbuf, "big.conf: cannot read: 1048577 "
	    "bytes, more than a configuration file may have (1048576)\n"));

	/* Exactly at the limit: one long comment line and a socket. */
	f = fopen(big, "w");
	assert_non_null(f);
	fputs("socket = inet:1@127.0.0.1\n#", f);
	while (ftell(f) < CONF_FILE_MAX - 1)
		fputc('x', f);
	fputc('\n', f);
	assert_int_equal(ftell(f), CONF_FILE_MAX);
	fclose(f);
	memset(errbuf, 0, sizeof(errbuf));
	err = fmemopen(errbuf, sizeof(errbuf), "w");
	setvbuf(err, NULL, _IONBF, 0);
	{
		struct conf *c = conf_load(big, err);

		assert_non_null(c);
		conf_unref(c);
	}
	fclose(err);
	unlink(big);
	rmdir(dir);
}

/* ------------------------------------------------------------- socket */

static void
socket_is(const char *value, const char *normalised)
{
	char text[300];
	struct conf *c;

	snprintf(text, sizeof(text), "socket = %s\n", value);
	c = expect_ok(text);
	assert_string_equal(c->socket, normalised);
	assert_int_equal(conf_require_socket(c, NULL), 0);
	conf_unref(c);
}

static void
test_socket(void **state)
{
	(void)state;
	socket_is("inet:3000@localhost", "inet:3000@localhost");
	socket_is("inet:3000@127.0.0.1", "inet:3000@127.0.0.1");
	socket_is("inet:3000", "inet:3000");
	socket_is("inet6:3000@::1", "inet6:3000@::1");
	socket_is("inet6:3000@[::1]", "inet6:3000@::1");
	socket_is("inet6:3000", "inet6:3000");
	socket_is("inet:localhost:3000", "inet:3000@localhost");
	socket_is("inet:0.0.0.0:3000", "inet:3000@0.0.0.0");
	socket_is("inet:[::1]:3000", "inet6:3000@::1");
	socket_is("unix:/run/spf-milter.sock", "unix:/run/spf-milter.sock");
	socket_is("local:/run/spf-milter.sock", "unix:/run/spf-milter.sock");
	socket_is("UNIX:/x", "unix:/x");
}

static void
test_socket_errors(void **state)
{
	(void)state;
	expect_errors("socket = tcp:3000\n",
	    "t.conf:1: unknown socket type in \"tcp:3000\" (expected "
	    "inet:PORT@HOST, inet6:PORT@HOST or unix:/ABSOLUTE/PATH, e.g. "
	    "socket = inet:8894@127.0.0.1)\n");
	expect_errors("socket = /run/x.sock\n",
	    "t.conf:1: unknown socket type in \"/run/x.sock\" (expected "
	    "inet:PORT@HOST, inet6:PORT@HOST or unix:/ABSOLUTE/PATH, e.g. "
	    "socket = inet:8894@127.0.0.1)\n");
	expect_errors("socket = inet:0@localhost\n",
	    "t.conf:1: invalid port in socket \"inet:0@localhost\": a port "
	    "is a number from 1 to 65535 (expected inet:PORT@HOST, "
	    "inet6:PORT@HOST or unix:/ABSOLUTE/PATH, e.g. socket = "
	    "inet:8894@127.0.0.1)\n");
	assert_null(load("socket = inet:65536@localhost\n"));
	assert_null(load("socket = inet:smtp@localhost\n"));
	assert_null(load("socket = inet:@localhost\n"));
	expect_errors("socket = inet:3000@\n",
	    "t.conf:1: cannot read socket \"inet:3000@\" (expected "
	    "inet:PORT@HOST, inet6:PORT@HOST or unix:/ABSOLUTE/PATH, e.g. "
	    "socket = inet:8894@127.0.0.1)\n");
	assert_null(load("socket = inet6:2001:db8::1:3000\n"));
	expect_errors("socket = inet:3000@bad_host!\n",
	    "t.conf:1: invalid host \"bad_host!\" in socket (expected "
	    "inet:PORT@HOST, inet6:PORT@HOST or unix:/ABSOLUTE/PATH, e.g. "
	    "socket = inet:8894@127.0.0.1)\n");
	assert_null(load("socket = inet:3000@300.1.2.3\n"));
	expect_errors("socket = unix:run/x.sock\n",
	    "t.conf:1: unix socket path \"run/x.sock\" is not absolute "
	    "(write e.g. socket = unix:/run/spf-milter/spf-milter.sock)\n");
	assert_null(load("socket = unix:\n"));
	assert_null(load("socket = unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaa\n"));
}

static void
test_socket_mode_user(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("socket_mode = 600\nuser = spf-milter\n");
	assert_int_equal(c->socket_mode, 0600);
	assert_string_equal(c->user, "spf-milter");
	conf_unref(c);
	c = expect_ok("socket_mode = 0777\nuser = 105\n");
	assert_int_equal(c->socket_mode, 0777);
	conf_unref(c);
	expect_errors("socket_mode = 0800\n",
	    "t.conf:1: invalid socket_mode \"0800\" (expected octal "
	    "permissions up to 0777, e.g. socket_mode = 0660)\n");
	assert_null(load("socket_mode = 1777\n"));
	assert_null(load("socket_mode = rw\n"));
	assert_null(load("socket_mode =\n"));
	expect_errors("user = spf milter\n",
	    "t.conf:1: invalid user \"spf milter\" (expected a user name or "
	    "numeric uid, e.g. user = spf-milter, or empty to keep the user "
	    "it was started as)\n");
	assert_null(load("user = -x\n"));
}

/* ------------------------------------------------------- bool, results */

static void
test_bools(void **state)
{
	static const char *const keys[] = { "verify_helo",
	    "include_all_results", "delete_incoming_authentication_results",
	    "trust_authenticated_senders", "dry_run",
	    "delete_incoming_received_spf" };
	static const char *const yes[] = { "yes", "true", "on", "YES", "On" };
	static const char *const no[] = { "no", "false", "off", "No" };
	char text[200];
	struct conf *c;
	size_t k, i;

	(void)state;
	for (k = 0; k < 6; k++) {
		for (i = 0; i < 5; i++) {
			snprintf(text, sizeof(text), "%s = %s\n", keys[k], yes[i]);
			c = expect_ok(text);
			assert_true(k == 0 ? c->verify_helo : k == 1 ?
			    c->include_all_results : k == 2 ?
			    c->delete_incoming_authentication_results : k == 3 ?
			    c->trust_authenticated_senders : k == 4 ?
			    c->dry_run : c->delete_incoming_received_spf);
			conf_unref(c);
		}
		for (i = 0; i < 4; i++) {
			snprintf(text, sizeof(text), "%s = %s\n", keys[k], no[i]);
			c = expect_ok(text);
			assert_false(k == 0 ? c->verify_helo : k == 1 ?
			    c->include_all_results : k == 2 ?
			    c->delete_incoming_authentication_results : k == 3 ?
			    c->trust_authenticated_senders : k == 4 ?
			    c->dry_run : c->delete_incoming_received_spf);
			conf_unref(c);
		}
	}
	expect_errors("dry_run = 1\n", "t.conf:1: invalid value \"1\" for "
	    "dry_run (expected yes or no; also accepted: true, false, on, "
	    "off)\n");
	assert_null(load("verify_helo =\n"));
}

static void
test_results(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("reject_results = fail, SoftFail,permerror\n"
	    "definitive_helo_results = pass\n");
	assert_int_equal(c->reject_results,
	    B(SPF_FAIL) | B(SPF_SOFTFAIL) | B(SPF_PERMERROR));
	assert_int_equal(c->reject_helo_results, c->reject_results);
	assert_int_equal(c->definitive_helo_results, B(SPF_PASS));
	conf_unref(c);
	c = expect_ok("reject_results =\nreject_helo_results = fail\n"
	    "definitive_helo_results =\n");
	assert_int_equal(c->reject_results, 0);
	assert_int_equal(c->reject_helo_results, B(SPF_FAIL));
	assert_int_equal(c->definitive_helo_results, 0);
	conf_unref(c);
	c = expect_ok("reject_helo_results =\n");
	assert_int_equal(c->reject_helo_results, 0);
	conf_unref(c);
	c = expect_ok("definitive_helo_results = none, neutral, pass, fail, "
	    "softfail, temperror, permerror\n");
	assert_int_equal(c->definitive_helo_results, (1u << SPF_NRESULTS) - 1);
	conf_unref(c);
	expect_errors("reject_results = fail, softfial\n",
	    "t.conf:1: unknown result \"softfial\" in reject_results "
	    "(expected: pass, fail, softfail, neutral, none, temperror, "
	    "permerror)\n");
	expect_errors("reject_helo_results = pass\n",
	    "t.conf:1: pass cannot be rejected: remove it from "
	    "reject_helo_results\n");
	expect_errors("reject_results = fail,, none\n",
	    "t.conf:1: empty item in reject_results (separate items with "
	    "one comma, e.g. reject_results = a, b)\n");
	expect_errors("reject_results = fail none\n",
	    "t.conf:1: unknown result \"fail none\" in reject_results "
	    "(expected: pass, fail, softfail, neutral, none, temperror, "
	    "permerror)\n");
}

/* ------------------------------------------------------------- replies */

static void
test_replies(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("softfail_reply_code = 450\n"
	    "softfail_status_code = 4.7.23\n"
	    "softfail_reply_text = Try later, %{domain} says ~all (100%%)\n"
	    "fail_reply_text = Rejected; %{exp}\n"
	    "none_reply_text =\n");
	assert_string_equal(c->reply[SPF_SOFTFAIL].code, "450");
	assert_string_equal(c->reply[SPF_SOFTFAIL].status, "4.7.23");
	assert_string_equal(c->reply[SPF_SOFTFAIL].text,
	    "Try later, %{domain} says ~all (100%%)");
	/* ';' is no comment here, though inih would make it one */
	assert_string_equal(c->reply[SPF_FAIL].text, "Rejected; %{exp}");
	assert_string_equal(c->reply[SPF_NONE].text, "");
	conf_unref(c);
	c = expect_ok("temperror_reply_code = 421\n"
	    "permerror_status_code = 5.5.999\n");
	conf_unref(c);
	expect_errors("fail_reply_code = 250\n",
	    "t.conf:1: invalid fail_reply_code \"250\" (expected a 4xx or "
	    "5xx SMTP reply code, e.g. fail_reply_code = 550)\n");
	assert_null(load("fail_reply_code = 5500\n"));
	assert_null(load("fail_reply_code = 560\n"));
	assert_null(load("fail_reply_code = 55x\n"));
	expect_errors("temperror_status_code = 4.7\n",
	    "t.conf:1: invalid temperror_status_code \"4.7\" (expected an "
	    "enhanced status code of class 4 or 5, e.g. "
	    "temperror_status_code = 4.7.24)\n");
	assert_null(load("fail_status_code = 2.0.0\n"));
	assert_null(load("fail_status_code = 5.07.1\n"));
	assert_null(load("fail_status_code = 5.7.1000\n"));
	assert_null(load("fail_status_code = 5.7.23 \"x\"\n"));
}

static void
test_reply_class(void **state)
{
	(void)state;
	expect_errors("temperror_reply_code = 550\n",
	    "t.conf:1: temperror_reply_code 550 and the default "
	    "temperror_status_code 4.7.24 differ in class; also set "
	    "temperror_status_code = 5.7.24\n");
	expect_errors("fail_status_code = 4.7.23\n# x\nfail_reply_code = 550\n",
	    "t.conf:3: fail_reply_code 550 and fail_status_code 4.7.23 "
	    "differ in class (5 and 4); make them agree, e.g. "
	    "fail_status_code = 5.7.23\n");
}

static void
test_reply_text_errors(void **state)
{
	char text[600];

	(void)state;
	expect_errors("none_reply_text = no policy: %{exp}\n",
	    "t.conf:1: %{exp} is only available in fail_reply_text (only a "
	    "fail has an explanation); remove it from none_reply_text\n");
	expect_errors("fail_reply_text = 100% sure\n",
	    "t.conf:1: \"%\" not followed by {domain}, {exp} or % in "
	    "fail_reply_text at \"% sure\" (write %% for a percent sign)\n");
	expect_errors("neutral_reply_text = %{d}\n",
	    "t.conf:1: \"%\" not followed by {domain} or % in "
	    "neutral_reply_text at \"%{d}\" (write %% for a percent sign)\n");
	expect_errors("fail_reply_text = caf\xc3\xa9\n",
	    "t.conf:1: fail_reply_text contains a control or non-ASCII "
	    "character; SMTP replies are printable ASCII\n");
	memset(text, 'x', sizeof(text));
	memcpy(text, "fail_reply_text = ", 18);
	strcpy(text + 18 + CONF_REPLY_TEXT_MAX + 1, "\n");
	expect_errors(text, "t.conf:1: fail_reply_text is longer than 400 "
	    "characters; shorten it\n");
	text[18 + CONF_REPLY_TEXT_MAX] = '\n';
	text[18 + CONF_REPLY_TEXT_MAX + 1] = '\0';
	conf_unref(expect_ok(text));
}

/* ------------------------------------------------ headers and identity */

static void
test_header(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("header = Authentication-Results, received-spf\n");
	assert_int_equal(c->nheader, 2);
	assert_int_equal(c->header[0], CONF_HEADER_AUTHENTICATION_RESULTS);
	assert_int_equal(c->header[1], CONF_HEADER_RECEIVED_SPF);
	conf_unref(c);
	c = expect_ok("header =\n");
	assert_int_equal(c->nheader, 0);
	conf_unref(c);
	expect_errors("header = X-SPF\n",
	    "t.conf:1: unknown header field \"X-SPF\" in header (expected "
	    "Received-SPF, Authentication-Results, both separated by a comma, "
	    "or nothing)\n");
	expect_errors("header = Received-SPF, Received-SPF\n",
	    "t.conf:1: Received-SPF is listed twice in header; list it "
	    "once\n");
}

static void
test_hostname(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("hostname = mx.example.org\n");
	assert_string_equal(c->hostname, "mx.example.org");
	assert_string_equal(c->authserv_id, "mx.example.org");
	conf_unref(c);
	c = expect_ok("hostname = mx.example.org\nauthserv_id = example.org\n");
	assert_string_equal(c->authserv_id, "example.org");
	conf_unref(c);
	expect_errors("hostname = mx example\n",
	    "t.conf:1: invalid hostname \"mx example\" (expected a domain "
	    "name, e.g. hostname = mx.example.org, or empty for the system's "
	    "host name)\n");
	assert_null(load("hostname = a..b\n"));
	expect_errors("authserv_id = mx;spf=pass\n",
	    "t.conf:1: invalid authserv_id \"mx;spf=pass\" (expected a token "
	    "such as a host name, e.g. authserv_id = mx.example.org, or "
	    "empty for hostname)\n");
	assert_null(load("authserv_id = \"quoted\"\n"));
}

/* --------------------------------------------------- networks, senders */

static int
trusted(const struct conf *c, const char *ip)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return conf_trusted_ip(c, AF_INET, a);
	assert_int_equal(inet_pton(AF_INET6, ip, a), 1);
	return conf_trusted_ip(c, AF_INET6, a);
}

static void
test_networks(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("");
	assert_true(trusted(c, "127.0.0.1"));
	assert_true(trusted(c, "127.255.1.2"));
	assert_true(trusted(c, "::1"));
	assert_true(trusted(c, "::ffff:127.0.0.1"));
	assert_false(trusted(c, "128.0.0.1"));
	assert_false(trusted(c, "::2"));
	conf_unref(c);
	c = expect_ok("trusted_networks = 192.0.2.77/25, 2001:db8::/32, "
	    "198.51.100.7, 10.0.0.0/0\n");
	assert_int_equal(c->ntrusted_networks, 4);
	assert_int_equal(c->trusted_networks[0].prefix, 25);
	assert_int_equal(c->trusted_networks[0].addr[3], 0);
	assert_true(trusted(c, "192.0.2.127"));
	assert_true(trusted(c, "2001:db8:ffff::1"));
	assert_true(trusted(c, "198.51.100.7"));
	assert_true(trusted(c, "8.8.8.8"));
	assert_false(trusted(c, "::1"));
	assert_false(trusted(c, "2001:db9::1"));
	conf_unref(c);
	c = expect_ok("trusted_networks =\n");
	assert_int_equal(c->ntrusted_networks, 0);
	assert_false(trusted(c, "127.0.0.1"));
	conf_unref(c);
	expect_errors("trusted_networks = 10.0.0.0/33, example.org\n",
	    "t.conf:1: invalid network \"10.0.0.0/33\" in trusted_networks "
	    "(expected an IPv4 or IPv6 address, optionally with /PREFIX, e.g. "
	    "192.0.2.0/24 or 2001:db8::/32, or loopback)\n"
	    "t.conf:1: invalid network \"example.org\" in trusted_networks "
	    "(expected an IPv4 or IPv6 address, optionally with /PREFIX, e.g. "
	    "192.0.2.0/24 or 2001:db8::/32, or loopback)\n");
	assert_null(load("trusted_networks = ::1/129\n"));
	assert_null(load("trusted_networks = 10.0.0.0/\n"));
}

static void
test_skip_senders(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("skip_senders = Bounce@Example.com, example.net, "
	    ".example.org\n");
	assert_int_equal(c->nskip_senders, 3);
	assert_string_equal(c->skip_senders[0], "bounce@example.com");
	assert_true(conf_skip_sender(c, "bounce@example.com"));
	assert_true(conf_skip_sender(c, "<BOUNCE@example.COM>"));
	assert_false(conf_skip_sender(c, "other@example.com"));
	assert_true(conf_skip_sender(c, "anyone@example.net"));
	assert_true(conf_skip_sender(c, "<anyone@EXAMPLE.net>"));
	assert_false(conf_skip_sender(c, "anyone@sub.example.net"));
	assert_false(conf_skip_sender(c, "anyone@example.org"));
	assert_true(conf_skip_sender(c, "a@sub.example.org"));
	assert_true(conf_skip_sender(c, "a@deep.sub.example.org"));
	assert_false(conf_skip_sender(c, "a@badexample.org"));
	assert_false(conf_skip_sender(c, ""));
	assert_false(conf_skip_sender(c, "<>"));
	assert_false(conf_skip_sender(c, NULL));
	conf_unref(c);
	expect_errors("skip_senders = @example.com, a b@c.d\n",
	    "t.conf:1: invalid entry \"@example.com\" in skip_senders "
	    "(expected an address user@example.org, a domain example.org, or "
	    ".example.org for its subdomains)\n"
	    "t.conf:1: invalid entry \"a b@c.d\" in skip_senders (expected "
	    "an address user@example.org, a domain example.org, or "
	    ".example.org for its subdomains)\n");
	assert_null(load("skip_senders = user@\n"));
}

/* The Rust spf-milter's "loopback" (its 0.6 and 0.7 man pages write
 * "trusted_networks = loopback, 12.45.2.192/28"). */
static void
test_networks_loopback(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("trusted_networks = loopback, 12.45.2.192/28\n");
	assert_int_equal(c->ntrusted_networks, 3);
	assert_true(trusted(c, "127.0.0.1"));
	assert_true(trusted(c, "127.200.0.9"));
	assert_true(trusted(c, "::1"));
	assert_true(trusted(c, "::ffff:127.0.0.2"));
	assert_true(trusted(c, "12.45.2.207"));
	assert_false(trusted(c, "12.45.2.208"));
	assert_false(trusted(c, "::2"));
	assert_false(trusted(c, "128.0.0.1"));
	conf_unref(c);
	/* any case, once or twice, alone */
	c = expect_ok("trusted_networks = LoopBack\n");
	assert_int_equal(c->ntrusted_networks, 2);
	assert_true(trusted(c, "::1"));
	conf_unref(c);
	assert_null(load("trusted_networks = loopback/8\n"));
	assert_null(load("trusted_networks = loop back\n"));
}

/* trusted_forwarders: names and .suffixes, matched against what DNS
 * gives (any case, a trailing dot). */
static void
test_trusted_forwarders(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("trusted_forwarders = MX2.Example.ORG., .lists.example.net\n");
	assert_int_equal(c->ntrusted_forwarders, 2);
	assert_string_equal(c->trusted_forwarders[0], "mx2.example.org");
	assert_string_equal(c->trusted_forwarders[1], ".lists.example.net");
	assert_true(conf_trusted_forwarder(c, "mx2.example.org"));
	assert_true(conf_trusted_forwarder(c, "MX2.EXAMPLE.ORG."));
	assert_false(conf_trusted_forwarder(c, "mx2.example.org.evil.example"));
	assert_false(conf_trusted_forwarder(c, "xmx2.example.org"));
	assert_false(conf_trusted_forwarder(c, "a.mx2.example.org"));
	assert_true(conf_trusted_forwarder(c, "a.lists.example.net"));
	assert_true(conf_trusted_forwarder(c, "b.a.Lists.Example.Net."));
	assert_false(conf_trusted_forwarder(c, "lists.example.net"));
	assert_false(conf_trusted_forwarder(c, "evillists.example.net"));
	assert_false(conf_trusted_forwarder(c, ""));
	assert_false(conf_trusted_forwarder(c, "."));
	conf_unref(c);
	c = expect_ok("");
	assert_int_equal(c->ntrusted_forwarders, 0);
	assert_int_equal(c->ntrusted_forwarder_domains, 0);
	assert_int_equal(c->nexempt_recipients, 0);
	assert_false(conf_trusted_forwarder(c, "mx2.example.org"));
	assert_false(conf_exempt_recipient(c, "<postmaster@example.org>"));
	conf_unref(c);
	expect_errors("trusted_forwarders = a..b, 192.0.2.1/24, .\n",
	    "t.conf:1: invalid entry \"a..b\" in trusted_forwarders (expected "
	    "a host name such as mx2.example.org, or .example.net for every "
	    "name below example.net)\n"
	    "t.conf:1: invalid entry \"192.0.2.1/24\" in trusted_forwarders "
	    "(expected a host name such as mx2.example.org, or .example.net "
	    "for every name below example.net)\n"
	    "t.conf:1: invalid entry \".\" in trusted_forwarders (expected a "
	    "host name such as mx2.example.org, or .example.net for every "
	    "name below example.net)\n");
	c = expect_ok("trusted_forwarder_domains = Forwarder.Example, "
	    "lists.example.net.\n");
	assert_int_equal(c->ntrusted_forwarder_domains, 2);
	assert_string_equal(c->trusted_forwarder_domains[0], "forwarder.example");
	assert_string_equal(c->trusted_forwarder_domains[1], "lists.example.net");
	conf_unref(c);
	expect_errors("trusted_forwarder_domains = .forwarder.example\n",
	    "t.conf:1: invalid entry \".forwarder.example\" in "
	    "trusted_forwarder_domains (expected a domain whose own SPF "
	    "record lists its forwarders, such as forwarder.example)\n");
}

/* exempt_recipients: local-parts at any domain and whole addresses. */
static void
test_exempt_recipients(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("exempt_recipients = Postmaster, abuse@Example.org\n");
	assert_int_equal(c->nexempt_recipients, 2);
	assert_string_equal(c->exempt_recipients[0], "postmaster");
	assert_string_equal(c->exempt_recipients[1], "abuse@example.org");
	assert_true(conf_exempt_recipient(c, "<postmaster@example.org>"));
	assert_true(conf_exempt_recipient(c, "<POSTMASTER@other.example>"));
	assert_true(conf_exempt_recipient(c, "postmaster@example.org"));
	/* RFC 5321 4.5.1: "Postmaster" without a domain */
	assert_true(conf_exempt_recipient(c, "<Postmaster>"));
	assert_true(conf_exempt_recipient(c, "<@relay.example:postmaster@example.org>"));
	assert_false(conf_exempt_recipient(c, "<postmaster2@example.org>"));
	assert_false(conf_exempt_recipient(c, "<xpostmaster@example.org>"));
	assert_false(conf_exempt_recipient(c, "<postmaster.x@example.org>"));
	assert_true(conf_exempt_recipient(c, "<Abuse@EXAMPLE.org>"));
	assert_false(conf_exempt_recipient(c, "<abuse@other.example>"));
	assert_false(conf_exempt_recipient(c, "<abuse>"));
	assert_false(conf_exempt_recipient(c, "<abuse@example.org.evil>"));
	assert_false(conf_exempt_recipient(c, "<>"));
	assert_false(conf_exempt_recipient(c, ""));
	assert_false(conf_exempt_recipient(c, NULL));
	conf_unref(c);
	expect_errors("exempt_recipients = @example.org, a b, x@y..z, <pm>\n",
	    "t.conf:1: invalid entry \"@example.org\" in exempt_recipients "
	    "(expected a local-part such as postmaster, or an address such "
	    "as abuse@example.org)\n"
	    "t.conf:1: invalid entry \"a b\" in exempt_recipients (expected "
	    "a local-part such as postmaster, or an address such as "
	    "abuse@example.org)\n"
	    "t.conf:1: invalid entry \"x@y..z\" in exempt_recipients "
	    "(expected a local-part such as postmaster, or an address such "
	    "as abuse@example.org)\n"
	    "t.conf:1: invalid entry \"<pm>\" in exempt_recipients (expected "
	    "a local-part such as postmaster, or an address such as "
	    "abuse@example.org)\n");
}

/* ---------------------------------------------------------- logging */

static void
test_logging(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("log_destination = stderr\nlog_level = debug\n"
	    "syslog_facility = local3\n");
	assert_int_equal(c->log_destination, CONF_LOG_STDERR);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_int_equal(c->syslog_facility, LOG_LOCAL3);
	conf_unref(c);
	c = expect_ok("log_level = warn\nsyslog_facility = daemon\n");
	assert_int_equal(c->log_level, LOG_WARNING);
	assert_int_equal(c->syslog_facility, LOG_DAEMON);
	conf_unref(c);
	c = expect_ok("log_level = error\n");
	assert_int_equal(c->log_level, LOG_ERR);
	conf_unref(c);
	expect_errors("log_destination = file\n",
	    "t.conf:1: invalid log_destination \"file\" (expected: syslog, "
	    "stderr)\n");
	expect_errors("log_level = verbose\n",
	    "t.conf:1: invalid log_level \"verbose\" (expected: error, warn, "
	    "info, debug)\n");
	expect_errors("syslog_facility = local8\n",
	    "t.conf:1: invalid syslog_facility \"local8\" (expected: mail, "
	    "daemon, user, auth, authpriv, local0, local1, local2, local3, "
	    "local4, local5, local6, local7)\n");
}

/* --------------------------------------------------------------- DNS */

static unsigned
timeout_of(const char *value)
{
	char text[100];
	struct conf *c;
	unsigned ms;

	snprintf(text, sizeof(text), "dns_timeout = %s\n", value);
	c = expect_ok(text);
	ms = c->dns_timeout_ms;
	conf_unref(c);
	return ms;
}

static void
test_dns_timeout(void **state)
{
	(void)state;
	assert_int_equal(timeout_of("5"), 5000);
	assert_int_equal(timeout_of("2.5"), 2500);
	assert_int_equal(timeout_of("0.125"), 125);
	assert_int_equal(timeout_of("3s"), 3000);
	assert_int_equal(timeout_of("1.5s"), 1500);
	assert_int_equal(timeout_of("500ms"), 500);
	assert_int_equal(timeout_of("60"), 60000);
	assert_int_equal(timeout_of("0.1"), 100);
	expect_errors("dns_timeout = 61\n",
	    "t.conf:1: invalid dns_timeout \"61\" (expected seconds from 0.1 "
	    "to 60, e.g. dns_timeout = 10, 2.5 or 500ms)\n");
	assert_null(load("dns_timeout = 0\n"));
	assert_null(load("dns_timeout = 99ms\n"));
	assert_null(load("dns_timeout = 1.5ms\n"));
	assert_null(load("dns_timeout = 1.2345\n"));
	assert_null(load("dns_timeout = 5 s\n"));
	assert_null(load("dns_timeout = -1\n"));
	assert_null(load("dns_timeout = 1.\n"));
	assert_null(load("dns_timeout = 99999999999\n"));
	assert_null(load("dns_timeout =\n"));
}

static void
test_dns_servers(void **state)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct conf *c;

	(void)state;
	c = expect_ok("dns_servers = 192.0.2.53, 192.0.2.54:5353, "
	    "2001:db8::53, [2001:db8::54]:5300, [::1]\n");
	assert_int_equal(c->ndns_servers, 5);
	sin = (const void *)&c->dns_servers[0];
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 53);
	sin = (const void *)&c->dns_servers[1];
	assert_int_equal(ntohs(sin->sin_port), 5353);
	sin6 = (const void *)&c->dns_servers[2];
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 53);
	sin6 = (const void *)&c->dns_servers[3];
	assert_int_equal(ntohs(sin6->sin6_port), 5300);
	sin6 = (const void *)&c->dns_servers[4];
	assert_int_equal(sin6->sin6_family, AF_INET6);
	conf_unref(c);
	expect_errors("dns_servers = 1.1.1.1, 1.1.1.2, 1.1.1.3, 1.1.1.4, "
	    "1.1.1.5, 1.1.1.6, 1.1.1.7, 1.1.1.8\n",
	    "t.conf:1: more than 6 nameservers in dns_servers; list at most "
	    "6\n");
	expect_errors("dns_servers = ns.example.org\n",
	    "t.conf:1: invalid nameserver \"ns.example.org\" in dns_servers "
	    "(expected an IP address with optional port, e.g. 192.0.2.53, "
	    "192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353)\n");
	assert_null(load("dns_servers = 192.0.2.1:0\n"));
	assert_null(load("dns_servers = 192.0.2.1:65536\n"));
	assert_null(load("dns_servers = [192.0.2.1]:53\n"));
	assert_null(load("dns_servers = [2001:db8::1\n"));
	assert_null(load("dns_servers = [2001:db8::1]x\n"));
}

/* conf_parse_server() alone: the one parser of the nameserver syntax,
 * which bench/spfbench uses too. */
static void
test_parse_server(void **state)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const void *)&ss;
	const struct sockaddr_in6 *sin6 = (const void *)&ss;
	static const char *bad[] = {
		"", " ", "example.com", "1.2.3", "1.2.3.4:", "1.2.3.4:0",
		"1.2.3.4:65536", "1.2.3.4:53x", "1.2.3.4:-1", "[1.2.3.4]:53",
		"[::1", "[::1]x", "[::1]:", "::1:53:", "1.2.3.4 53",
		"256.1.1.1", "[::1]:99999", " 127.0.0.1", "127.0.0.1 ",
	};

	(void)state;
	assert_int_equal(conf_parse_server("192.0.2.1", &ss), 0);
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 53);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000201);
	assert_int_equal(conf_parse_server("127.0.0.1:5353", &ss), 0);
	assert_int_equal(ntohs(sin->sin_port), 5353);
	assert_int_equal(conf_parse_server("::1", &ss), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 53);
	assert_int_equal(sin6->sin6_addr.s6_addr[15], 1);
	assert_int_equal(conf_parse_server("[2001:db8::2]:65535", &ss), 0);
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 65535);
	assert_int_equal(conf_parse_server("[::1]", &ss), 0);
	assert_int_equal(ntohs(sin6->sin6_port), 53);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (conf_parse_server(bad[i], &ss) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_dns_cache_size(void **state)
{
	struct conf *c;

	(void)state;
	c = expect_ok("dns_cache_size = 0\n");
	assert_int_equal(c->dns_cache_size, 0);
	conf_unref(c);
	c = expect_ok("dns_cache_size = 1000000\n");
	assert_int_equal(c->dns_cache_size, 1000000);
	conf_unref(c);
	expect_errors("dns_cache_size = -5\n",
	    "t.conf:1: invalid dns_cache_size \"-5\" (expected a number of "
	    "entries from 0 (no cache) to 1000000, e.g. dns_cache_size = "
	    "1000)\n");
	assert_null(load("dns_cache_size = 1000001\n"));
	assert_null(load("dns_cache_size = 1k\n"));
}

static void
test_dns_cache_max_bytes(void **state)
{
	static const struct {
		const char *text;
		size_t bytes;
	} good[] = {
		{ "16384", 16384 }, { "16K", 16384 }, { "16k", 16384 },
		{ "1536K", 1536 << 10 }, { "4M", 4 << 20 }, { "1g", 1 << 30 },
		{ "1073741824", 1 << 30 },
	};
	static const char *bad[] = {
		"", "K", "16383", "15K", "1025M", "2G", "1.5M", "1 M", "1MB",
		"-1M", "+64K", "0x10000", "99999999999999999999K",
	};
	char line[80];
	struct conf *c;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(line, sizeof(line), "dns_cache_max_bytes = %s\n",
		    good[i].text);
		c = expect_ok(line);
		assert_int_equal(c->dns_cache_max_bytes, good[i].bytes);
		conf_unref(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "dns_cache_max_bytes = %s\n",
		    bad[i]);
		if ((c = load(line)) != NULL)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	expect_errors("dns_cache_max_bytes = 2G\n",
	    "t.conf:1: invalid dns_cache_max_bytes \"2G\" (expected bytes "
	    "from 16K to 1G, K, M or G for units of 1024, e.g. "
	    "dns_cache_max_bytes = 1M)\n");
}

/* ------------------------------------------------------- file format */

static void
test_format(void **state)
{
	struct conf *c;
	char text[1200];
	size_t n, count = 1;

	(void)state;
	c = expect_ok("\xef\xbb\xbf# comment\n; also a comment\n\n"
	    "   verify_helo   =   no   \n\tdry_run=yes\r\n"
	    "  # indented comment\n");
	assert_false(c->verify_helo);
	assert_true(c->dry_run);
	conf_unref(c);
	assert_null(load("hostname = a.example # not a comment\n"));
	/* a line far longer than inih's 200-byte buffer keeps its value */
	n = (size_t)snprintf(text, sizeof(text), "trusted_networks = 10.0.0.1");
	for (; n < 1000; count++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, ", 10.0.0.1");
	snprintf(text + n, sizeof(text) - n, ", 10.9.9.9\nverify_helo = no\n");
	c = expect_ok(text);
	assert_int_equal(c->ntrusted_networks, count + 1);
	assert_false(c->verify_helo);
	conf_unref(c);
	/* no final newline */
	c = expect_ok("verify_helo = no");
	assert_false(c->verify_helo);
	conf_unref(c);
}

static void
test_format_errors(void **state)
{
	(void)state;
	expect_errors("verify_helo yes\n",
	    "t.conf:1: expected KEY = VALUE, found \"verify_helo yes\" (write "
	    "it as verify_helo = yes)\n");
	expect_errors("\n\njunk\n",
	    "t.conf:3: expected KEY = VALUE, found \"junk\" (comment lines "
	    "start with #)\n");
	expect_errors("[spf-milter]\nverify_helo = yes\n",
	    "t.conf:1: section headers such as \"[spf-milter]\" are not used; "
	    "remove the line (every parameter is a KEY = VALUE line)\n");
	expect_errors("= yes\n",
	    "t.conf:1: missing parameter name before \"=\"\n");
	expect_errors("verify helo = yes\n",
	    "t.conf:1: \"verify helo\" is not a parameter name (names are "
	    "like verify_helo; spf-milter.conf(5) lists them)\n");
	expect_errors("verfy_helo = yes\n",
	    "t.conf:1: unknown parameter \"verfy_helo\" (did you mean "
	    "verify_helo?)\n");
	expect_errors("completely_unrelated_thing = 1\n",
	    "t.conf:1: unknown parameter \"completely_unrelated_thing\" "
	    "(spf-milter.conf(5) lists the parameters)\n");
	expect_errors("dry_run = no\nverify_helo = no\ndry_run = yes\n",
	    "t.conf:3: duplicate parameter dry_run (already set on line 1); "
	    "keep only one of the two lines\n");
	assert_null(load_n("dry_run = no\nverify_helo = n\0o\n", 31, NULL, 0));
	assert_string_equal(errbuf,
	    "t.conf:2: the line contains a NUL byte; remove it\n");
}

/* A file with three mistakes reports three, in order, and none else. */
static void
test_three_errors(void **state)
{
	(void)state;
	expect_errors("socket = inet:8894@127.0.0.1\n"
	    "reject_results = fail, softfial\n"
	    "verify_helo = yes\n"
	    "log_level = loud\n"
	    "header Received-SPF\n"
	    "dry_run = no\n",
	    "t.conf:2: unknown result \"softfial\" in reject_results "
	    "(expected: pass, fail, softfail, neutral, none, temperror, "
	    "permerror)\n"
	    "t.conf:4: invalid log_level \"loud\" (expected: error, warn, "
	    "info, debug)\n"
	    "t.conf:5: expected KEY = VALUE, found \"header Received-SPF\" "
	    "(write it as header = Received-SPF)\n");
}

/* ---------------------------------------------------------- overrides */

static void
test_overrides(void **state)
{
	static const struct conf_override ov[] = {
		{ "socket", "unix:/tmp/x.sock" }, { "dry_run", "yes" },
		{ "log_destination", "stderr" }, { "log_level", "debug" }
	};
	static const struct conf_override bad[] = {
		{ "log_level", "chatty" }, { "nonsense", "1" }
	};
	struct conf *c;

	(void)state;
	c = load_ov("socket = inet:1@localhost\ndry_run = no\n", ov, 4);
	assert_non_null(c);
	assert_string_equal(c->socket, "unix:/tmp/x.sock");
	assert_true(c->dry_run);
	assert_int_equal(c->log_destination, CONF_LOG_STDERR);
	assert_int_equal(c->log_level, LOG_DEBUG);
	conf_unref(c);
	assert_null(load_ov("", bad, 2));
	assert_string_equal(errbuf, "command line: invalid log_level "
	    "\"chatty\" (expected: error, warn, info, debug)\n"
	    "command line: unknown parameter \"nonsense\" (spf-milter.conf(5) "
	    "lists the parameters)\n");
	c = conf_load_overrides(NULL, ov, 1, NULL);
	assert_non_null(c);
	assert_string_equal(c->path, "(defaults)");
	conf_unref(c);
}

/* ------------------------------------------------------- print, refs */

static char *
printed(const struct conf *c)
{
	char *s = NULL;
	size_t n;
	FILE *f = open_memstream(&s, &n);

	assert_non_null(f);
	conf_print(c, f);
	assert_int_equal(fclose(f), 0);
	return s;
}

static void
test_print_roundtrip(void **state)
{
	struct conf *a, *b;
	char *pa, *pb;
	size_t i;

	(void)state;
	a = expect_ok("socket = inet6:3000@::1\nheader = Authentication-Results"
	    ", Received-SPF\nskip_senders = .example.org, a@b.example\n"
	    "dns_servers = 192.0.2.1, [2001:db8::1]:5353\ndns_timeout = 2.5\n"
	    "trusted_networks = 192.0.2.0/24\nreject_results = softfail\n"
	    "fail_reply_text = 100%% %{exp}\nuser = nobody\n"
	    "dns_cache_max_bytes = 1536K\n"
	    "trusted_forwarders = .lists.example.net, mx2.example.org\n"
	    "trusted_forwarder_domains = forwarder.example\n"
	    "exempt_recipients = postmaster, abuse@example.org\n");
	pa = printed(a);
	b = expect_ok(pa);
	pb = printed(b);
	assert_string_equal(pa, pb);
	assert_non_null(strstr(pa, "\ndns_timeout = 2.5\n"));
	assert_non_null(strstr(pa, "\ndns_cache_max_bytes = 1536K\n"));
	assert_non_null(strstr(pa, "\nreject_helo_results = softfail\n"));
	assert_non_null(strstr(pa, "\nskip_senders = .example.org, "
	    "a@b.example\n"));
	assert_non_null(strstr(pa, "\ndns_servers = 192.0.2.1:53, "
	    "[2001:db8::1]:5353\n"));
	/* every known key is printed, once */
	for (i = 0; conf_keys[i] != NULL; i++) {
		char needle[100];

		snprintf(needle, sizeof(needle), "\n%s =", conf_keys[i]);
		assert_true(strncmp(pa, needle + 1, strlen(needle + 1)) == 0 ||
		    strstr(pa, needle) != NULL);
	}
	assert_non_null(strstr(pa, "\ntrusted_forwarders = .lists.example.net, "
	    "mx2.example.org\n"));
	assert_non_null(strstr(pa, "\nexempt_recipients = postmaster, "
	    "abuse@example.org\n"));
	assert_int_equal(i, 45);
	free(pa);
	free(pb);
	conf_unref(a);
	conf_unref(b);
}

static void
test_refcount(void **state)
{
	struct conf *c = expect_ok("");

	(void)state;
	assert_int_equal(c->refs, 1);
	assert_ptr_equal(conf_ref(c), c);
	assert_int_equal(c->refs, 2);
	conf_unref(c);
	assert_int_equal(c->refs, 1);
	conf_unref(c);	/* freed: valgrind/ASan would see a leak otherwise */
	conf_unref(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_file_kinds),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_socket_errors),
		cmocka_unit_test(test_socket_mode_user),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_reply_class),
		cmocka_unit_test(test_reply_text_errors),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_hostname),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_skip_senders),
		cmocka_unit_test(test_networks_loopback),
		cmocka_unit_test(test_trusted_forwarders),
		cmocka_unit_test(test_exempt_recipients),
		cmocka_unit_test(test_logging),
		cmocka_unit_test(test_dns_timeout),
		cmocka_unit_test(test_dns_servers),
		cmocka_unit_test(test_parse_server),
		cmocka_unit_test(test_dns_cache_size),
		cmocka_unit_test(test_dns_cache_max_bytes),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_three_errors),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_refcount),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
