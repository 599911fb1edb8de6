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
#include <stdlib.h>
#include <string.h>

#include "header.h"

/* ----------------------------------------------------------- log lines */

const char *
hdr_esc_keep(const char *s, char *buf, size_t len, const char *keep)
{
	struct spf_buf b;

	if (len < 4) {		/* no room for a mark */
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	/* Whole escapes only, in all but the room of the "..." that marks
	 * a cut value. */
	spf_buf_init(&b, buf, len - 3);
	for (s = s != NULL ? s : ""; *s != '\0' && !b.overflow; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f &&
		    ((c != '\\' && c != '"') || strchr(keep, c) != NULL))
			spf_buf_addc(&b, (char)c);
		else
			spf_buf_addf(&b, "\\x%02x", c);
	}
	if (b.overflow)
		memcpy(buf + b.len, "...", 4);
	return buf;
}

const char *
hdr_esc(const char *s, char *buf, size_t len)
{
	return hdr_esc_keep(s, buf, len, "");
}

/* ------------------------------------------------------- header fields */

/*
 * A field value is built on a struct spf_buf sized for its inputs, word
 * by word: words are separated by a space or, when the line would grow
 * past HDR_FOLD_COL, by a fold ("\n\t": the MTA adds the CR).  Nothing
 * is dropped: every pair is written whole.  The one thing shortened is
 * the sender or HELO name inside the comment, which is text for people
 * (the pairs carry the values); a quoted value longer than a line (only
 * an address or HELO name far beyond RFC 5321's limits can be) is folded
 * inside its quotes.
 */

/* RFC 5321 4.5.3.1: 255 octets for a domain, 256 for a path.  Longer is
 * shown in the comment cut to this, ending in "...". */
#define COMMENT_VALUE_MAX	256
/* Longest run of a quoted value on one line before it is folded: with the
 * key before it, well under RFC 5322's 998. */
#define QUOTED_RUN_MAX		900
/* Longest value written bare (dot-atom or token): longer ones are quoted,
 * so that they can be folded. */
#define BARE_MAX		255

struct field {
	struct spf_buf b;
	char *mem;
	size_t col;		/* column of the next byte on this line */
};

/* Room for a field whose inputs have TOTAL bytes: each input byte takes
 * at most two (a quoted-pair), folds and our own words take the rest. */
static int
field_init(struct field *f, const char *name, size_t total)
{
	size_t size = 1024 + 3 * total;

	if ((f->mem = malloc(size)) == NULL)
		return -1;
	spf_buf_init(&f->b, f->mem, size);
	f->col = strlen(name) + 2;	/* "Name: " */
	return 0;
}

/* The finished value, or NULL (freed) when a piece did not fit: the
 * sizing above makes that a bug, and a field with a piece missing is
 * never handed out. */
static char *
field_done(struct field *f)
{
	if (f->b.overflow) {
		free(f->mem);
		return NULL;
	}
	return f->mem;
}

static void
field_add(struct field *f, const char *s, size_t len)
{
	spf_buf_add(&f->b, s, len);
	f->col += len;
}

static void
field_fold(struct field *f)
{
	spf_buf_add(&f->b, "\n\t", 2);
	f->col = 8;
}

/* Before a word of LEN bytes: a space, or a fold when the line would grow
 * past HDR_FOLD_COL; nothing before the first word. */
static void
field_sep(struct field *f, size_t len)
{
	if (f->b.len == 0)
		return;
	if (f->col + 1 + len > HDR_FOLD_COL)
		field_fold(f);
	else
		field_add(f, " ", 1);
}

/* A word of our own (no cleaning needed). */
static void
field_word(struct field *f, const char *w)
{
	field_sep(f, strlen(w));
	field_add(f, w, strlen(w));
}

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

/* Length of S as the inside of a quoted-string (quote_inside()). */
static size_t
quoted_len(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += (*s == '"' || *s == '\\') ? 2 : 1;
	return n;
}

