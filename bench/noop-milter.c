/*
 * noop-milter.c - a libmilter milter that does nothing but add one header
 * field at end of message.  The benchmark runs it next to spf-milter as the
 * ceiling of libmilter plus the load generator on this machine: whatever
 * spf-milter costs beyond it is the cost of SPF.
 *
 * It negotiates the same protocol steps as spf-milter: by default the
 * steps spf-milter asks for (connect and HELO without reply, MAIL FROM with
 * reply, header fields without reply, end of message), or exactly the
 * flags given with -P (bench/run.sh passes what the load generator saw
 * spf-milter negotiate).  Stages negotiated without reply answer NOREPLY.
 *
 *   noop-milter -s unix:PATH|inet:PORT@127.0.0.1 [-P HEXFLAGS] [-D]
 *
 * -D leaves TCP_NODELAY off on the listening socket (libmilter's default).
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#define DEFAULT_PROTO	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NORCPT | \
	SMFIP_NODATA | SMFIP_NR_HDR | SMFIP_NOEOH | SMFIP_NOBODY | \
	SMFIP_NOUNKNOWN)
#define MAX_FDS		1024

/* Set once in main before smfi_main starts any thread. */
static unsigned long want_proto = DEFAULT_PROTO;

static sfsistat
reply(unsigned long nr_flag)
{
	return (want_proto & nr_flag) != 0 ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
noop_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx;
	(void)f2;
	(void)f3;
	if ((f0 & SMFIF_ADDHDRS) == 0 || (f1 & want_proto) != want_proto)
		return SMFIS_REJECT;
	*pf0 = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
	*pf1 = want_proto;
	*pf2 = 0;
	*pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
noop_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)host;
	(void)sa;
	return reply(SMFIP_NR_CONN);
}

static sfsistat
noop_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return reply(SMFIP_NR_HELO);
}

static sfsistat
noop_envfrom(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return reply(SMFIP_NR_MAIL);
}

static sfsistat
noop_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return reply(SMFIP_NR_RCPT);
}

static sfsistat
noop_data(SMFICTX *ctx)
{
	(void)ctx;
	return reply(SMFIP_NR_DATA);
}

static sfsistat
noop_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return reply(SMFIP_NR_HDR);
}

static sfsistat
noop_eoh(SMFICTX *ctx)
{
	(void)ctx;
	return reply(SMFIP_NR_EOH);
}

static sfsistat
noop_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)ctx;
	(void)chunk;
	(void)len;
	return reply(SMFIP_NR_BODY);
}

static sfsistat
noop_eom(SMFICTX *ctx)
{
	char name[] = "X-Bench", value[] = "noop";

	if (smfi_insheader(ctx, 0, name, value) != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	return SMFIS_CONTINUE;
}

static struct smfiDesc noop_desc = {
	"noop-milter", SMFI_VERSION, SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	noop_connect, noop_helo, noop_envfrom, noop_envrcpt, noop_header,
	noop_eoh, noop_body, noop_eom, NULL, NULL, NULL, noop_data,
	noop_negotiate
};

/* libmilter gives no access to its listening socket: find it by its state
 * and set TCP_NODELAY, which accepted sockets inherit. */
static void
set_nodelay_on_listener(void)
{
	int fd, on, one = 1;
	socklen_t len;

	for (fd = 3; fd < MAX_FDS; fd++) {
		len = sizeof(on);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 ||
		    !on)
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one)) != 0 && errno != EOPNOTSUPP)
			fprintf(stderr, "noop-milter: TCP_NODELAY: %s\n",
			    strerror(errno));
	}
}

static unsigned long
parse_hex(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "noop-milter: bad flags '%s'\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	int ch, nodelay = 1;

	while ((ch = getopt(argc, argv, "s:P:D")) != -1) {
		switch (ch) {
		case 's': sock = optarg; break;
		case 'P': want_proto = parse_hex(optarg); break;
		case 'D': nodelay = 0; break;
		default: sock = NULL; optind = argc + 1; break;
		}
	}
	if (sock == NULL || optind != argc) {
		fprintf(stderr, "usage: noop-milter -s SOCKET [-P HEXFLAGS] [-D]\n");
		return 2;
	}
	if (smfi_setconn((char *)sock) != MI_SUCCESS ||
	    smfi_register(noop_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot set up %s\n", sock);
		return 1;
	}
	if (nodelay)
		set_nodelay_on_listener();
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
