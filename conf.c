/*
 * conf.c - reads spf-milter.conf(5) into an immutable struct conf.
 *
 * inih does the line splitting, but Debian's build of it (and others)
 * differ in ways that would change what a file means: ';' starts an
 * inline comment (cutting reply texts), indented lines continue the
 * previous value, lines are cut at 200 bytes, and a line without '='
 * is only reported as the first error.  So we feed inih through our own
 * reader: it reads whole lines, reports malformed lines itself with
 * their number, hands inih only well-formed "key=value" lines without
 * leading blanks, and remembers the raw line so that the handler takes
 * the value from it, untouched by inih's comment rules.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"

struct parse {
	struct conf *c;
	const char *path;
	FILE *errors;
	FILE *in;
	unsigned nerrors;
	unsigned line;		/* 0 while applying command-line overrides */
	char *raw;		/* the current line as read */
	size_t rawcap;
	size_t bytes;		/* read so far */
	int read_error;		/* errno of a failed read, 0 if none */
	unsigned *seen;		/* per key: line that set it, 0 if none */
};

typedef int setter_fn(struct parse *p, int arg, const char *key,
    const char *value);
typedef void printer_fn(const struct conf *c, int arg, FILE *out);

static const char *default_code(int r);
static const char *default_status(int r);
static setter_fn set_socket, set_socket_mode, set_string, set_bool,
    set_results, set_reply_code, set_status_code, set_reply_text,
    set_header, set_networks,
    set_skip_senders, set_log_destination, set_log_level, set_facility,
    set_dns_timeout, set_dns_servers, set_cache_size, set_cache_bytes,
    set_names;
static printer_fn print_socket, print_socket_mode, print_string, print_bool,
    print_results, print_reply_code, print_status_code, print_reply_text,
    print_header, print_networks,
    print_skip_senders, print_log_destination, print_log_level,
    print_facility, print_dns_timeout, print_dns_servers, print_cache_size,
    print_cache_bytes, print_names;

/* Selectors for the bool and result-set parameters. */
enum {
	B_VERIFY_HELO, B_INCLUDE_ALL, B_DELETE_AR, B_DELETE_RSPF, B_TRUST_AUTH,
	B_DRY_RUN,
	R_DEFINITIVE_HELO, R_REJECT, R_REJECT_HELO
};

/* Selectors for the name lists of the exemptions. */
enum { L_FORWARDERS, L_FORWARDER_DOMAINS, L_EXEMPT_RECIPIENTS };

/* Selectors for the parameters that are one checked string. */
enum { S_USER, S_HOSTNAME, S_AUTHSERV_ID };

#define REPLY_KEYS(r, name) \
	X(name "_reply_code", reply_code, r) \
	X(name "_status_code", status_code, r) \
	X(name "_reply_text", reply_text, r)

/* Every parameter, in the order conf_print() shows them. */
#define CONF_KEYS \
	X("socket", socket, 0) \
	X("socket_mode", socket_mode, 0) \
	X("user", string, S_USER) \
	X("verify_helo", bool, B_VERIFY_HELO) \
	X("definitive_helo_results", results, R_DEFINITIVE_HELO) \
	X("reject_results", results, R_REJECT) \
	X("reject_helo_results", results, R_REJECT_HELO) \
	REPLY_KEYS(SPF_FAIL, "fail") \
	REPLY_KEYS(SPF_SOFTFAIL, "softfail") \
	REPLY_KEYS(SPF_NEUTRAL, "neutral") \
	REPLY_KEYS(SPF_NONE, "none") \
	REPLY_KEYS(SPF_TEMPERROR, "temperror") \
	REPLY_KEYS(SPF_PERMERROR, "permerror") \
	X("header", header, 0) \
	X("include_all_results", bool, B_INCLUDE_ALL) \
	X("hostname", string, S_HOSTNAME) \
	X("authserv_id", string, S_AUTHSERV_ID) \
	X("delete_incoming_authentication_results", bool, B_DELETE_AR) \
	X("delete_incoming_received_spf", bool, B_DELETE_RSPF) \
	X("trusted_networks", networks, 0) \
	X("trust_authenticated_senders", bool, B_TRUST_AUTH) \
	X("skip_senders", skip_senders, 0) \
	X("trusted_forwarders", names, L_FORWARDERS) \
	X("trusted_forwarder_domains", names, L_FORWARDER_DOMAINS) \
	X("exempt_recipients", names, L_EXEMPT_RECIPIENTS) \
	X("dry_run", bool, B_DRY_RUN) \
	X("log_destination", log_destination, 0) \
	X("log_level", log_level, 0) \
	X("syslog_facility", facility, 0) \
	X("dns_timeout", dns_timeout, 0) \
	X("dns_servers", dns_servers, 0) \
	X("dns_cache_size", cache_size, 0) \
	X("dns_cache_max_bytes", cache_bytes, 0)

struct key {
	const char *name;
	setter_fn *set;
	printer_fn *print;
	int arg;
};

#define X(name, kind, arg) { name, set_##kind, print_##kind, arg },
static const struct key keys[] = { CONF_KEYS };
#undef X
#define X(name, kind, arg) name,
const char *const conf_keys[] = { CONF_KEYS NULL };
#undef X

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The order result names are listed in, in messages and conf_print(). */
static const enum spf_result result_order[] = {
	SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_NEUTRAL, SPF_NONE,
	SPF_TEMPERROR, SPF_PERMERROR
};
#define RESULT_LIST "pass, fail, softfail, neutral, none, temperror, permerror"

/* ------------------------------------------------------------ messages */

static void perr(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	p->nerrors++;
	if (p->errors == NULL)
		return;
	if (p->line > 0)
		fprintf(p->errors, "%s:%u: ", p->path, p->line);
	else
		fprintf(p->errors, "command line: ");
	va_start(ap, fmt);
	vfprintf(p->errors, fmt, ap);
	va_end(ap);
	fputc('\n', p->errors);
}

/* Quote a piece of the file for a message: control and 8-bit bytes as
 * '?', cut at 60 characters, so that a message stays one readable line. */
