"""classes.py - the known classes of disagreement of the differential test.

Each class is one documented behaviour: of pyspf or Mail::SPF where it
departs from RFC 7208 (kind "theirs"), a point where the two references
disagree with each other and spf-milter sides with one (kind "theirs",
the other one), or a problem of spf-milter that another change removes
(kind "ours-pending"; none at present).  README has the table with the
reasons.

A disagreement is put in a class only when that class is shown to cause
it, in one of two ways:

  said      the reference's own message names the cause (Mail::SPF
            "Maximum ... MX", pyspf "invalid-macro-char", ...), checked
            together with our trace or the records;
  undone    the scenario is run again, by all implementations, with a
            zone from which just that one feature was taken away
            (transform); the disagreement must then be gone.

A disagreement no class explains is "unexplained": the run fails and
prints it.
"""

import re

# ---------------------------------------------------------------- zones


def zone_index(lines):
    """{name: [(type, data)]} of zone lines."""
    idx = {}
    for line in lines:
        f = line.split(None, 2)
        idx.setdefault(f[0].lower(), []).append(
            (f[1].upper(), f[2] if len(f) > 2 else ''))
    return idx


def chain_length(idx, name):
    n = 0
    seen = set()
    while name in idx and name not in seen:
        seen.add(name)
        cn = [d for t, d in idx[name] if t == 'CNAME']
        if not cn:
            break
        name = cn[0].lower()
        n += 1
    return n


QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unquote(s):
    return re.sub(r'\\x([0-9a-fA-F]{2})|\\(.)',
                  lambda m: chr(int(m.group(1), 16)) if m.group(1)
                  else m.group(2), s)


def map_records(lines, fn):
    """FN applied to the text of every SPF record (its strings joined);
    None when nothing changed."""
    out, changed = [], False
    for l in lines:
        f = l.split(None, 2)
        if f[1] == 'TXT':
            text = ''.join(unquote(q) for q in QUOTED.findall(f[2]))
            if text.lower().startswith('v=spf1'):
                new = fn(text)
                if new != text:
                    changed = True
                    l = '%s TXT "%s"' % (f[0], new.replace(
                        '\\', '\\\\').replace('"', '\\"'))
        out.append(l)
    return out if changed else None


def drop_servfail(lines):
    out = [l for l in lines if l.split()[1] != 'SERVFAIL']
    return out if len(out) != len(lines) else None


def shorten_cnames(lines, most=8):
    """CNAME chains longer than MOST hops made MOST hops long (the hop
    before the limit points to the end of the chain)."""
    idx = zone_index(lines)
    targets = {d.lower() for rr in idx.values() for t, d in rr
               if t == 'CNAME'}
    repl = {}
    for name in idx:
        if name in targets or chain_length(idx, name) <= most:
            continue
        hops = [name]
        while len(hops) <= chain_length(idx, name):
            hops.append([d for t, d in idx[hops[-1]] if t == 'CNAME'][0]
                        .lower())
        repl['%s CNAME %s' % (hops[most - 1], hops[most])] = \
            '%s CNAME %s' % (hops[most - 1], hops[-1])
    if not repl:
        return None
    return [repl.get(l, l) for l in lines]


def flatten_cnames(lines):
    """Every CNAME owner gets the records of the end of its chain itself
    (none when the chain leads nowhere)."""
    idx = zone_index(lines)
    if not any(t == 'CNAME' for rr in idx.values() for t, _ in rr):
        return None
    out = [l for l in lines if l.split()[1] != 'CNAME']
    for name in idx:
        if chain_length(idx, name) == 0:
            continue
        end = name
        for _ in range(chain_length(idx, name)):
            end = [d for t, d in idx[end] if t == 'CNAME'][0].lower()
        for t, d in idx.get(end, []):
            if t != 'CNAME':
                out.append('%s %s %s' % (name, t, d))
    return out


