/*
 * header.c - the text spf-milter writes for others to read: Received-SPF
 * and Authentication-Results values, SMTP reply text, log values.
 *
 * Everything a sender controls arrives here raw (the evaluator hands it
 * over as it came from SMTP or DNS) and leaves cleaned: quoted or
 * escaped so that no header line can be started, no key=value pair
 * injected, no reply or log line split.
 *
 * Copyright (C) 2026 the spf-milter authors.  GPL-3.0-or-later.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "header.h"

/* Longest cleaned value of sender data we copy into a header field: room
 * for a full address, not for a flood. */
#define VALUE_MAX	320

/* ============================================================= log lines */

const char *
hdr_esc_keep(const char *s, char *buf, size_t len, const char *keep)
{
	size_t o = 0;

	if (s == NULL)
		s = "";
	for (; *s != '\0' && o + 5 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f &&
		    ((c != '\\' && c != '"') || strchr(keep, c) != NULL))
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
	}
	if (*s != '\0' && len > 4) {
		if (o > len - 4)
			o = len - 4;
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

const char *
hdr_esc(const char *s, char *buf, size_t len)
{
	return hdr_esc_keep(s, buf, len, "");
}

/* ========================================================= text cleaning */

static int
is_atext(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A dot-atom of RFC 5322: atext runs separated by single dots. */
static int
is_dot_atom(const char *s)
{
	int prev_dot = 1;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '.') {
			if (prev_dot)
				return 0;
			prev_dot = 1;
		} else if (c < 0x80 && is_atext(c)) {
			prev_dot = 0;
		} else {
			return 0;
		}
	}
	return !prev_dot;
}

/*
 * A quoted-string of RFC 5322 holding S: '"' and '\' escaped, anything
 * that is not printable ASCII replaced by '?', capped at VALUE_MAX input
 * bytes.  No CR/LF can survive, so no header line can be started.
 */
static void
quote_value(const char *s, char *buf, size_t len)
{
	size_t o = 0, n = 0;

	buf[o++] = '"';
	for (; *s != '\0' && n < VALUE_MAX && o + 4 < len; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf[o++] = '\\';
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* A header value for S: as it is when it is a dot-atom, else quoted. */
static void
header_value(const char *s, char *buf, size_t len)
{
	if (is_dot_atom(s) && strlen(s) < VALUE_MAX && strlen(s) < len)
		snprintf(buf, len, "%s", s);
	else
		quote_value(s, buf, len);
}

/* A token of RFC 2045, what RFC 8601 allows unquoted as a value. */
static int
is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", *s) != NULL)
			return 0;
	return 1;
}

/* A domain name as letters, digits, hyphens and dots only. */
static int
is_plain_domain(const char *s)
{
	return is_dot_atom(s) && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == strlen(s);
}

/* An RFC 8601 value: a token as it is, else quoted. */
static void
token_value(const char *s, char *buf, size_t len)
{
	if (is_token(s) && strlen(s) < VALUE_MAX && strlen(s) < len)
		snprintf(buf, len, "%s", s);
	else
		quote_value(s, buf, len);
}

/*
 * An address for RFC 8601 smtp.mailfrom: local-part@domain as it is when
 * the local part is a dot-atom and the domain a plain domain name, else
 * the whole quoted.
 */
static void
address_value(const char *s, char *buf, size_t len)
{
	char local[VALUE_MAX + 1];
	const char *at = strrchr(s, '@');
	size_t ll;

	if (at != NULL && strlen(s) < VALUE_MAX && strlen(s) < len) {
		ll = (size_t)(at - s);
		memcpy(local, s, ll);
		local[ll] = '\0';
		if (is_dot_atom(local) && is_plain_domain(at + 1)) {
			snprintf(buf, len, "%s", s);
			return;
		}
	}
	quote_value(s, buf, len);
}

/* Text inside a header comment: '(' ')' '\' as quoted-pairs, anything not
 * printable ASCII as '?', capped. */
static void
comment_text(const char *s, char *buf, size_t len)
{
	size_t o = 0, n = 0;

	for (; *s != '\0' && n < VALUE_MAX && o + 3 < len; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (c == '(' || c == ')' || c == '\\')
			buf[o++] = '\\';
		buf[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o] = '\0';
}

/* ======================================================== header fields */

/* A header value is built word by word; words are separated by a space
 * or, when the line would grow past HDR_FOLD_COL, by a fold ("\n\t": the
 * MTA adds CR). */

static void
hb_init(struct hdr_field *b, const char *name)
{
	b->s[0] = '\0';
	b->len = 0;
	b->col = strlen(name) + 2;
}

/* Append W; SEP says whether a space (or fold) goes before it.  A value
 * that does not fit is cut at a word: the field stays well-formed. */
static void
hb_word(struct hdr_field *b, const char *w, int sep)
{
	size_t wl = strlen(w);

	if (b->len + wl + 3 >= sizeof(b->s))
		return;
	if (sep && b->len > 0) {
		if (b->col + 1 + wl > HDR_FOLD_COL) {
			memcpy(b->s + b->len, "\n\t", 2);
			b->len += 2;
			b->col = 8;
		} else {
			b->s[b->len++] = ' ';
			b->col++;
		}
	}
	memcpy(b->s + b->len, w, wl + 1);
	b->len += wl;
	b->col += wl;
}

/* Append the words of TEXT (split at spaces) one by one, so a long
 * comment folds between words. */
static void
hb_words(struct hdr_field *b, const char *text)
{
	char w[HDR_FIELD_MAX];
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, " ");

		if (n > 0 && n < sizeof(w)) {
			memcpy(w, p, n);
			w[n] = '\0';
			hb_word(b, w, 1);
		}
		p += n;
		p += strspn(p, " ");
	}
}