static const char *
shown(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 4 < size && i < 60; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0' && i + 4 <= size) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

/* ------------------------------------------------------------- helpers */

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int
replace_str(struct parse *p, char **slot, const char *value)
{
	char *s = strdup(value);

	if (s == NULL) {
		perr(p, "out of memory");
		return -1;
	}
	free(*slot);
	*slot = s;
	return 0;
}

/*
 * Split VALUE at commas into trimmed items and call FN on each.  An empty
 * value is an empty list; an empty item is an error.  Returns -1 if any
 * item failed (every item is still tried, so all mistakes are reported).
 */
static int
each_item(struct parse *p, const char *key, const char *value,
    int (*fn)(struct parse *, const char *, const char *, void *), void *arg)
{
	char *copy, *s, *item, *comma;
	int rc = 0;

	if ((copy = strdup(value)) == NULL) {
		perr(p, "out of memory");
		return -1;
	}
	s = trim(copy);
	if (*s == '\0') {
		free(copy);
		return 0;
	}
	for (;;) {
		comma = strchr(s, ',');
		if (comma != NULL)
			*comma = '\0';
		item = trim(s);
		if (*item == '\0') {
			perr(p, "empty item in %s (separate items with one "
			    "comma, e.g. %s = a, b)", key, key);
			rc = -1;
		} else if (fn(p, key, item, arg) == -1)
			rc = -1;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	free(copy);
	return rc;
}

static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Levenshtein distance, for "did you mean"; short strings only. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[64], prev, tmp, best;

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			best = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* -------------------------------------------------------------- socket */

static int
valid_port(const char *s)
{
	unsigned long v;

	return parse_uint(s, 65535, &v) == 0 && v > 0;
}

/* A host for libmilter: an IP literal of the family or a host name. */
static int
valid_host(const char *h, int family)
{
	unsigned char buf[16];
	size_t i, n = strlen(h);

	if (inet_pton(family, h, buf) == 1)
		return 1;
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '-' &&
		    h[i] != '.')
			return 0;
	/* all digits and dots but no valid IPv4: a typo, not a name */
	return strspn(h, "0123456789.") != n;
}

#define SOCKET_HELP "(expected inet:PORT@HOST, inet6:PORT@HOST or " \
	"unix:/ABSOLUTE/PATH, e.g. socket = inet:8894@127.0.0.1)"

static int
set_unix_socket(struct parse *p, const char *path)
{
	char buf[80], *s;
	struct sockaddr_un sun;

	if (path[0] != '/') {
		perr(p, "unix socket path \"%s\" is not absolute (write e.g. "
		    "socket = unix:/run/spf-milter/spf-milter.sock)",
		    shown(path, buf, sizeof(buf)));
		return -1;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		perr(p, "unix socket path is longer than %zu bytes; choose a "
		    "shorter one", sizeof(sun.sun_path) - 1);
		return -1;
	}
	if (asprintf(&s, "unix:%s", path) < 0) {
		perr(p, "out of memory");
		return -1;
	}
	free(p->c->socket);
	p->c->socket = s;
	return 0;
}

/* Split "PORT@HOST", "PORT" or the Rust spf-milter's "HOST:PORT" or
 * "[V6]:PORT" into port and host (host "" when absent). */
static int
split_inet(char *rest, int family, char **port, char **host)
{
	char *at = strchr(rest, '@'), *colon;

	if (at != NULL) {
		*at = '\0';
		*port = rest;
		*host = at + 1;
		if (**host == '\0')
			return -1;	/* "inet:3000@": a host was meant */
		if (**host == '[' && (*host)[strlen(*host) - 1] == ']') {
			(*host)[strlen(*host) - 1] = '\0';
			(*host)++;
		}
		return 0;
	}
	if (rest[0] == '[') {
		colon = strstr(rest, "]:");
		if (colon == NULL)
			return -1;
		*colon = '\0';
		*host = rest + 1;
		*port = colon + 2;
		return 0;
	}
	colon = strrchr(rest, ':');
	if (colon == NULL) {
		*port = rest;
		*host = rest + strlen(rest);
		return 0;
	}
	if (family == AF_INET6 && strchr(rest, ':') != colon)
		return -1;	/* a bare v6 address needs brackets */
	*colon = '\0';
	*host = rest;
	*port = colon + 1;
	return 0;
}

static int
set_inet_socket(struct parse *p, int family, char *rest, const char *value)
{
	char buf[80], *port, *host, *s;
	unsigned char addr[16];
	int rc;

	if (split_inet(rest, family, &port, &host) == -1) {
		perr(p, "cannot read socket \"%s\" %s",
		    shown(value, buf, sizeof(buf)), SOCKET_HELP);
		return -1;
	}
	if (!valid_port(port)) {
		perr(p, "invalid port in socket \"%s\": a port is a number "
		    "from 1 to 65535 %s", shown(value, buf, sizeof(buf)),
		    SOCKET_HELP);
		return -1;
	}
	/* an IPv6 literal given as inet: belongs to inet6: */
	if (family == AF_INET && inet_pton(AF_INET6, host, addr) == 1)
		family = AF_INET6;
	if (*host != '\0' && !valid_host(host, family)) {
		perr(p, "invalid host \"%s\" in socket %s",
		    shown(host, buf, sizeof(buf)), SOCKET_HELP);
		return -1;
	}
	if (*host == '\0')
		rc = asprintf(&s, "%s:%s", family == AF_INET6 ? "inet6" :
		    "inet", port);
	else
		rc = asprintf(&s, "%s:%s@%s", family == AF_INET6 ? "inet6" :
		    "inet", port, host);
	if (rc < 0) {
		perr(p, "out of memory");
		return -1;
	}
	free(p->c->socket);
	p->c->socket = s;
	return 0;
}

static int
set_socket(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80], *copy, *colon;
	int rc;

	(void)arg;
	(void)key;
	if (*value == '\0') {
		free(p->c->socket);
		p->c->socket = NULL;
		return 0;
	}
	if ((copy = strdup(value)) == NULL) {
		perr(p, "out of memory");
		return -1;
	}
	colon = strchr(copy, ':');
	if (colon != NULL)
		*colon++ = '\0';
	if (colon != NULL && (strcasecmp(copy, "unix") == 0 ||
	    strcasecmp(copy, "local") == 0))
		rc = set_unix_socket(p, colon);
	else if (colon != NULL && strcasecmp(copy, "inet") == 0)
		rc = set_inet_socket(p, AF_INET, colon, value);
	else if (colon != NULL && strcasecmp(copy, "inet6") == 0)
		rc = set_inet_socket(p, AF_INET6, colon, value);
	else {
		perr(p, "unknown socket type in \"%s\" %s",
		    shown(value, buf, sizeof(buf)), SOCKET_HELP);
		rc = -1;
	}
	free(copy);
	return rc;
}

static void
print_socket(const struct conf *c, int arg, FILE *out)
{
	(void)arg;
	fputs(c->socket != NULL ? c->socket : "", out);
}

static int
set_socket_mode(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[40], *end;
	unsigned long v;

	(void)arg;
	errno = 0;
	v = strtoul(value, &end, 8);
	if (*value < '0' || *value > '7' || *end != '\0' || errno != 0 ||
	    v > 0777) {
		perr(p, "invalid %s \"%s\" (expected octal permissions "
		    "up to 0777, e.g. %s = 0660)", key,
		    shown(value, buf, sizeof(buf)), key);
		return -1;
	}
	p->c->socket_mode = (unsigned)v;
	return 0;
}

static void
print_socket_mode(const struct conf *c, int arg, FILE *out)
{
	(void)arg;
	fprintf(out, "%04o", c->socket_mode);
}

/* ------------------------------------------------------- bool, results */

static bool *
bool_slot(struct conf *c, int arg)
{
	switch (arg) {
	case B_VERIFY_HELO:	return &c->verify_helo;
	case B_INCLUDE_ALL:	return &c->include_all_results;
	case B_DELETE_AR:	return &c->delete_incoming_authentication_results;
	case B_DELETE_RSPF:	return &c->delete_incoming_received_spf;
	case B_TRUST_AUTH:	return &c->trust_authenticated_senders;
	default:		return &c->dry_run;
	}
}

static int
set_bool(struct parse *p, int arg, const char *key, const char *value)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };
	char buf[80];
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*bool_slot(p->c, arg) = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*bool_slot(p->c, arg) = false;
			return 0;
		}
	}
	perr(p, "invalid value \"%s\" for %s (expected yes or no; also "
	    "accepted: true, false, on, off)", shown(value, buf, sizeof(buf)),
	    key);
	return -1;
}

static void
print_bool(const struct conf *c, int arg, FILE *out)
{
	fputs(*bool_slot((struct conf *)(uintptr_t)c, arg) ? "yes" : "no",
	    out);
}

static unsigned *
results_slot(struct conf *c, int arg)
{
	if (arg == R_DEFINITIVE_HELO)
		return &c->definitive_helo_results;
	if (arg == R_REJECT)
		return &c->reject_results;
	return &c->reject_helo_results;
}

static int
add_result(struct parse *p, const char *key, const char *item, void *arg)
{
	unsigned *set = arg;
	char buf[80];
	int r = spf_result_parse(item);

	if (r < 0) {
		perr(p, "unknown result \"%s\" in %s (expected: "
		    RESULT_LIST ")", shown(item, buf, sizeof(buf)), key);
		return -1;
	}
	if (r == SPF_PASS && strcmp(key, "definitive_helo_results") != 0) {
		perr(p, "pass cannot be rejected: remove it from %s", key);
		return -1;
	}
	*set |= CONF_RESULT_BIT(r);
	return 0;
}