def fill_fanout(lines):
    """Every MX host and PTR name without an address (at the end of its
    CNAME chain, if any) gets one no client has (192.0.2.1,
    2001:db8:ffff::1); failing names stay as they are."""
    idx = zone_index(lines)
    names = set()
    for rr in idx.values():
        for t, d in rr:
            if t == 'MX':
                names.add(d.split()[1].lower())
            elif t == 'PTR':
                names.add(d.lower())
    out = list(lines)
    for n in sorted(names):
        if n == '.':
            continue
        for _ in range(chain_length(idx, n)):
            n = [d for t, d in idx[n] if t == 'CNAME'][0].lower()
        types = {t for t, _ in idx.get(n, [])}
        if 'SERVFAIL' in types or 'CNAME' in types:
            continue
        if 'A' not in types:
            out.append('%s A 192.0.2.1' % n)
        if 'AAAA' not in types:
            out.append('%s AAAA 2001:db8:ffff::1' % n)
    return out if out != list(lines) else None


MACRO = re.compile(r'%\{[^}]*\}')


def lowercase_macros(lines):
    """Macro letters and transformers of records in lower case."""
    return map_records(lines, lambda t: MACRO.sub(
        lambda m: m.group(0).lower(), t))


def drop_bare_delimiters(lines):
    """%{l-} and the like (delimiters, no number, no r) become %{l}."""
    return map_records(lines, lambda t: re.sub(
        r'%\{([a-zA-Z])[-.+,/_=]+\}', r'%{\1}', t))


def drop_delimiters(lines):
    """Every macro splits on "." alone: its delimiters go."""
    return map_records(lines, lambda t: re.sub(
        r'%\{([a-zA-Z][0-9]*[rR]?)[-.+,/_=]+\}', r'%{\1}', t))


def no_empty_labels(lines):
    """Names with an empty label in records ("a:.x", "x..y") mended."""
    return map_records(lines, lambda t: re.sub(r'\.\.+', '.', t.replace(
        ':.', ':')))


ZERO_PARTS = r'%\{([a-zA-Z])0+([rR]?[-.+,/_=]*)\}'


def one_part(lines):
    """A number of parts of zero (%{d0}, %{d00}) made 1."""
    return map_records(lines, lambda t: re.sub(ZERO_PARTS, r'%{\g<1>1\2}',
                                               t))


def drop_null_mx(lines):
    out = [l for l in lines if not (l.split()[1] == 'MX' and
                                    l.split()[-1] == '.')]
    return out if len(out) != len(lines) else None


def narrow_ip6(lines):
    """ip6:<net>/0../2 (which hold ::a.b.c.d) made 2001:db8::/3: the
    same for the IPv6 clients of the test, all in 2001:db8::/32."""
    return map_records(lines, lambda t: re.sub(
        r'ip6:[0-9a-fA-F:]+/[012](?= |$)', 'ip6:2001:db8::/3', t))


def short_names(queries):
    """A HELO name or local-part longer than 63 bytes made short."""
    out = []
    for ip, sender, helo in queries:
        local, _, dom = sender.rpartition('@')
        if len(local) > 63:
            local = 'long'
        if len(helo) > 63:
            helo = 'mail.' + dom
        out.append((ip, local + '@' + dom, helo))
    return out if out != list(queries) else None


def drop_exp(lines):
    return map_records(lines, lambda t: re.sub(r' exp=[^ ]*', '', t))


def macro_p_to_d(lines):
    out, changed = [], False
    for l in lines:
        new = re.sub(r'%\{([pP])', lambda m: '%{' + ('d' if m.group(1) == 'p'
                                                      else 'D'), l)
        changed |= new != l
        out.append(new)
    return out if changed else None


# -------------------------------------------------------------- classes


class Cls:
    def __init__(self, name, ref, kind, rfc, text, said=None,
                 pre=None, transform=None, qtransform=None):
        self.name, self.ref, self.kind = name, ref, kind
        self.rfc, self.text = rfc, text
        self.said, self.pre, self.transform = said, pre, transform
        self.qtransform = qtransform


def problem(row):
    m = re.search(r'problem="((?:[^"\\]|\\.)*)"',
                  row['trace'].replace('\n\t', ' '))
    return m.group(1).replace('\\"', '"') if m else ''


def why(row, ref):
    return row['pywhy' if ref == 'pyspf' else 'plwhy'] or ''


def has(row, word):
    return any(l.split()[1] == word for l in row['scn'].zone)