static void
hb_pair(struct hdr_field *b, const char *key, const char *value)
{
	char w[HDR_FIELD_MAX];

	snprintf(w, sizeof(w), "%s=%s;", key, value);
	hb_word(b, w, 1);
}

/* The comment of Received-SPF (RFC 7208 9.1): who said what about whom. */
static void
received_comment(const struct hdr_verdict *v, const char *receiver,
    char *buf, size_t len)
{
	char who[VALUE_MAX * 2 + 2], rcv[VALUE_MAX * 2 + 2];
	const char *ip = v->ip;

	comment_text(v->identity == SPF_ID_HELO ? (v->helo ? v->helo : "")
	    : v->out.sender, who, sizeof(who));
	comment_text(receiver, rcv, sizeof(rcv));
	switch (v->out.result) {
	case SPF_PASS:
		snprintf(buf, len, "(%s: domain of %s designates %s as "
		    "permitted sender)", rcv, who, ip);
		break;
	case SPF_FAIL:
		snprintf(buf, len, "(%s: domain of %s does not designate %s as "
		    "permitted sender)", rcv, who, ip);
		break;
	case SPF_SOFTFAIL:
		snprintf(buf, len, "(%s: domain of transitioning %s does not "
		    "designate %s as permitted sender)", rcv, who, ip);
		break;
	case SPF_NEUTRAL:
		snprintf(buf, len, "(%s: %s is neither permitted nor denied by "
		    "domain of %s)", rcv, ip, who);
		break;
	case SPF_TEMPERROR:
		snprintf(buf, len, "(%s: error in processing during lookup of "
		    "%s)", rcv, who);
		break;
	case SPF_PERMERROR:
		snprintf(buf, len, "(%s: domain of %s has an invalid SPF "
		    "record)", rcv, who);
		break;
	default:
		snprintf(buf, len, "(%s: domain of %s does not designate "
		    "permitted sender hosts)", rcv, who);
		break;
	}
}

/* The value of a Received-SPF field (RFC 7208 9.1) for V. */
void
hdr_received_spf(const struct hdr_verdict *v, const char *receiver,
    struct hdr_field *b)
{
	char comment[HDR_FIELD_MAX], val[VALUE_MAX * 2 + 4];

	hb_init(b, "Received-SPF");
	hb_word(b, spf_result_name(v->out.result), 0);
	received_comment(v, receiver, comment, sizeof(comment));
	hb_words(b, comment);
	header_value(receiver, val, sizeof(val));
	hb_pair(b, "receiver", val);
	header_value(v->ip, val, sizeof(val));
	hb_pair(b, "client-ip", val);
	quote_value(v->out.sender, val, sizeof(val));
	hb_pair(b, "envelope-from", val);
	if (v->helo != NULL && v->helo[0] != '\0') {
		header_value(v->helo, val, sizeof(val));
		hb_pair(b, "helo", val);
	}
	hb_pair(b, "identity", v->identity == SPF_ID_HELO ? "helo" : "mailfrom");
	if (v->out.problem[0] != '\0') {
		quote_value(v->out.problem, val, sizeof(val));
		hb_pair(b, "problem", val);
	} else if (v->out.mechanism[0] != '\0') {
		header_value(v->out.mechanism, val, sizeof(val));
		hb_pair(b, "mechanism", val);
	}
	/* The last pair's ';' is optional; drop it for a tidy field. */
	if (b->len > 0 && b->s[b->len - 1] == ';')
		b->s[--b->len] = '\0';
}