static int
set_results(struct parse *p, int arg, const char *key, const char *value)
{
	unsigned set = 0;

	if (each_item(p, key, value, add_result, &set) == -1)
		return -1;
	*results_slot(p->c, arg) = set;
	return 0;
}

static void
print_result_set(unsigned set, FILE *out)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < sizeof(result_order) / sizeof(result_order[0]); i++) {
		if (set & CONF_RESULT_BIT(result_order[i])) {
			fprintf(out, "%s%s", sep,
			    spf_result_name(result_order[i]));
			sep = ", ";
		}
	}
}

static void
print_results(const struct conf *c, int arg, FILE *out)
{
	print_result_set(*results_slot((struct conf *)(uintptr_t)c, arg), out);
}

/* ------------------------------------------------------------- replies */

static int
set_reply_code(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80];

	if (strlen(value) != 3 || (value[0] != '4' && value[0] != '5') ||
	    value[1] < '0' || value[1] > '5' || !isdigit((unsigned char)value[2])) {
		perr(p, "invalid %s \"%s\" (expected a 4xx or 5xx SMTP reply "
		    "code, e.g. %s = %s)", key, shown(value, buf, sizeof(buf)),
		    key, default_code(arg));
		return -1;
	}
	memcpy(p->c->reply[arg].code, value, 4);
	return 0;
}

static void
print_reply_code(const struct conf *c, int arg, FILE *out)
{
	fputs(c->reply[arg].code, out);
}

/* One to three digits without a leading zero (RFC 3463), then END. */
static const char *
status_part(const char *s, char end)
{
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || s[n] != end)
		return NULL;
	return s + n + (end != '\0');
}

static int
set_status_code(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80];
	const char *s = value;

	if ((s[0] != '4' && s[0] != '5') || s[1] != '.' ||
	    (s = status_part(s + 2, '.')) == NULL ||
	    status_part(s, '\0') == NULL || strlen(value) >= 12) {
		perr(p, "invalid %s \"%s\" (expected an enhanced status code "
		    "of class 4 or 5, e.g. %s = %s)", key,
		    shown(value, buf, sizeof(buf)), key, default_status(arg));
		return -1;
	}
	memcpy(p->c->reply[arg].status, value, strlen(value) + 1);
	return 0;
}

static void
print_status_code(const struct conf *c, int arg, FILE *out)
{
	fputs(c->reply[arg].status, out);
}

static int
check_template(struct parse *p, int arg, const char *key, const char *value)
{
	const char *s;

	for (s = value; *s != '\0'; s++) {
		if (*s < 0x20 || *s >= 0x7f) {
			perr(p, "%s contains a control or non-ASCII "
			    "character; SMTP replies are printable ASCII",
			    key);
			return -1;
		}
		if (*s != '%')
			continue;
		if (s[1] == '%') {
			s++;
		} else if (strncmp(s, "%{domain}", 9) == 0) {
			s += 8;
		} else if (strncmp(s, "%{exp}", 6) == 0 && arg == SPF_FAIL) {
			s += 5;
		} else if (strncmp(s, "%{exp}", 6) == 0) {
			perr(p, "%%{exp} is only available in fail_reply_text "
			    "(only a fail has an explanation); remove it "
			    "from %s", key);
			return -1;
		} else {
			perr(p, "\"%%\" not followed by {domain}%s or %% in "
			    "%s at \"%.12s\" (write %%%% for a percent "
			    "sign)", arg == SPF_FAIL ? ", {exp}" : "", key, s);
			return -1;
		}
	}
	return 0;
}

static int
set_reply_text(struct parse *p, int arg, const char *key, const char *value)
{
	if (strlen(value) > CONF_REPLY_TEXT_MAX) {
		perr(p, "%s is longer than %d characters; shorten it", key,
		    CONF_REPLY_TEXT_MAX);
		return -1;
	}
	if (check_template(p, arg, key, value) == -1)
		return -1;
	return replace_str(p, &p->c->reply[arg].text, value);
}

static void
print_reply_text(const struct conf *c, int arg, FILE *out)
{
	fputs(c->reply[arg].text, out);
}

/* ---------------------------------------------------------- header etc */

static int
add_header(struct parse *p, const char *key, const char *item, void *arg)
{
	struct conf *c = p->c;
	enum conf_header h;
	char buf[80];
	size_t i;

	(void)arg;
	if (strcasecmp(item, "Received-SPF") == 0)
		h = CONF_HEADER_RECEIVED_SPF;
	else if (strcasecmp(item, "Authentication-Results") == 0)
		h = CONF_HEADER_AUTHENTICATION_RESULTS;
	else {
		perr(p, "unknown header field \"%s\" in %s (expected "
		    "Received-SPF, Authentication-Results, both separated by "
		    "a comma, or nothing)", shown(item, buf, sizeof(buf)), key);
		return -1;
	}
	for (i = 0; i < c->nheader; i++) {
		if (c->header[i] == h) {
			perr(p, "%s is listed twice in %s; list it once",
			    item, key);
			return -1;
		}
	}
	c->header[c->nheader++] = h;
	return 0;
}

static int
set_header(struct parse *p, int arg, const char *key, const char *value)
{
	(void)arg;
	p->c->nheader = 0;
	return each_item(p, key, value, add_header, NULL);
}

static void
print_header(const struct conf *c, int arg, FILE *out)
{
	size_t i;

	(void)arg;
	for (i = 0; i < c->nheader; i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "",
		    c->header[i] == CONF_HEADER_RECEIVED_SPF ? "Received-SPF" :
		    "Authentication-Results");
}

static int
valid_hostname(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 && s[0] != '.' && s[0] != '-' &&
	    strstr(s, "..") == NULL &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_") == n;
}

/* --------------------------------------------------------- strings */

/* A user name or numeric uid (empty: keep the user it was started as). */
static int
valid_user(const char *s)
{
	size_t n = strlen(s);

	return n <= 32 && s[0] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

/* A host name, or empty for the system's. */
static int
valid_hostname_or_empty(const char *s)
{
	return *s == '\0' || valid_hostname(s);
}

/* RFC 8601 authserv-id is a value: we accept the token form only, which
 * covers host names and needs no quoting in the header field. */
static int
valid_authserv_id(const char *s)
{
	const char *t;

	for (t = s; *t != '\0'; t++)
		if (*t <= 0x20 || *t >= 0x7f || strchr("()<>@,;:\\\"/[]?=", *t))
			return 0;
	return t - s <= 253;
}

/* The parameters that are one checked string, by selector: where the
 * value goes, what it must be, and what the error message expects
 * (around the key, as in "e.g. KEY = value"). */
static const struct {
	size_t slot;			/* offsetof(struct conf, ...) */
	int (*valid)(const char *);
	const char *expected, *example;
} strings[] = {
	[S_USER] = { offsetof(struct conf, user), valid_user,
	    "a user name or numeric uid, e.g. ",
	    " = spf-milter, or empty to keep the user it was started as" },
	[S_HOSTNAME] = { offsetof(struct conf, hostname),
	    valid_hostname_or_empty, "a domain name, e.g. ",
	    " = mx.example.org, or empty for the system's host name" },
	[S_AUTHSERV_ID] = { offsetof(struct conf, authserv_id),
	    valid_authserv_id, "a token such as a host name, e.g. ",
	    " = mx.example.org, or empty for hostname" },
};

static int
set_string(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80];

	if (!strings[arg].valid(value)) {
		perr(p, "invalid %s \"%s\" (expected %s%s%s)", key,
		    shown(value, buf, sizeof(buf)), strings[arg].expected, key,
		    strings[arg].example);
		return -1;
	}
	return replace_str(p, (char **)(void *)((char *)p->c +
	    strings[arg].slot), value);
}