/*
 * S as a quoted-string of RFC 5322: '"' and '\' as quoted-pairs, anything
 * not printable ASCII as '?', so no CR/LF survives and no header line can
 * be started.  ';', '(' and ')' become '?' as well: the readers of these
 * fields do not honour quotes (OpenDMARC 1.4 splits Received-SPF pairs at
 * every ';' and takes '(' for a comment even inside quotes; SpamAssassin
 * takes the last "; spf=" of Authentication-Results), so a sender's ';'
 * could add a pair and a '(' hide ours.  No domain name has them; an
 * address with them is rare and recorded with '?' in their place.  A
 * value longer than QUOTED_RUN_MAX is folded inside the quotes (RFC 5322
 * 3.2.4 allows FWS there).
 */
static void
field_quoted(struct field *f, const char *s)
{
	size_t run = 0;

	field_add(f, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char out[2];
		size_t n = 0;

		if (run >= QUOTED_RUN_MAX) {
			field_fold(f);
			run = 0;
		}
		if (c == '"' || c == '\\')
			out[n++] = '\\';
		out[n++] = (c >= 0x20 && c < 0x7f && c != ';' && c != '(' &&
		    c != ')') ? (char)c : '?';
		field_add(f, out, n);
		run += n;
	}
	field_add(f, "\"", 1);
}

enum bare { BARE_DOT_ATOM, BARE_TOKEN, BARE_NEVER };

/* May S stand unquoted as KIND?  Short values only, so that a bare word
 * always fits a line. */
static int
bare_ok(const char *s, enum bare kind)
{
	if (strlen(s) > BARE_MAX)
		return 0;
	switch (kind) {
	case BARE_DOT_ATOM:
		return is_dot_atom(s);
	case BARE_TOKEN:
		return is_token(s);
	default:
		return 0;
	}
}

/* KEY=VALUE followed by END (";" or ""), VALUE bare when KIND allows it,
 * else quoted; the pair starts a new line when it would not fit this one. */
static void
field_pair(struct field *f, const char *key, const char *value,
    enum bare kind, const char *end)
{
	size_t klen = strlen(key) + 1, elen = strlen(end);

	if (bare_ok(value, kind)) {
		field_sep(f, klen + strlen(value) + elen);
		field_add(f, key, klen - 1);
		field_add(f, "=", 1);
		field_add(f, value, strlen(value));
	} else {
		field_sep(f, klen + quoted_len(value) + 2 + elen);
		field_add(f, key, klen - 1);
		field_add(f, "=", 1);
		field_quoted(f, value);
	}
	field_add(f, end, elen);
}

/* A word of a comment: '(' ')' '\' as quoted-pairs, anything not
 * printable ASCII (and the space) as '?'; longer than COMMENT_VALUE_MAX
 * it is cut there and ends in "...". */
static void
field_comment_word(struct field *f, const char *pre, const char *w,
    const char *post)
{
	size_t n = 0, len = strlen(pre) + strlen(post);
	const char *s;

	for (s = w; *s != '\0' && (size_t)(s - w) < COMMENT_VALUE_MAX; s++)
		n += (*s == '(' || *s == ')' || *s == '\\') ? 2 : 1;
	field_sep(f, len + n + (*s != '\0' ? 3 : 0));
	field_add(f, pre, strlen(pre));
	for (s = w; *s != '\0' && (size_t)(s - w) < COMMENT_VALUE_MAX; s++) {
		unsigned char c = (unsigned char)*s;
		char out[2];

		n = 0;
		if (c == '(' || c == ')' || c == '\\')
			out[n++] = '\\';
		out[n++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
		field_add(f, out, n);
	}
	if (*s != '\0')
		field_add(f, "...", 3);
	field_add(f, post, strlen(post));
}

/* The words of TEXT, ours, split at spaces. */
static void
field_words(struct field *f, const char *text)
{
	const char *p = text;
	size_t n;

	while (*p != '\0') {
		n = strcspn(p, " ");
		field_sep(f, n);
		field_add(f, p, n);
		p += n;
		p += strspn(p, " ");
	}
}

static size_t
slen(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Does V carry a note with a word in it? */
static int
has_note(const struct hdr_verdict *v)
{
	return v->note != NULL && v->note[strspn(v->note, " ")] != '\0';
}

/*
 * NOTE (has_note()) as the words of a comment, PRE before the first, POST
 * after the last.  Letters, digits, '.', ',', ':', '-' and '_' stay; any
 * other byte becomes '?': no ';', '=', quote or parenthesis that a
 * reader splitting naively could take for structure (a name in a note
 * may come from DNS).
 */
static void
field_note(struct field *f, const char *note, const char *pre,
    const char *post)
{
	const char *p = note + strspn(note, " "), *next;
	size_t n, i;
	int first = 1;

	while (*p != '\0') {
		n = strcspn(p, " ");
		next = p + n + strspn(p + n, " ");
		field_sep(f, (first ? strlen(pre) : 0) + n +
		    (*next == '\0' ? strlen(post) : 0));
		if (first)
			field_add(f, pre, strlen(pre));
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			char out = (c < 0x80 && (isalnum(c) ||
			    strchr(".,:-_", c) != NULL)) ? (char)c : '?';

			field_add(f, &out, 1);
		}
		if (*next == '\0')
			field_add(f, post, strlen(post));
		first = 0;
		p = next;
	}
}

/* One word of ours and END as one word. */
static void
field_word_end(struct field *f, const char *w, const char *end)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s%s", w, end);
	field_word(f, buf);
}