/* The value of an Authentication-Results field (RFC 8601) recording the
 * N verdicts in V. */
void
hdr_auth_results(const struct hdr_verdict *v, int n, const char *authserv_id,
    struct hdr_field *b)
{
	char val[VALUE_MAX * 2 + 4], w[VALUE_MAX * 2 + 32];
	int i;

	hb_init(b, "Authentication-Results");
	token_value(authserv_id, val, sizeof(val));
	snprintf(w, sizeof(w), "%s;", val);
	hb_word(b, w, 0);
	for (i = 0; i < n; i++) {
		snprintf(w, sizeof(w), "spf=%s", spf_result_name(v[i].out.result));
		hb_word(b, w, 1);
		if (v[i].identity == SPF_ID_HELO) {
			token_value(v[i].helo ? v[i].helo : "", val, sizeof(val));
			snprintf(w, sizeof(w), "smtp.helo=%s%s", val,
			    i + 1 < n ? ";" : "");
		} else {
			address_value(v[i].out.sender, val, sizeof(val));
			snprintf(w, sizeof(w), "smtp.mailfrom=%s%s", val,
			    i + 1 < n ? ";" : "");
		}
		hb_word(b, w, 1);
	}
}

/*
 * The authserv-id an incoming Authentication-Results value starts with
 * (RFC 8601 2.2: CFWS, then a value: token or quoted-string).  Returns 0
 * and the id in BUF, or -1 when the value is malformed.
 */