static void
print_string(const struct conf *c, int arg, FILE *out)
{
	fputs(*(char *const *)(const void *)((const char *)c +
	    strings[arg].slot), out);
}

/* ------------------------------------------------------------ networks */

static int
parse_network(const char *item, struct conf_network *n)
{
	char addr[64];
	const char *slash = strchr(item, '/');
	size_t len = slash != NULL ? (size_t)(slash - item) : strlen(item);
	unsigned long prefix;
	unsigned i;

	if (len >= sizeof(addr))
		return -1;
	memcpy(addr, item, len);
	addr[len] = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, addr, n->addr) == 1)
		n->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, n->addr) == 1)
		n->family = AF_INET6;
	else
		return -1;
	prefix = n->family == AF_INET ? 32 : 128;
	if (slash != NULL && parse_uint(slash + 1, prefix, &prefix) == -1)
		return -1;
	n->prefix = (unsigned)prefix;
	/* clear host bits: "192.0.2.1/24" means the whole network */
	for (i = n->prefix; i < (n->family == AF_INET ? 32u : 128u); i++)
		n->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	return 0;
}

struct netlist {
	struct conf_network *v;
	size_t n;
};

/* The Rust spf-milter's keyword (0.6 on): the loopback networks, as
 * its Rust standard library defines them (127.0.0.0/8, ::1). */
static const char *const loopback_networks[] = { "127.0.0.0/8", "::1/128" };

static int
add_network(struct parse *p, const char *key, const char *item, void *arg)
{
	struct netlist *l = arg;
	struct conf_network *v;
	char buf[80];
	size_t i, n = 1;

	if (strcasecmp(item, "loopback") == 0)
		n = sizeof(loopback_networks) / sizeof(loopback_networks[0]);
	v = realloc(l->v, (l->n + n) * sizeof(*v));
	if (v == NULL) {
		perr(p, "out of memory");
		return -1;
	}
	l->v = v;
	if (n > 1) {
		for (i = 0; i < n; i++)
			(void)parse_network(loopback_networks[i], &v[l->n++]);
		return 0;
	}
	if (parse_network(item, &v[l->n]) == -1) {
		perr(p, "invalid network \"%s\" in %s (expected an IPv4 or "
		    "IPv6 address, optionally with /PREFIX, e.g. "
		    "192.0.2.0/24 or 2001:db8::/32, or loopback)",
		    shown(item, buf, sizeof(buf)), key);
		return -1;
	}
	l->n++;
	return 0;
}

static int
set_networks(struct parse *p, int arg, const char *key, const char *value)
{
	struct netlist l = { NULL, 0 };

	(void)arg;
	if (each_item(p, key, value, add_network, &l) == -1) {
		free(l.v);
		return -1;
	}
	free(p->c->trusted_networks);
	p->c->trusted_networks = l.v;
	p->c->ntrusted_networks = l.n;
	return 0;
}

static void
print_networks(const struct conf *c, int arg, FILE *out)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	(void)arg;
	for (i = 0; i < c->ntrusted_networks; i++) {
		const struct conf_network *n = &c->trusted_networks[i];

		if (inet_ntop(n->family, n->addr, buf, sizeof(buf)) == NULL)
			continue;
		fprintf(out, "%s%s/%u", i > 0 ? ", " : "", buf, n->prefix);
	}
}

/* -------------------------------------------------------- skip_senders */

struct strlist {
	char **v;
	size_t n;
};

static void
free_strlist(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
valid_sender_entry(const char *s)
{
	const char *at = strrchr(s, '@');
	const char *domain = at != NULL ? at + 1 : (*s == '.' ? s + 1 : s);
	const char *c;

	if (at != NULL && at == s)
		return 0;
	for (c = s; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '<' || *c == '>')
			return 0;
	return valid_hostname(domain);
}

static int
add_sender(struct parse *p, const char *key, const char *item, void *arg)
{
	struct strlist *l = arg;
	char buf[80], **v, *s;

	if (!valid_sender_entry(item)) {
		perr(p, "invalid entry \"%s\" in %s (expected an address "
		    "user@example.org, a domain example.org, or .example.org "
		    "for its subdomains)", shown(item, buf, sizeof(buf)), key);
		return -1;
	}
	v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (v == NULL || (s = strdup(item)) == NULL) {
		if (v != NULL)
			l->v = v;
		perr(p, "out of memory");
		return -1;
	}
	l->v = v;
	for (v[l->n] = s; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
	l->n++;
	return 0;
}

static int
set_skip_senders(struct parse *p, int arg, const char *key, const char *value)
{
	struct strlist l = { NULL, 0 };

	(void)arg;
	if (each_item(p, key, value, add_sender, &l) == -1) {
		free_strlist(l.v, l.n);
		return -1;
	}
	free_strlist(p->c->skip_senders, p->c->nskip_senders);
	p->c->skip_senders = l.v;
	p->c->nskip_senders = l.n;
	return 0;
}

static void
print_skip_senders(const struct conf *c, int arg, FILE *out)
{
	size_t i;

	(void)arg;
	for (i = 0; i < c->nskip_senders; i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "", c->skip_senders[i]);
}

/* ----------------------------------------------------- exemption lists */

static char ***
names_slot(struct conf *c, int arg, size_t **n)
{
	switch (arg) {
	case L_FORWARDERS:
		*n = &c->ntrusted_forwarders;
		return &c->trusted_forwarders;
	case L_FORWARDER_DOMAINS:
		*n = &c->ntrusted_forwarder_domains;
		return &c->trusted_forwarder_domains;
	default:
		*n = &c->nexempt_recipients;
		return &c->exempt_recipients;
	}
}

/* A local-part as an entry of exempt_recipients gives it: printable
 * ASCII without blanks, '@', '<', '>' or ',', at most 64 octets (RFC
 * 5321 4.5.3.1.1).  Quoted local-parts are not supported. */
static int
valid_local_part(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 64)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || strchr("@<>,\"", s[i]))
			return 0;
	return 1;
}

/* Is ITEM a valid entry of list ARG?  A host name ends without a dot
 * (the caller strips one). */
static int
valid_name_entry(int arg, const char *item)
{
	const char *at;

	switch (arg) {
	case L_FORWARDERS:
		return valid_hostname(item[0] == '.' ? item + 1 : item);
	case L_FORWARDER_DOMAINS:
		return valid_hostname(item);
	default:
		if ((at = strrchr(item, '@')) == NULL)
			return valid_local_part(item, strlen(item));
		return valid_local_part(item, (size_t)(at - item)) &&
		    valid_hostname(at + 1);
	}
}

/* One list being read, and which one it is. */
struct namelist {
	struct strlist l;
	int which;
};

static int
add_name(struct parse *p, const char *key, const char *item, void *arg)
{
	static const char *const help[] = {
		"a host name such as mx2.example.org, or .example.net for "
		    "every name below example.net",
		"a domain whose own SPF record lists its forwarders, such as "
		    "forwarder.example",
		"a local-part such as postmaster, or an address such as "
		    "abuse@example.org"
	};
	struct strlist *l = &((struct namelist *)arg)->l;
	int which = ((struct namelist *)arg)->which;
	char buf[80], **v, *s;
	size_t n = strlen(item);

	if ((s = strdup(item)) == NULL) {
		perr(p, "out of memory");
		return -1;
	}
	/* a host name written fully qualified, with its final dot */
	if (which != L_EXEMPT_RECIPIENTS && n > 1 && s[n - 1] == '.' &&
	    s[n - 2] != '.')
		s[n - 1] = '\0';
	if (!valid_name_entry(which, s)) {
		perr(p, "invalid entry \"%s\" in %s (expected %s)",
		    shown(item, buf, sizeof(buf)), key, help[which]);
		free(s);
		return -1;
	}
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		perr(p, "out of memory");
		free(s);
		return -1;
	}
	l->v = v;
	v[l->n++] = s;
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
	return 0;
}