def long_chain(row):
    """A CNAME chain of 10 hops or more in the zone: longer than the test
    server puts in one answer (test/dnsserver.py MAX_CNAME)."""
    idx = zone_index(row['scn'].zone)
    return any(chain_length(idx, n) >= 10 for n in idx)


def ipv4_client(row):
    ip = row['q'][0]
    return ':' not in ip or ip.startswith('::ffff:')


def term_of_problem(row):
    m = re.search(r'bad (?:\S+ )?(?:mechanism|domain|modifier) "(.*)"$',
                  problem(row))
    return m.group(1) if m else ''


CLASSES = [
    # ------------------------------------------------------------ pyspf
    Cls('pyspf SERVFAIL as empty', 'pyspf', 'theirs', '4.4, 5',
        'pyspf over pydns reads a SERVFAIL answer as an empty one (no '
        'record, or a void lookup); the RFC makes it temperror',
        pre=lambda r: has(r, 'SERVFAIL'), transform=drop_servfail),
    Cls('pyspf voids of all hosts', 'pyspf', 'theirs', '4.6.4, 5.4, 5.5',
        'pyspf looks up the addresses of every MX host (by preference) '
        'and of every PTR name (in the target domain or not) before it '
        'matches, and counts each that finds nothing as a void lookup; '
        'spf-milter, like Mail::SPF, counts the lookups it looks at: MX '
        'hosts in answer order until one matches, PTR names in the '
        'target domain',
        pre=lambda r: has(r, 'MX') or has(r, 'PTR'),
        transform=fill_fanout),
    Cls('pyspf void per CNAME hop', 'pyspf', 'theirs', '4.6.4',
        'pyspf counts a lookup through a CNAME that finds nothing once '
        'for each name of the chain: one lookup, several void lookups',
        pre=lambda r: has(r, 'CNAME') and 'Void lookup limit' in
        why(r, 'pyspf'), transform=flatten_cnames),
    Cls('pyspf 4.8 one label', 'pyspf', 'theirs', '4.8',
        'pyspf drops one label of an expansion over 253 bytes, not as '
        'many as it takes; the name it then asks is no name (the test '
        'server answers SERVFAIL, which pyspf reads as empty)',
        pre=lambda r: len(r['q'][2]) > 63 or
        len(r['q'][1].rpartition('@')[0]) > 63,
        qtransform=short_names),
    Cls('pyspf original delimiter', 'pyspf', 'theirs', '7.3',
        'pyspf joins the parts of a split value with the delimiter that '
        'split them (except for %{l} and %{s}): %{v-} is "in-addr"; 7.3 '
        'rejoins them with "."',
        pre=lambda r: any(re.search(r'%\{[a-zA-Z][0-9]*[rR]?[-.+,/_=]+\}',
                                    l) for l in r['scn'].zone),
        transform=drop_delimiters),
    Cls('pyspf unclosed %{', 'pyspf', 'theirs', '6, 7.1',
        'pyspf takes "%{" without its "}" in the value of an unknown '
        'modifier; the value is a macro-string, and an unknown modifier '
        'must have valid syntax too (Mail::SPF: permerror as well)',
        said=lambda r: r['udp'] == 'permerror' and re.search(
            r'%\{[^}]*$', term_of_problem(r)) and 'modifier' in problem(r)),
    Cls('pyspf %{x0}', 'pyspf', 'theirs', '7.3',
        'pyspf takes a number of parts of zero (%{d0}, %{d00}) and '
        'expands it; it MUST be nonzero (Mail::SPF and spf-milter: '
        'permerror)',
        said=lambda r: r['udp'] == 'permerror' and re.search(
            ZERO_PARTS, term_of_problem(r)),
        pre=lambda r: any(re.search(ZERO_PARTS, l) for l in r['scn'].zone),
        transform=one_part),
    Cls('pyspf %% at the end', 'pyspf', 'theirs', '7.1',
        'pyspf rejects a domain-spec that ends in the macro-expand "%%" '
        '("invalid-macro-char"); domain-end may be a macro-expand',
        said=lambda r: 'invalid-macro-char' in why(r, 'pyspf') and any(
            re.search(r'(^|[^%])(%%)+["\s]', l) for l in r['scn'].zone
            if 'v=spf1' in l.lower())),
    Cls('pyspf self-include', 'pyspf', 'theirs', '4.6.4, 5.2',
        'pyspf makes include:<its own domain> a permerror while parsing '
        '("trivial recursion"), even where a term before it matches; '
        'the RFC has the limit of 10 stop a loop, where it is reached',
        said=lambda r: 'trivial recursion' in why(r, 'pyspf')),
    Cls('pyspf CNAME chain', 'pyspf', 'theirs', '-',
        'pyspf gives up on a CNAME chain of 10 hops (permerror); the '
        'RFC sets no such limit, the answer is there',
        said=lambda r: 'CNAME chain exceeds' in why(r, 'pyspf')),
    Cls('pyspf exp= early', 'pyspf', 'theirs', '6.2',
        'pyspf fetches and expands exp= while parsing, before the '
        'evaluation, and counts a missing exp= record as a void lookup; '
        'the explanation is looked up for a fail only, and cannot '
        'change the result',
        pre=lambda r: any(' exp=' in l for l in r['scn'].zone),
        transform=drop_exp),
    Cls('pyspf %{p} early', 'pyspf', 'theirs', '4.6, 7.3',
        'pyspf expands every domain-spec while parsing, so the lookups '
        'of %{p} happen (and count as void lookups) for terms never '
        'reached',
        pre=lambda r: any('%{p' in l.lower() for l in r['scn'].zone),
        transform=macro_p_to_d),

    # --------------------------------------------------------- Mail::SPF
    Cls('Mail::SPF chain cut short', 'mailspf', 'theirs', '4.4',
        'the test server puts at most 10 CNAME hops in one answer; where '
        'the chain goes on, Mail::SPF takes the answer as holding no '
        'record, while pyspf and spf-milter ask again at the last name '
        '(RFC 1034 5.3.3): a record that exists is "none" to Mail::SPF',
        pre=long_chain, transform=shorten_cnames),
    Cls('Mail::SPF >10 MX', 'mailspf', 'theirs', '4.6.4',
        'Mail::SPF uses the first 10 of more than 10 MX names (RFC 4408); '
        'RFC 7208 makes more than 10 a permerror',
        said=lambda r: 'more than 10 MX records' in problem(r)),
    Cls('Mail::SPF lazy macro check', 'mailspf', 'theirs', '4.6, 7.1',
        'Mail::SPF checks macro letters (c, r, t outside exp, unknown '
        'ones) and a number of parts of zero only when it expands them, '
        'so a term after the one that matches is never found wrong; a '
        'syntax error anywhere in the record is a permerror',
        said=lambda r: r['udp'] == 'permerror' and re.search(
            r'%\{(?:[^slodiphvSLODIPHV]|[a-zA-Z]0+[rR]?[-.+,/_=]*\})',
            term_of_problem(r))),
    Cls('Mail::SPF lower case', 'mailspf', 'theirs', '7.1, 7.3',
        'Mail::SPF lowercases every domain-spec while parsing: an upper-'
        'case macro letter is not URL-escaped, and an upper-case "R" '
        'transformer is a syntax error (ABNF is case-insensitive)',
        pre=lambda r: any(re.search(r'%\{[^}]*[A-Z]', l)
                          for l in r['scn'].zone if 'v=spf1' in l.lower()),
        transform=lowercase_macros),
    Cls('Mail::SPF delimiters alone', 'mailspf', 'theirs', '7.3',
        'Mail::SPF splits a macro value on its delimiters only when a '
        'number or "r" is given: %{l-} stays "strong-bad" instead of '
        '"strong.bad" (7.3 splits whenever delimiters are given; its '
        'own example %{l-} is "strong.bad")',
        pre=lambda r: any(re.search(r'%\{[a-zA-Z][-.+,/_=]+\}', l)
                          for l in r['scn'].zone if 'v=spf1' in l.lower()),
        transform=drop_bare_delimiters),
    Cls('Mail::SPF ip6 for IPv4', 'mailspf', 'theirs', '5.6',
        'Mail::SPF matches an IPv4 client with ip6:<net>/0 (NetAddr::IP '
        'holds IPv4 addresses as ::a.b.c.d); ip6 only matches IPv6 '
        'clients',
        pre=ipv4_client, transform=narrow_ip6),
    Cls('Mail::SPF dies in exp', 'mailspf', 'theirs', '6.2',
        'Mail::SPF dies when the void lookup limit is passed while it '
        'expands the explanation (%{p}); an explanation cannot change '
        'the result',
        pre=lambda r: any(' exp=' in l for l in r['scn'].zone),
        transform=drop_exp),
    Cls('Mail::SPF null MX', 'mailspf', 'theirs', '4.6.4, 5.4',
        'Mail::SPF looks up the address of the host "." of a null MX '
        '(RFC 7505) and counts the answer as a void lookup; pyspf and '
        'spf-milter see no host there',
        pre=lambda r: any(l.split()[1] == 'MX' and l.split()[-1] == '.'
                          for l in r['scn'].zone),
        transform=drop_null_mx),
    Cls('Mail::SPF void for no name', 'mailspf', 'theirs', '4.6.4',
        'a target whose expansion has a label over 63 bytes is no DNS '
        'name (RFC 1035 2.3.4): pyspf and spf-milter ask nothing, the '
        'term does not match and no lookup is counted; Mail::SPF counts '
        'a void lookup for it',
        pre=lambda r: 'Maximum void' in why(r, 'mailspf') and any(
            len(l) > 63 for part in (r['q'][1].rpartition('@')[0],
                                     r['q'][2]) for l in part.split('.')),
        qtransform=short_names),
    Cls('Mail::SPF dies on a name', 'mailspf', 'theirs', '4.8',
        'Net::DNS dies on a name with an empty label, and spfquery stops '
        '(mailspf.pl answers "crash"); such a name exists nowhere: the '
        'term does not match',
        said=lambda r: r['mailspf'] == 'crash' and 'empty label' in
        why(r, 'mailspf'),
        pre=lambda r: any(re.search(r':\.|\.\.', l) for l in r['scn'].zone
                          if 'v=spf1' in l.lower()),
        transform=no_empty_labels),
    Cls('Mail::SPF CNAME not void', 'mailspf', 'theirs', '4.6.4',
        'Mail::SPF does not count an answer that holds only a CNAME (no '
        'record of the type asked) as a void lookup; pyspf and '
        'spf-milter do: the answer gives nothing, and the limit is '
        'there for such lookups (11.1).  The references disagree; '
        'spf-milter sides with pyspf',
        pre=lambda r: has(r, 'CNAME'), transform=flatten_cnames),
]

