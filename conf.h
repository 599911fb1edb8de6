/*
 * conf.h - the configuration of spf-milter: loading spf-milter.conf(5)
 * into an immutable, reference-counted struct conf.
 *
 * How the milter uses it:
 *   - main() calls conf_load_overrides() with the -c file and the
 *     command-line options (-p, -n, -l, -L) as overrides, then
 *     conf_require_socket() unless it only runs -q.  Errors are printed
 *     by conf.c itself as "FILE:LINE: message" to the FILE * given.
 *   - -t: load, then conf_require_socket(), then conf_print() to stdout;
 *     exit SPF_MILTER_EXIT_OK or SPF_MILTER_EXIT_CONFIG.
 *   - Each connection takes conf_ref() of the current snapshot at connect
 *     and conf_unref() at close; a reload (SIGUSR1) loads a new struct and
 *     swaps the pointer under a mutex, then drops the reference the old
 *     "current" pointer held.  The struct is never modified after load.
 *   - For reload, log the errors: conf_load_overrides() writes them to any
 *     FILE *, e.g. one from open_memstream().
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#ifndef CONF_H
#define CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "spf.h"

/* Exit codes of spf-milter(8), shared so that main and the man page agree. */
#define SPF_MILTER_EXIT_OK	0	/* done; -t: the file is valid */
#define SPF_MILTER_EXIT_CONFIG	1	/* configuration file invalid */
#define SPF_MILTER_EXIT_USAGE	2	/* bad command line */
#define SPF_MILTER_EXIT_RUNTIME	3	/* socket, privileges, libmilter */

/* Result sets are bitmasks: CONF_RESULT_BIT(SPF_FAIL) | ... */
#define CONF_RESULT_BIT(r)	(1u << (r))

enum conf_header {
	CONF_HEADER_RECEIVED_SPF = 1,		/* RFC 7208 9.1 */
	CONF_HEADER_AUTHENTICATION_RESULTS = 2	/* RFC 8601 */
};

enum conf_log_destination {
	CONF_LOG_SYSLOG = 0,
	CONF_LOG_STDERR
};

/* A trusted network: family AF_INET or AF_INET6, address in network
 * order with the host bits cleared, prefix length in bits. */
struct conf_network {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

/*
 * The SMTP reply for one result.  code is "550", status "5.7.23" (same
 * class, checked at load).  text is a template: printable ASCII where
 *   %{exp}     the explanation of a fail (only allowed in fail_reply_text),
 *   %{domain}  the domain that was checked,
 *   %%         a literal percent sign,
 * and no other '%' occurs.  header.c's hdr_reply() fills it in.
 */
struct conf_reply {
	char code[4];
	char status[12];
	char *text;
};

#define CONF_MAX_DNS_SERVERS	6	/* = RESOLVER_MAX_SERVERS, asserted in
					   spf-milter.c */
#define CONF_REPLY_TEXT_MAX	400	/* bytes of a configured text */
/* A configuration file is a regular file of at most this many bytes:
 * a hundred times what a file with every parameter and long lists needs,
 * and a bound on what a reload reads into memory. */
#define CONF_FILE_MAX		(1024 * 1024)

struct conf {
	/* The file it was loaded from (as given), for log messages. */
	char *path;

	/* Listening socket in libmilter's syntax, always normalised to
	 * "inet:PORT@HOST", "inet:PORT", "inet6:PORT@HOST", "inet6:PORT" or
	 * "unix:/ABSOLUTE/PATH" ("local:" becomes "unix:", the Rust spf-milter's
	 * "inet:HOST:PORT" becomes "inet:PORT@HOST").  NULL when not set. */
	char *socket;
	/* chmod() of a unix socket after smfi_opensocket(); ignored for
	 * inet sockets.  Default 0660. */
	unsigned socket_mode;
	/* User to switch to after the socket is open; "" = stay.  Only the
	 * syntax is checked here (a name or a numeric uid): the milter looks
	 * it up with getpwnam() when it starts. */
	char *user;

	bool verify_helo;			/* default yes */
	unsigned definitive_helo_results;	/* default pass, fail */
	unsigned reject_results;		/* default fail, temperror, permerror */
	/* Effective set: equals reject_results when the file does not set it. */
	unsigned reject_helo_results;

	/* Indexed by enum spf_result; reply[SPF_PASS] is unused (all empty,
	 * text ""). */
	struct conf_reply reply[SPF_NRESULTS];

	/* Header fields to add, in the order configured; none when 0. */
	enum conf_header header[2];
	size_t nheader;
	bool include_all_results;		/* default no */
	char *hostname;				/* default gethostname() */
	char *authserv_id;			/* default hostname */
	bool delete_incoming_authentication_results;	/* default yes */
	bool delete_incoming_received_spf;		/* default yes */