static int
set_names(struct parse *p, int arg, const char *key, const char *value)
{
	struct namelist nl = { { NULL, 0 }, arg };
	char ***slot;
	size_t *n;

	if (each_item(p, key, value, add_name, &nl) == -1) {
		free_strlist(nl.l.v, nl.l.n);
		return -1;
	}
	slot = names_slot(p->c, arg, &n);
	free_strlist(*slot, *n);
	*slot = nl.l.v;
	*n = nl.l.n;
	return 0;
}

static void
print_names(const struct conf *c, int arg, FILE *out)
{
	char **v;
	size_t *n, i;

	v = *names_slot((struct conf *)(uintptr_t)c, arg, &n);
	for (i = 0; i < *n; i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "", v[i]);
}

/* ------------------------------------------------------------- logging */

struct name_value {
	const char *name;
	int value;
};

static const struct name_value destinations[] = {
	{ "syslog", CONF_LOG_SYSLOG }, { "stderr", CONF_LOG_STDERR },
	{ NULL, 0 }
};
static const struct name_value levels[] = {
	{ "error", LOG_ERR }, { "warn", LOG_WARNING }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG }, { NULL, 0 }
};
static const struct name_value facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }, { NULL, 0 }
};

static int
set_keyword(struct parse *p, const struct name_value *t, const char *key,
    const char *value, int *out)
{
	char buf[80], list[200];
	size_t i, len = 0;

	for (i = 0; t[i].name != NULL; i++) {
		if (strcasecmp(value, t[i].name) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; t[i].name != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
		    i > 0 ? ", " : "", t[i].name);
	perr(p, "invalid %s \"%s\" (expected: %s)", key,
	    shown(value, buf, sizeof(buf)), list);
	return -1;
}

static const char *
keyword_name(const struct name_value *t, int value)
{
	for (; t->name != NULL; t++)
		if (t->value == value)
			return t->name;
	return "";
}

static int
set_log_destination(struct parse *p, int arg, const char *key,
    const char *value)
{
	int v = 0;

	(void)arg;
	if (set_keyword(p, destinations, key, value, &v) == -1)
		return -1;
	p->c->log_destination = (enum conf_log_destination)v;
	return 0;
}

static void
print_log_destination(const struct conf *c, int arg, FILE *out)
{
	(void)arg;
	fputs(keyword_name(destinations, (int)c->log_destination), out);
}

static int
set_log_level(struct parse *p, int arg, const char *key, const char *value)
{
	(void)arg;
	return set_keyword(p, levels, key, value, &p->c->log_level);
}

static void
print_log_level(const struct conf *c, int arg, FILE *out)
{
	(void)arg;
	fputs(keyword_name(levels, c->log_level), out);
}

static int
set_facility(struct parse *p, int arg, const char *key, const char *value)
{
	(void)arg;
	return set_keyword(p, facilities, key, value, &p->c->syslog_facility);
}

static void
print_facility(const struct conf *c, int arg, FILE *out)
{
	(void)arg;
	fputs(keyword_name(facilities, c->syslog_facility), out);
}

/* ----------------------------------------------------------------- DNS */

#define TIMEOUT_MIN_MS	100
#define TIMEOUT_MAX_MS	60000

/* "10", "2.5", "2.5s", "500ms" to milliseconds; -1 if malformed. */
static long
parse_duration(const char *s)
{
	long whole = 0, frac = 0;
	int ndigits = 0, nfrac = -1;

	for (; isdigit((unsigned char)*s); s++) {
		if (++ndigits > 6)
			return -1;
		whole = whole * 10 + (*s - '0');
	}
	if (ndigits == 0)
		return -1;
	if (*s == '.') {
		for (nfrac = 0, s++; isdigit((unsigned char)*s); s++) {
			if (++nfrac > 3)
				return -1;
			frac = frac * 10 + (*s - '0');
		}
		if (nfrac == 0)
			return -1;
		for (; nfrac < 3; nfrac++)
			frac *= 10;
	}
	if (strcmp(s, "ms") == 0)
		return nfrac < 0 ? whole : -1;
	if (*s != '\0' && strcmp(s, "s") != 0)
		return -1;
	return whole * 1000 + frac;
}

static int
set_dns_timeout(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80];
	long ms = parse_duration(value);

	(void)arg;
	if (ms < TIMEOUT_MIN_MS || ms > TIMEOUT_MAX_MS) {
		perr(p, "invalid %s \"%s\" (expected seconds from 0.1 to 60, "
		    "e.g. %s = 10, 2.5 or 500ms)", key,
		    shown(value, buf, sizeof(buf)), key);
		return -1;
	}
	p->c->dns_timeout_ms = (unsigned)ms;
	return 0;
}

static void
print_dns_timeout(const struct conf *c, int arg, FILE *out)
{
	unsigned ms = c->dns_timeout_ms;
	char frac[8];
	size_t n;

	(void)arg;
	if (ms % 1000 == 0) {
		fprintf(out, "%u", ms / 1000);
		return;
	}
	snprintf(frac, sizeof(frac), "%03u", ms % 1000);
	for (n = strlen(frac); frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	fprintf(out, "%u.%s", ms / 1000, frac);
}

int
conf_parse_server(const char *item, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[64];
	const char *port = NULL, *end;
	unsigned long v = 53;
	bool bracketed = item[0] == '[';
	size_t len;

	memset(ss, 0, sizeof(*ss));
	if (bracketed) {
		end = strchr(item, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		len = (size_t)(end - item - 1);
		item++;
		port = end[1] == ':' ? end + 2 : NULL;
	} else if ((end = strchr(item, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		len = (size_t)(end - item);
		port = end + 1;
	} else
		len = strlen(item);
	if (len >= sizeof(host))
		return -1;
	memcpy(host, item, len);
	host[len] = '\0';
	if (port != NULL && (parse_uint(port, 65535, &v) == -1 || v == 0))
		return -1;
	if (!bracketed && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)v);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)v);
		return 0;
	}
	return -1;
}

struct serverlist {
	struct sockaddr_storage v[CONF_MAX_DNS_SERVERS];
	size_t n;
	bool toomany;
};

static int
add_server(struct parse *p, const char *key, const char *item, void *arg)
{
	struct serverlist *l = arg;
	struct sockaddr_storage ss;
	char buf[80];

	if (conf_parse_server(item, &ss) == -1) {
		perr(p, "invalid nameserver \"%s\" in %s (expected an IP "
		    "address with optional port, e.g. 192.0.2.53, "
		    "192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353)",
		    shown(item, buf, sizeof(buf)), key);
		return -1;
	}
	if (l->n == CONF_MAX_DNS_SERVERS) {
		if (!l->toomany)
			perr(p, "more than %d nameservers in %s; list at most "
			    "%d", CONF_MAX_DNS_SERVERS, key,
			    CONF_MAX_DNS_SERVERS);
		l->toomany = true;
		return -1;
	}
	l->v[l->n++] = ss;
	return 0;
}

static int
set_dns_servers(struct parse *p, int arg, const char *key, const char *value)
{
	struct serverlist l;

	(void)arg;
	memset(&l, 0, sizeof(l));
	if (each_item(p, key, value, add_server, &l) == -1)
		return -1;
	memcpy(p->c->dns_servers, l.v, sizeof(l.v));
	p->c->ndns_servers = l.n;
	return 0;
}