int
hdr_authserv_id(const char *v, char *buf, size_t len)
{
	size_t o = 0;
	int depth;

	for (;;) {	/* skip CFWS; comments nest */
		while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
			v++;
		if (*v != '(')
			break;
		for (depth = 0; *v != '\0'; v++) {
			if (*v == '\\' && v[1] != '\0')
				v++;
			else if (*v == '(')
				depth++;
			else if (*v == ')' && --depth == 0) {
				v++;
				break;
			}
		}
	}
	if (*v == '"') {
		for (v++; *v != '\0' && *v != '"'; v++) {
			if (*v == '\\' && v[1] != '\0')
				v++;
			if (o + 1 >= len)
				return -1;
			buf[o++] = *v;
		}
		if (*v != '"')
			return -1;
	} else {
		for (; *v != '\0' && strchr(" \t\r\n;(", *v) == NULL; v++) {
			if (o + 1 >= len)
				return -1;
			buf[o++] = *v;
		}
	}
	buf[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* ========================================================= SMTP replies */

/* The bytes of C in a reply text: printable ASCII as it is, '%' doubled
 * (libmilter and Postfix read it as a format character), anything else,
 * CR and LF among them, as '?'.  Returns the count written to OUT (1 or
 * 2). */
static size_t
reply_char(unsigned char c, char out[2])
{
	if (c == '%') {
		out[0] = out[1] = '%';
		return 2;
	}
	out[0] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	return 1;
}

/* Length of S as reply text. */
static size_t
reply_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '%' ? 2 : 1;
	return n;
}

/* Append S as reply text, at most ROOM bytes of it: a value that does not
 * fit is shortened and ends in "...", never cut inside a "%%".  Returns
 * 1 when it was shortened. */
static int
reply_piece(struct spf_buf *b, const char *s, size_t room)
{
	char c[2];
	size_t n;

	if (reply_len(s) <= room) {
		for (; *s != '\0'; s++) {
			n = reply_char((unsigned char)*s, c);
			spf_buf_add(b, c, n);
		}
		return 0;
	}
	if (room < 3)
		return 1;
	for (room -= 3; *s != '\0'; s++) {
		n = reply_char((unsigned char)*s, c);
		if (n > room)
			break;
		spf_buf_add(b, c, n);
		room -= n;
	}
	spf_buf_adds(b, "...");
	return 1;
}

/* The text %{exp} stands for: a fail's explanation, or the default one. */
static void
explanation(const struct hdr_verdict *v, struct spf_buf *b)
{
	if (v->out.result != SPF_FAIL)
		return;
	if (strcmp(v->out.explanation, SPF_DEFAULT_EXPLANATION) == 0)
		spf_buf_addf(b, "%s is not a permitted sender for %s",
		    v->ip != NULL ? v->ip : "", v->out.domain);
	else
		spf_buf_adds(b, v->out.explanation);
}

/* The %{...} of template T: its name's length, or 0 for none. */
static size_t
placeholder(const char *t)
{
	if (strncmp(t, "%{exp}", 6) == 0)
		return 6;
	if (strncmp(t, "%{domain}", 9) == 0)
		return 9;
	return 0;
}

/* The length of template T's own text as reply text; the counts of its
 * %{exp} and %{domain} in N[0] and N[1]. */
static size_t
literal_len(const char *t, size_t n[2])
{
	size_t len = 0, p;

	for (n[0] = n[1] = 0; *t != '\0'; t++) {
		if ((p = placeholder(t)) > 0) {
			n[p == 6 ? 0 : 1]++;
			t += p - 1;
		} else if (t[0] == '%' && t[1] == '%') {
			len += 2;
			t++;
		} else {
			len += *t == '%' ? 2 : 1;
		}
	}
	return len;
}

/*
 * How much of ROOM each %{exp} and %{domain} may take (N counts them,
 * LEN their full lengths) into MAX[0] and MAX[1]: all whole when they
 * fit; else the explanation is shortened first (it is prose, often long),
 * the domain only when even "..." for the explanation leaves too little.
 */
static void
share_room(size_t room, const size_t n[2], const size_t len[2], size_t max[2])
{
	max[0] = len[0];
	max[1] = len[1];
	if (n[0] * len[0] + n[1] * len[1] <= room)
		return;
	if (n[1] * len[1] + n[0] * 3 <= room) {
		max[0] = (room - n[1] * len[1]) / n[0];
		return;
	}
	max[0] = 3;
	max[1] = n[1] > 0 && room > n[0] * 3 ? (room - n[0] * 3) / n[1] : 0;
}

int
hdr_reply(struct hdr_reply *r, const char *code, const char *status,
    const char *tmpl, const struct hdr_verdict *v)
{
	char expbuf[SPF_EXPLANATION_MAX + 2 * 46 + 300];
	struct spf_buf b, e;
	const char *t;
	size_t lit, n[2], len[2], max[2];
	int shortened = 0;

	if (spf_strlcpy_exact(r->code, code, sizeof(r->code)) != 0 ||
	    strlen(r->code) != 3 || (r->code[0] != '4' && r->code[0] != '5'))
		memcpy(r->code, "451", 4);
	if (spf_strlcpy_exact(r->status, status, sizeof(r->status)) != 0 ||
	    r->status[0] == '\0')
		snprintf(r->status, sizeof(r->status), "%c.7.0", r->code[0]);
	/* Postfix ignores a reply whose classes differ: never send one. */
	r->status[0] = r->code[0];

	spf_buf_init(&e, expbuf, sizeof(expbuf));
	explanation(v, &e);
	spf_buf_init(&b, r->text, sizeof(r->text));
	/* The template's own text always fits (spf-milter.c checks its
	 * bound against ours); the values share the rest. */
	lit = literal_len(tmpl, n);
	len[0] = reply_len(expbuf);
	len[1] = reply_len(v->out.domain);
	share_room(lit < sizeof(r->text) ? sizeof(r->text) - 1 - lit : 0,
	    n, len, max);
	for (t = tmpl; *t != '\0'; t++) {
		char c[2];
		size_t p = placeholder(t);

		if (p == 6) {
			shortened |= reply_piece(&b, expbuf, max[0]);
			t += p - 1;
		} else if (p == 9) {
			shortened |= reply_piece(&b, v->out.domain, max[1]);
			t += p - 1;
		} else {
			if (t[0] == '%' && t[1] == '%')
				t++;
			spf_buf_add(&b, c, reply_char((unsigned char)*t, c));
		}
	}
	if (b.overflow) {	/* only a template beyond our bound */
		spf_buf_truncate(&b, 0);
		shortened = 1;
	}
	return shortened;
}