	struct conf_network *trusted_networks;	/* default 127.0.0.0/8, ::1/128 */
	size_t ntrusted_networks;
	bool trust_authenticated_senders;	/* default yes */
	/* Lower-cased entries: "user@example.org" (that address only),
	 * "example.org" (addresses at exactly that domain) or ".example.org"
	 * (addresses at any subdomain, not the domain itself).  Use
	 * conf_skip_sender(). */
	char **skip_senders;
	size_t nskip_senders;
	/* Exemptions from a rejection (spf-milter.conf(5), "Forwarders and
	 * backup MX"), all lower-cased.  trusted_forwarders: host names
	 * "mx2.example.org" (that name) or ".example.net" (any name below
	 * it), matched against forward-confirmed PTR names of the client
	 * with conf_trusted_forwarder().  trusted_forwarder_domains: domains
	 * whose own SPF record the client must pass.  exempt_recipients:
	 * local-parts "postmaster" (at any domain) and addresses
	 * "abuse@example.org"; conf_exempt_recipient(). */
	char **trusted_forwarders;
	size_t ntrusted_forwarders;
	char **trusted_forwarder_domains;
	size_t ntrusted_forwarder_domains;
	char **exempt_recipients;
	size_t nexempt_recipients;

	bool dry_run;				/* default no */
	enum conf_log_destination log_destination;	/* default syslog */
	int log_level;		/* LOG_ERR, LOG_WARNING, LOG_INFO (default), LOG_DEBUG */
	int syslog_facility;	/* LOG_MAIL (default), LOG_DAEMON, LOG_LOCAL0.. */

	/* Overall deadline for one SPF evaluation (one identity), all its
	 * DNS questions together, in milliseconds.  Default 10000: HELO
	 * plus MAIL FROM then stay under Postfix's 30 s milter timeout. */
	unsigned dns_timeout_ms;
	/* Nameservers; none (0) means those of /etc/resolv.conf.  Port 53
	 * when the file gave none. */
	struct sockaddr_storage dns_servers[CONF_MAX_DNS_SERVERS];
	size_t ndns_servers;
	/* Entries of the shared DNS answer cache; 0 turns it off. */
	unsigned dns_cache_size;		/* default 1000 */
	/* Memory the cache may hold, in bytes. */
	size_t dns_cache_max_bytes;		/* default 1 MiB */

	/* private to conf.c */
	unsigned refs;
};

/* A command-line override: KEY as in the file, applied after the file
 * (it replaces a value from the file without a duplicate-key error).
 * Errors in it are reported as "command line: KEY: message". */
struct conf_override {
	const char *key;
	const char *value;
};

/*
 * Load PATH (NULL: only defaults and overrides).  Reports every error as
 * "PATH:LINE: message" to ERRORS (may be NULL to stay quiet) and returns
 * NULL if there was any; otherwise a struct with one reference.
 */
struct conf *conf_load(const char *path, FILE *errors);
struct conf *conf_load_overrides(const char *path,
    const struct conf_override *ov, size_t nov, FILE *errors);

/* -1 with a message naming PATH when socket is not set, else 0. */
int conf_require_socket(const struct conf *c, FILE *errors);

/* What the file mode M is, in words for an error message ("a FIFO
 * (named pipe)", "a directory", ...). */
const char *conf_file_kind(mode_t m);

/* Reference counting (atomic): the last conf_unref() frees. */
struct conf *conf_ref(struct conf *c);
void conf_unref(struct conf *c);

/* Every parameter as "key = value", in a form conf_load() accepts back. */
void conf_print(const struct conf *c, FILE *out);

/* 1 if the client address (family AF_INET with 4 bytes or AF_INET6 with
 * 16; IPv4-mapped IPv6 is matched as IPv4) is in trusted_networks. */
int conf_trusted_ip(const struct conf *c, int family, const unsigned char *ip);

/* 1 if SENDER (an address local@domain, case-insensitive) is in
 * skip_senders.  The null sender is never skipped. */
int conf_skip_sender(const struct conf *c, const char *sender);

/* 1 if NAME (a host name from DNS, any case, a trailing dot allowed)
 * is in trusted_forwarders: equal to an entry, or below a ".suffix"
 * entry. */
int conf_trusted_forwarder(const struct conf *c, const char *name);

/* 1 if RCPT (an RCPT TO argument, angle brackets and a source route
 * allowed) is in exempt_recipients: its local-part equals a local-part
 * entry, or the whole address an address entry; case-insensitive.
 * "<Postmaster>" without a domain matches "postmaster" (RFC 5321
 * 4.5.1). */
int conf_exempt_recipient(const struct conf *c, const char *rcpt);

/* Parse one nameserver as dns_servers lists them: "192.0.2.1",
 * "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:5353";
 * numeric only, port 53 unless given.  0, or -1 when ITEM is not such an
 * address.  The one parser of this syntax (bench/spfbench takes its
 * server this way too). */
int conf_parse_server(const char *item, struct sockaddr_storage *ss);

/* The names of the keys conf.c knows, NULL-terminated (for tests). */
extern const char *const conf_keys[];

#endif