static void
print_dns_servers(const struct conf *c, int arg, FILE *out)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	(void)arg;
	for (i = 0; i < c->ndns_servers; i++) {
		const struct sockaddr_storage *ss = &c->dns_servers[i];
		const struct sockaddr_in *sin = (const void *)ss;
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		if (i > 0)
			fputs(", ", out);
		if (ss->ss_family == AF_INET) {
			inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
			fprintf(out, "%s:%u", buf, ntohs(sin->sin_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
			fprintf(out, "[%s]:%u", buf, ntohs(sin6->sin6_port));
		}
	}
}

#define CACHE_MAX 1000000

static int
set_cache_size(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80];
	unsigned long v;

	(void)arg;
	if (parse_uint(value, CACHE_MAX, &v) == -1) {
		perr(p, "invalid %s \"%s\" (expected a number of entries "
		    "from 0 (no cache) to %d, e.g. %s = 1000)", key,
		    shown(value, buf, sizeof(buf)), CACHE_MAX, key);
		return -1;
	}
	p->c->dns_cache_size = (unsigned)v;
	return 0;
}

static void
print_cache_size(const struct conf *c, int arg, FILE *out)
{
	(void)arg;
	fprintf(out, "%u", c->dns_cache_size);
}

#define CACHE_BYTES_MIN	(16UL << 10)
#define CACHE_BYTES_MAX	(1UL << 30)

/* "1048576", "1024K", "1M", "1G" (K, M, G: powers of 1024, either case)
 * to bytes; -1 if malformed or above CACHE_BYTES_MAX. */
static long
parse_bytes(const char *s)
{
	static const char units[] = "kmg";
	unsigned long v, mult = 1;
	char num[16];
	size_t n = strlen(s);
	const char *u;

	if (n > 0 && (u = strchr(units, tolower((unsigned char)s[n - 1]))) !=
	    NULL && *u != '\0') {
		mult = 1UL << (10 * (u - units + 1));
		n--;
	}
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_uint(num, CACHE_BYTES_MAX / mult, &v) == -1)
		return -1;
	return (long)(v * mult);
}

static int
set_cache_bytes(struct parse *p, int arg, const char *key, const char *value)
{
	char buf[80];
	long v = parse_bytes(value);

	(void)arg;
	if (v < (long)CACHE_BYTES_MIN) {
		perr(p, "invalid %s \"%s\" (expected bytes from 16K to 1G, "
		    "K, M or G for units of 1024, e.g. %s = 1M)", key,
		    shown(value, buf, sizeof(buf)), key);
		return -1;
	}
	p->c->dns_cache_max_bytes = (size_t)v;
	return 0;
}