/*
 * The envelope sender, whole: the MAIL FROM address, or postmaster@HELO
 * for the null sender (RFC 7208 2.4; pyspf writes the same in both
 * fields).  In memory of its own (free() it); NULL when out of memory.
 */
static char *
mailbox(const struct hdr_verdict *v)
{
	const char *helo = v->helo != NULL ? v->helo : "";
	char *m;

	if (v->sender != NULL && v->sender[0] != '\0')
		return strdup(v->sender);
	if ((m = malloc(sizeof("postmaster@") + strlen(helo))) != NULL)
		sprintf(m, "postmaster@%s", helo);
	return m;
}

/* The domain of mailbox M: after its last '@', or all of it without one
 * (RFC 7208 4.3). */
static const char *
mailbox_domain(const char *m)
{
	const char *at = strrchr(m, '@');

	return at != NULL ? at + 1 : m;
}

/* The comment of Received-SPF (RFC 7208 9.1): who said what about whom,
 * then, after a comma, the note of V.  The words around WHO and IP are
 * ours. */
static void
received_comment(struct field *f, const struct hdr_verdict *v,
    const char *receiver, const char *mbox)
{
	const char *who = v->identity == SPF_ID_HELO ?
	    (v->helo ? v->helo : "") : mbox;
	const char *ip = v->ip != NULL ? v->ip : "";
	const char *before = NULL, *after = NULL;
	const char *end = has_note(v) ? "," : ")";

	field_comment_word(f, "(", receiver, ":");
	switch (v->out.result) {
	case SPF_PASS:
		before = "domain of";
		after = "designates";
		break;
	case SPF_FAIL:
		before = "domain of";
		after = "does not designate";
		break;
	case SPF_SOFTFAIL:
		before = "domain of transitioning";
		after = "does not designate";
		break;
	case SPF_NEUTRAL:
		field_comment_word(f, "", ip, "");
		field_words(f, "is neither permitted nor denied by domain of");
		field_comment_word(f, "", who, end);
		break;
	case SPF_TEMPERROR:
		field_words(f, "error in processing during lookup of");
		field_comment_word(f, "", who, end);
		break;
	case SPF_PERMERROR:
		field_words(f, "domain of");
		field_comment_word(f, "", who, "");
		field_words(f, "has an invalid SPF");
		field_word_end(f, "record", end);
		break;
	default:
		field_words(f, "domain of");
		field_comment_word(f, "", who, "");
		field_words(f, "does not designate permitted sender");
		field_word_end(f, "hosts", end);
		break;
	}
	if (before != NULL) {
		field_words(f, before);
		field_comment_word(f, "", who, "");
		field_words(f, after);
		field_comment_word(f, "", ip, "");
		field_words(f, "as permitted");
		field_word_end(f, "sender", end);
	}
	if (has_note(v))
		field_note(f, v->note, "", ")");
}

/* One key=value pair of a field. */
struct pair {
	const char *key;
	const char *value;
	enum bare kind;
};

/* PAIRS separated by ';' (the last one's is optional, RFC 7208 9.1). */
static void
field_pairs(struct field *f, const struct pair *pairs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		field_pair(f, pairs[i].key, pairs[i].value, pairs[i].kind,
		    i + 1 < n ? ";" : "");
}

