/*
 * header.h - the text spf-milter writes for other programs and people to
 * read: the Received-SPF and Authentication-Results header fields, the
 * SMTP reply, and values in log lines.
 *
 * Everything a sender controls (HELO, MAIL FROM, the DNS data its domain
 * publishes, exp= text) reaches this module raw and leaves it cleaned.
 * Pure text: libc and spf.h only, no libmilter, so the unit tests call it
 * directly.  Prefix hdr_.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#ifndef HEADER_H
#define HEADER_H

#include <stddef.h>

#include "spf.h"

/* What one verification was about: the facts a header field records. */
struct hdr_verdict {
	enum spf_identity identity;
	const char *ip;		/* client address, text */
	const char *helo;	/* HELO/EHLO argument; may be NULL */
	const char *sender;	/* MAIL FROM address as given, "" for <> */
	struct spf_outcome out;
	/* Why the result was not enforced (an exemption), in words, or
	 * NULL.  Both fields write it as a comment beside the true result:
	 * letters, digits, blanks and ".,:-_" as they are, any other byte
	 * as '?'. */
	const char *note;
};

/* ----------------------------------------------------------- log lines */

/*
 * S escaped for a log line into BUF (SIZE bytes): printable ASCII stays,
 * every other byte, the backslash and the double quote become \xHH, so no
 * line can be split and a value in quotes cannot end early.  Bytes in
 * KEEP ('\\' or '"') stay as they are.  A value longer than BUF is cut and
 * ends in "..."; NULL is "".  Returns BUF.
 */
const char *hdr_esc(const char *s, char *buf, size_t size);
const char *hdr_esc_keep(const char *s, char *buf, size_t size,
    const char *keep);

/* ------------------------------------------------------- header fields */

/* The column a field is folded at, where its words allow. */
#define HDR_FOLD_COL	76

/*
 * Header field values, folded with "\n\t" (the MTA adds the CR), in
 * memory of their own (free() it), or NULL when out of memory.  Every
 * pair is written whole; see header.c for what is quoted, cleaned and
 * shortened.
 */

/* The value of a Received-SPF field (RFC 7208 9.1) for V, written by
 * RECEIVER. */
char *hdr_received_spf(const struct hdr_verdict *v, const char *receiver);

/* The value of an Authentication-Results field (RFC 8601) recording the
 * N verdicts in V under AUTHSERV_ID. */
char *hdr_auth_results(const struct hdr_verdict *v, int n,
    const char *authserv_id);

/*
 * The authserv-id an incoming Authentication-Results value starts with
 * (RFC 8601 2.2: CFWS, then a value: token or quoted-string).  Returns 0
 * and the id in BUF, or -1 when the value is malformed or the id does
 * not fit.
 */
int hdr_authserv_id(const char *value, char *buf, size_t size);

/* -------------------------------------------------------- SMTP replies */

/* Room for a reply text, NUL included.  RFC 5321 4.5.3.1.5 allows 512
 * octets for the whole line: "550 5.7.23 " with the longest status code
 * and CRLF leave 494 for the text, where our "%%" counts once. */
#define HDR_REPLY_TEXT_MAX	480

/* A reply as smfi_setreply() takes it. */
struct hdr_reply {
	char code[4];			/* "550" */
	char status[12];		/* "5.7.23", same class as code */
	char text[HDR_REPLY_TEXT_MAX];	/* printable ASCII, '%' doubled */
};

/*
 * The one place an SMTP reply is built: the reply for V's result from
 * the configured CODE, STATUS and template TMPL (spf-milter.conf(5):
 * %{exp} the explanation of a fail, %{domain} the domain verified, %% a
 * percent sign).  The enhanced status code is forced into the class of
 * the reply code.  Values from the sender or its DNS are cleaned
 * (printable ASCII, '%' doubled, no CR/LF); a value too long for the
 * room the template leaves is shortened and ends in "...".  The
 * template's own text is never shortened: it must be shorter than
 * HDR_REPLY_TEXT_MAX.  Returns 1 when a value was shortened, else 0.
 */
int hdr_reply(struct hdr_reply *r, const char *code, const char *status,
    const char *tmpl, const struct hdr_verdict *v);

#endif