/* In the largest unit that is exact, so that it reads back the same. */
static void
print_cache_bytes(const struct conf *c, int arg, FILE *out)
{
	size_t v = c->dns_cache_max_bytes;
	int u = 0;

	(void)arg;
	while (u < 3 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	fprintf(out, "%zu%s", v, u == 0 ? "" : u == 1 ? "K" : u == 2 ? "M" :
	    "G");
}

/* ------------------------------------------------------------ defaults */

static const struct {
	enum spf_result result;
	const char *code, *status, *text;
} default_replies[] = {
	{ SPF_FAIL, "550", "5.7.23", "SPF validation failed: %{exp}" },
	{ SPF_SOFTFAIL, "550", "5.7.23",
	    "SPF validation failed for %{domain} (softfail)" },
	{ SPF_NEUTRAL, "550", "5.7.23",
	    "SPF validation inconclusive for %{domain} (neutral)" },
	{ SPF_NONE, "550", "5.7.23", "No SPF policy found for %{domain}" },
	{ SPF_TEMPERROR, "451", "4.7.24",
	    "Temporary error in SPF validation for %{domain}, try again later" },
	{ SPF_PERMERROR, "550", "5.7.24",
	    "SPF validation error: the SPF record of %{domain} is invalid" },
};

#define NDEFAULT_REPLIES (sizeof(default_replies) / sizeof(default_replies[0]))

static const char *
default_code(int r)
{
	size_t i;

	for (i = 0; i < NDEFAULT_REPLIES; i++)
		if ((int)default_replies[i].result == r)
			return default_replies[i].code;
	return "550";
}

static const char *
default_status(int r)
{
	size_t i;

	for (i = 0; i < NDEFAULT_REPLIES; i++)
		if ((int)default_replies[i].result == r)
			return default_replies[i].status;
	return "5.7.23";
}

static void
destroy(struct conf *c)
{
	size_t i;

	free(c->path);
	free(c->socket);
	free(c->user);
	for (i = 0; i < SPF_NRESULTS; i++)
		free(c->reply[i].text);
	free(c->hostname);
	free(c->authserv_id);
	free(c->trusted_networks);
	free_strlist(c->skip_senders, c->nskip_senders);
	free_strlist(c->trusted_forwarders, c->ntrusted_forwarders);
	free_strlist(c->trusted_forwarder_domains,
	    c->ntrusted_forwarder_domains);
	free_strlist(c->exempt_recipients, c->nexempt_recipients);
	free(c);
}

static int
set_default_strings(struct conf *c)
{
	size_t i;

	if ((c->user = strdup("")) == NULL ||
	    (c->hostname = strdup("")) == NULL ||
	    (c->authserv_id = strdup("")) == NULL ||
	    (c->reply[SPF_PASS].text = strdup("")) == NULL)
		return -1;
	for (i = 0; i < NDEFAULT_REPLIES; i++) {
		struct conf_reply *r = &c->reply[default_replies[i].result];

		memcpy(r->code, default_replies[i].code, 4);
		strcpy(r->status, default_replies[i].status);
		if ((r->text = strdup(default_replies[i].text)) == NULL)
			return -1;
	}
	return 0;
}

static int
set_default_networks(struct conf *c)
{
	c->trusted_networks = calloc(2, sizeof(*c->trusted_networks));
	if (c->trusted_networks == NULL)
		return -1;
	c->ntrusted_networks = 2;
	(void)parse_network("127.0.0.0/8", &c->trusted_networks[0]);
	(void)parse_network("::1/128", &c->trusted_networks[1]);
	return 0;
}

static struct conf *
conf_defaults(void)
{
	struct conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->refs = 1;
	c->socket_mode = 0660;
	c->verify_helo = true;
	c->definitive_helo_results = CONF_RESULT_BIT(SPF_PASS) |
	    CONF_RESULT_BIT(SPF_FAIL);
	c->reject_results = CONF_RESULT_BIT(SPF_FAIL) |
	    CONF_RESULT_BIT(SPF_TEMPERROR) | CONF_RESULT_BIT(SPF_PERMERROR);
	c->header[0] = CONF_HEADER_RECEIVED_SPF;
	c->nheader = 1;
	c->delete_incoming_authentication_results = true;
	c->delete_incoming_received_spf = true;
	c->trust_authenticated_senders = true;
	c->log_destination = CONF_LOG_SYSLOG;
	c->log_level = LOG_INFO;
	c->syslog_facility = LOG_MAIL;
	c->dns_timeout_ms = 10000;
	c->dns_cache_size = 1000;
	c->dns_cache_max_bytes = 1UL << 20;
	if (set_default_strings(c) == -1 || set_default_networks(c) == -1) {
		destroy(c);
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------- reading */

#define SEEN_OVERRIDE	(~0u)

static const struct key *
find_key(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static void
unknown_key(struct parse *p, const char *name)
{
	char buf[80];
	size_t i, best = 0, d, bestd = 99;

	for (i = 0; i < NKEYS; i++) {
		d = distance(name, keys[i].name);
		if (d < bestd) {
			bestd = d;
			best = i;
		}
	}
	if (bestd <= 3)
		perr(p, "unknown parameter \"%s\" (did you mean %s?)",
		    shown(name, buf, sizeof(buf)), keys[best].name);
	else
		perr(p, "unknown parameter \"%s\" (spf-milter.conf(5) lists "
		    "the parameters)", shown(name, buf, sizeof(buf)));
}

static void
apply(struct parse *p, const char *name, const char *value)
{
	const struct key *k = find_key(name);
	unsigned *seen;

	if (k == NULL) {
		unknown_key(p, name);
		return;
	}
	seen = &p->seen[k - keys];
	if (p->line > 0 && *seen != 0) {
		perr(p, "duplicate parameter %s (already set on line %u); "
		    "keep only one of the two lines", name, *seen);
		return;
	}
	*seen = p->line > 0 ? p->line : SEEN_OVERRIDE;
	(void)k->set(p, k->arg, name, value);
}

/* The value comes from the raw line after '=', which inih never saw
 * (see the comment at the top). */
static const char *
current_value(struct parse *p)
{
	char *eq = strchr(p->raw, '=');

	return eq != NULL ? trim(eq + 1) : "";
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	(void)section;
	(void)value;
	apply(p, name, current_value(p));
	return 1;
}

static void
missing_equals(struct parse *p, const char *s)
{
	char buf[80], buf2[80];
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz_0123456789");
	const char *rest = s + n + strspn(s + n, " \t");

	if (n > 0 && n < 60 && (s[n] == ' ' || s[n] == '\t') && *rest != '\0')
		perr(p, "expected KEY = VALUE, found \"%s\" (write it as "
		    "%.*s = %s)", shown(s, buf, sizeof(buf)), (int)n, s,
		    shown(rest, buf2, sizeof(buf2)));
	else
		perr(p, "expected KEY = VALUE, found \"%s\" (comment lines "
		    "start with #)", shown(s, buf, sizeof(buf)));
}

/* Check one raw line.  Returns the length of its key when it is a
 * "key = value" line, 0 when it is blank or a comment, -1 when it is
 * malformed (reported). */
static int
check_line(struct parse *p, char **start)
{
	char buf[80], *s = trim(p->raw), *eq;
	size_t n;

	*start = s;
	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		perr(p, "section headers such as \"%s\" are not used; remove "
		    "the line (every parameter is a KEY = VALUE line)",
		    shown(s, buf, sizeof(buf)));
		return -1;
	}
	if ((eq = strchr(s, '=')) == NULL) {
		missing_equals(p, s);
		return -1;
	}
	for (n = (size_t)(eq - s); n > 0 && (s[n - 1] == ' ' ||
	    s[n - 1] == '\t'); n--)
		;
	if (n == 0) {
		perr(p, "missing parameter name before \"=\"");
		return -1;
	}
	if (strspn(s, "abcdefghijklmnopqrstuvwxyz_0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-.") < n || n > 60) {
		s[n] = '\0';
		perr(p, "\"%s\" is not a parameter name (names are like "
		    "verify_helo; spf-milter.conf(5) lists them)",
		    shown(s, buf, sizeof(buf)));
		return -1;
	}
	return (int)n;
}

/*
 * One line of the file, read by hand: getline() would grow its buffer
 * without bound on an endless line.  Returns the length, or -1 at the
 * end of the file or on an error (p->read_error set: too big, out of
 * memory, or the stream's own error).
 */
static ssize_t
read_line(struct parse *p)
{
	size_t len = 0;
	char *nb;
	int ch;

	for (;;) {
		if ((ch = getc(p->in)) == EOF)
			break;
		if (++p->bytes > CONF_FILE_MAX) {
			p->read_error = EFBIG;
			return -1;
		}
		if (len + 2 > p->rawcap) {
			size_t cap = p->rawcap ? p->rawcap * 2 : 256;

			if ((nb = realloc(p->raw, cap)) == NULL) {
				p->read_error = ENOMEM;
				return -1;
			}
			p->raw = nb;
			p->rawcap = cap;
		}
		p->raw[len++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (ferror(p->in)) {
		p->read_error = errno != 0 ? errno : EIO;
		return -1;
	}
	if (len == 0)
		return -1;
	p->raw[len] = '\0';
	return (ssize_t)len;
}

static char *
reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	ssize_t len;
	char *start;
	int n;

	if ((len = read_line(p)) < 0)
		return NULL;
	p->line++;
	if (p->line == 1 && strncmp(p->raw, "\xef\xbb\xbf", 3) == 0) {
		len -= 3;	/* a UTF-8 byte order mark */
		memmove(p->raw, p->raw + 3, (size_t)len + 1);
	}
	strcpy(str, "\n");
	if (strlen(p->raw) != (size_t)len) {
		perr(p, "the line contains a NUL byte; remove it");
		return str;
	}
	n = check_line(p, &start);
	if (n > 0 && n + 3 <= num)
		snprintf(str, (size_t)num, "%.*s=\n", n, start);
	return str;
}

const char *
conf_file_kind(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO (named pipe)";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "a file of unknown kind";
}

static void
file_error(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An error about the file as a whole: "PATH: message". */
static void
file_error(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	p->nerrors++;
	if (p->errors == NULL)
		return;
	fprintf(p->errors, "%s: ", p->path);
	va_start(ap, fmt);
	vfprintf(p->errors, fmt, ap);
	va_end(ap);
	fputc('\n', p->errors);
}

/*
 * Open the file for reading without ever blocking: O_NONBLOCK, so that a
 * FIFO put at the path cannot hang the reload thread in open(), and then
 * only a regular file of at most CONF_FILE_MAX bytes is read.
 */
static FILE *
open_file(struct parse *p)
{
	struct stat st;
	FILE *f;
	int fd, flags;

	if ((fd = open(p->path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		file_error(p, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		file_error(p, "cannot read: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		file_error(p, "cannot read: %s, not a regular file",
		    conf_file_kind(st.st_mode));
		close(fd);
		return NULL;
	}
	if (st.st_size > CONF_FILE_MAX) {
		file_error(p, "cannot read: %lld bytes, more than a "
		    "configuration file may have (%d)", (long long)st.st_size,
		    CONF_FILE_MAX);
		close(fd);
		return NULL;
	}
	/* A regular file never blocks; back to plain reads. */
	if ((flags = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	if ((f = fdopen(fd, "r")) == NULL) {
		file_error(p, "cannot read: %s", strerror(errno));
		close(fd);
	}
	return f;
}

static void
read_file(struct parse *p)
{
	int rc;

	if ((p->in = open_file(p)) == NULL)
		return;
	errno = 0;
	rc = ini_parse_stream(reader, p, handler, p);
	if (rc == -2)
		perr(p, "out of memory");
	else if (rc > 0) {
		p->line = (unsigned)rc;
		perr(p, "cannot parse this line");
	}
	if (p->read_error == EFBIG)
		file_error(p, "cannot read: the file grew beyond %d bytes "
		    "while it was read", CONF_FILE_MAX);
	else if (p->read_error != 0)
		file_error(p, "cannot read: %s", strerror(p->read_error));
	fclose(p->in);
	free(p->raw);
	p->raw = NULL;
}

/* -------------------------------------------------------- cross-checks */

static unsigned
seen_line(const struct parse *p, const char *name)
{
	const struct key *k = find_key(name);
	unsigned line = k != NULL ? p->seen[k - keys] : 0;

	return line == SEEN_OVERRIDE ? 0 : line;
}

/* The line to report a reply's class mismatch on: the later of its two
 * keys (0 when one came from the command line). */
static unsigned
reply_line(const struct parse *p, enum spf_result r)
{
	char key[40];
	unsigned lcode, lstatus;

	snprintf(key, sizeof(key), "%s_reply_code", spf_result_name(r));
	lcode = seen_line(p, key);
	snprintf(key, sizeof(key), "%s_status_code", spf_result_name(r));
	lstatus = seen_line(p, key);
	return lcode > lstatus ? lcode : lstatus;
}

/* Postfix treats a reply whose code and enhanced code differ in class as
 * a broken milter, so a mismatch is caught here, not at the first reject. */
static void
report_reply_class(struct parse *p, enum spf_result r)
{
	const struct conf_reply *reply = &p->c->reply[r];
	const char *name = spf_result_name(r);
	char kcode[40], kstatus[40];

	snprintf(kcode, sizeof(kcode), "%s_reply_code", name);
	snprintf(kstatus, sizeof(kstatus), "%s_status_code", name);
	p->line = reply_line(p, r);
	if (p->seen[find_key(kstatus) - keys] == 0)
		perr(p, "%s %s and the default %s %s differ in class; also "
		    "set %s = %c%s", kcode, reply->code, kstatus,
		    reply->status, kstatus, reply->code[0], reply->status + 1);
	else
		perr(p, "%s %s and %s %s differ in class (%c and %c); make "
		    "them agree, e.g. %s = %c%s", kcode, reply->code, kstatus,
		    reply->status, reply->code[0], reply->status[0], kstatus,
		    reply->code[0], reply->status + 1);
}

/* Report the mismatches in line order, like the other messages. */
static void
check_reply_classes(struct parse *p)
{
	enum spf_result bad[NDEFAULT_REPLIES], tmp;
	size_t n = 0, i, j;

	for (i = 0; i < NDEFAULT_REPLIES; i++) {
		const struct conf_reply *r =
		    &p->c->reply[default_replies[i].result];

		if (r->code[0] != r->status[0])
			bad[n++] = default_replies[i].result;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && reply_line(p, bad[j - 1]) >
		    reply_line(p, bad[j]); j--) {
			tmp = bad[j];
			bad[j] = bad[j - 1];
			bad[j - 1] = tmp;
		}
	for (i = 0; i < n; i++)
		report_reply_class(p, bad[i]);
}

static int
finish(struct parse *p)
{
	struct conf *c = p->c;
	char host[256];

	if (p->seen[find_key("reject_helo_results") - keys] == 0)
		c->reject_helo_results = c->reject_results;
	if (c->hostname[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		if (replace_str(p, &c->hostname, host) == -1)
			return -1;
	}
	if (c->authserv_id[0] == '\0' &&
	    replace_str(p, &c->authserv_id, c->hostname) == -1)
		return -1;
	check_reply_classes(p);
	return 0;
}

/* ------------------------------------------------------------- the API */

struct conf *
conf_load_overrides(const char *path, const struct conf_override *ov,
    size_t nov, FILE *errors)
{
	unsigned seen[NKEYS];
	struct parse p;
	size_t i;

	memset(&p, 0, sizeof(p));
	memset(seen, 0, sizeof(seen));
	p.errors = errors;
	p.seen = seen;
	p.path = path != NULL ? path : "(defaults)";
	if ((p.c = conf_defaults()) == NULL ||
	    (p.c->path = strdup(p.path)) == NULL) {
		if (errors != NULL)
			fprintf(errors, "%s: out of memory\n", p.path);
		if (p.c != NULL)
			destroy(p.c);
		return NULL;
	}
	if (path != NULL)
		read_file(&p);
	p.line = 0;
	for (i = 0; i < nov; i++)
		apply(&p, ov[i].key, ov[i].value != NULL ? ov[i].value : "");
	(void)finish(&p);
	if (p.nerrors > 0) {
		destroy(p.c);
		return NULL;
	}
	return p.c;
}

struct conf *
conf_load(const char *path, FILE *errors)
{
	return conf_load_overrides(path, NULL, 0, errors);
}

int
conf_require_socket(const struct conf *c, FILE *errors)
{
	if (c->socket != NULL)
		return 0;
	if (errors != NULL)
		fprintf(errors, "%s: socket is not set; add a line such as "
		    "socket = inet:8894@127.0.0.1, or give -p SOCKET\n",
		    c->path);
	return -1;
}

struct conf *
conf_ref(struct conf *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void
conf_unref(struct conf *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		destroy(c);
}

void
conf_print(const struct conf *c, FILE *out)
{

	char *value;
	size_t i, len;
	FILE *f;

	for (i = 0; i < NKEYS; i++) {
		/* through a buffer, so an empty value gets no trailing blank */
		value = NULL;
		if ((f = open_memstream(&value, &len)) == NULL)
			continue;
		keys[i].print(c, keys[i].arg, f);
		if (fclose(f) == 0 && value != NULL)
			fprintf(out, "%s =%s%s\n", keys[i].name,
			    *value != '\0' ? " " : "", value);
		free(value);
	}
}

/* ------------------------------------------------------------ matching */

static int
prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xffu << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
conf_trusted_ip(const struct conf *c, int family, const unsigned char *ip)
{
	unsigned char addr[16];
	size_t i;

	if (spf_addr_set(family, ip, &family, addr) != 0)
		return 0;
	for (i = 0; i < c->ntrusted_networks; i++) {
		const struct conf_network *n = &c->trusted_networks[i];

		if (n->family == family && prefix_match(n->addr, addr, n->prefix))
			return 1;
	}
	return 0;
}

static int
sender_matches(const char *entry, const char *addr, size_t alen,
    const char *domain, size_t dlen)
{
	size_t elen = strlen(entry);

	if (strchr(entry, '@') != NULL)
		return elen == alen && strncasecmp(entry, addr, alen) == 0;
	if (entry[0] == '.')
		return dlen > elen &&
		    strncasecmp(domain + dlen - elen, entry, elen) == 0;
	return elen == dlen && strncasecmp(entry, domain, dlen) == 0;
}

int
conf_skip_sender(const struct conf *c, const char *sender)
{
	const char *addr = sender, *domain;
	size_t alen, dlen, i;

	if (sender == NULL)
		return 0;
	alen = strlen(addr);
	if (alen >= 2 && addr[0] == '<' && addr[alen - 1] == '>') {
		addr++;
		alen -= 2;
	}
	if (alen == 0)
		return 0;	/* the null sender */
	domain = memrchr(addr, '@', alen);
	domain = domain != NULL ? domain + 1 : addr + alen;
	dlen = (size_t)(addr + alen - domain);
	for (i = 0; i < c->nskip_senders; i++)
		if (sender_matches(c->skip_senders[i], addr, alen, domain, dlen))
			return 1;
	return 0;
}

int
conf_trusted_forwarder(const struct conf *c, const char *name)
{
	size_t len = strlen(name), elen, i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	for (i = 0; i < c->ntrusted_forwarders; i++) {
		const char *e = c->trusted_forwarders[i];

		elen = strlen(e);
		if (e[0] == '.' ? len > elen &&
		    strncasecmp(name + len - elen, e, elen) == 0 :
		    len == elen && strncasecmp(name, e, len) == 0)
			return 1;
	}
	return 0;
}

int
conf_exempt_recipient(const struct conf *c, const char *rcpt)
{
	const char *addr = rcpt, *at, *colon;
	size_t alen, llen, i;

	if (rcpt == NULL)
		return 0;
	if (*addr == '<')
		addr++;
	/* RFC 5321 4.1.2: a source route before the address */
	if (*addr == '@' && (colon = strchr(addr, ':')) != NULL)
		addr = colon + 1;
	alen = strlen(addr);
	if (alen > 0 && addr[alen - 1] == '>')
		alen--;
	at = memrchr(addr, '@', alen);
	llen = at != NULL ? (size_t)(at - addr) : alen;
	for (i = 0; i < c->nexempt_recipients; i++) {
		const char *e = c->exempt_recipients[i];
		size_t elen = strlen(e);

		if (strchr(e, '@') != NULL ?
		    elen == alen && strncasecmp(e, addr, alen) == 0 :
		    elen == llen && strncasecmp(e, addr, llen) == 0)
			return 1;
	}
	return 0;
}