/*
 * RFC 7208 9.1 orders nothing; ours: the facts, then the mechanism or
 * problem, and identity last (as pyspf does).  Last, because readers
 * take the last "identity=" of the field (SpamAssassin searches for it
 * greedily, OpenDMARC keeps the last it saw): nothing a sender or its DNS
 * controls comes after ours.
 */
char *
hdr_received_spf(const struct hdr_verdict *v, const char *receiver)
{
	struct field f;
	struct pair p[6];
	size_t n = 0;
	char *mbox;

	if ((mbox = mailbox(v)) == NULL)
		return NULL;
	if (field_init(&f, "Received-SPF", 2 * slen(receiver) + slen(v->ip) +
	    2 * strlen(mbox) + 2 * slen(v->helo) + sizeof(v->out.problem) +
	    sizeof(v->out.mechanism) + slen(v->note)) != 0) {
		free(mbox);
		return NULL;
	}
	field_word(&f, spf_result_name(v->out.result));
	received_comment(&f, v, receiver, mbox);
	p[n++] = (struct pair){ "receiver", receiver, BARE_DOT_ATOM };
	p[n++] = (struct pair){ "client-ip", v->ip ? v->ip : "",
	    BARE_DOT_ATOM };
	p[n++] = (struct pair){ "envelope-from", mbox, BARE_NEVER };
	if (v->helo != NULL && v->helo[0] != '\0')
		p[n++] = (struct pair){ "helo", v->helo, BARE_DOT_ATOM };
	if (v->out.problem[0] != '\0')
		p[n++] = (struct pair){ "problem", v->out.problem, BARE_NEVER };
	else if (v->out.mechanism[0] != '\0')
		p[n++] = (struct pair){ "mechanism", v->out.mechanism,
		    BARE_DOT_ATOM };
	p[n++] = (struct pair){ "identity", v->identity == SPF_ID_HELO ?
	    "helo" : "mailfrom", BARE_DOT_ATOM };
	field_pairs(&f, p, n);
	free(mbox);
	return field_done(&f);
}

/*
 * RFC 8601 2.7.2: smtp.mailfrom is the domain of the envelope sender
 * (for the null sender the HELO domain, as postmaster@HELO was checked),
 * smtp.helo the HELO name: what the Rust spf-milter, pyspf and OpenDMARC
 * write, and all OpenDMARC 1.4 aligns (with an '@' it never does).  The
 * results go in the order given, the final one last: SpamAssassin reads
 * the last "spf=" of a field.
 */
char *
hdr_auth_results(const struct hdr_verdict *v, int n, const char *authserv_id)
{
	struct field f;
	size_t total = slen(authserv_id);
	char *mbox[2] = { NULL, NULL };
	int i, ok = 1;

	if (n < 0 || n > 2)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((mbox[i] = mailbox(&v[i])) == NULL)
			ok = 0;
		total += slen(v[i].helo) + slen(mbox[i]) + slen(v[i].note);
	}
	if (!ok || field_init(&f, "Authentication-Results", total) != 0) {
		free(mbox[0]);
		free(mbox[1]);
		return NULL;
	}
	if (bare_ok(authserv_id, BARE_TOKEN))
		field_add(&f, authserv_id, strlen(authserv_id));
	else
		field_quoted(&f, authserv_id);
	field_add(&f, ";", 1);
	for (i = 0; i < n; i++) {
		const char *r = spf_result_name(v[i].out.result);
		const char *end = i + 1 < n ? ";" : "";

		field_sep(&f, 4 + strlen(r));
		field_add(&f, "spf=", 4);
		field_add(&f, r, strlen(r));
		/* RFC 8601 2.2: a comment may follow the result */
		if (has_note(&v[i]))
			field_note(&f, v[i].note, "(", ")");
		if (v[i].identity == SPF_ID_HELO)
			field_pair(&f, "smtp.helo", v[i].helo ? v[i].helo : "",
			    BARE_TOKEN, end);
		else
			field_pair(&f, "smtp.mailfrom",
			    mailbox_domain(mbox[i]), BARE_TOKEN, end);
	}
	free(mbox[0]);
	free(mbox[1]);
	return field_done(&f);
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

/* -------------------------------------------------------- SMTP replies */

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