BY_NAME = {c.name: c for c in CLASSES}


class Unexplained:
    def __init__(self, name):
        self.name, self.kind, self.ref = name, 'unexplained', None
        self.rfc, self.text = '', ''


def unexplained(name):
    if name not in BY_NAME:
        BY_NAME[name] = Unexplained(name)
    return BY_NAME[name]


def combined(cs):
    name = ' + '.join(c.name for c in cs)
    if name not in BY_NAME:
        kind = 'ours-pending' if any(c.kind == 'ours-pending' for c in cs) \
            else 'theirs'
        refs = {c.ref for c in cs} - {None}
        c = Cls(name, refs.pop() if len(refs) == 1 else None, kind,
                ', '.join(c.rfc for c in cs), 'each of: ' + '; '.join(
                    c.name for c in cs))
        BY_NAME[name] = c
    return BY_NAME[name]


def disagreements(row):
    """(ref, description) of each disagreement of ROW."""
    out = []
    if row['udp'] != row['tcp']:
        out.append(('tcp', 'udp %s, tcp %s' % (row['udp'], row['tcp'])))
    for ref in ('pyspf', 'mailspf'):
        if row['udp'] != row[ref]:
            out.append((ref, '%s: ours %s, theirs %s' % (
                ref, row['udp'], row[ref])))
    return out


def candidates(row, ref):
    """Classes that may explain a disagreement of ROW with REF, in
    order: those the reference's message settles come first."""
    said, undo = [], []
    for c in CLASSES:
        if c.ref not in (None, ref):
            continue
        if c.said is not None and c.said(row):
            said.append(c)
        elif (c.transform is not None or c.qtransform is not None) and \
                (c.pre is None or c.pre(row)):
            undo.append(c)
    return said, undo
