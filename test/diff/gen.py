#!/usr/bin/python3
"""gen.py - random and adversarial SPF record sets for the differential
test (test/diff/difftest.py).

A scenario is a little world of its own: a root domain sN.dt.test, the
zone data under it (records, include trees, MX and PTR fan-out, CNAME
chains, names that fail), and a few questions (client address, sender,
HELO) to ask about it.  Every name of scenario N lies under sN.dt.test
or sN.other.test, and its client addresses are its own (10.x.y.0/24,
2001:db8:x:y::/64), so many scenarios share one DNS server without
seeing each other.  Everything is drawn from random.Random(seed): the
same seed gives the same scenarios.

What it draws from, roughly in proportion:
  terms       ip4/ip6 with and without prefix lengths, a, mx, ptr, exists,
              include, all, redirect=, exp=, unknown modifiers, qualifiers
  fan-out     MX answers of 0 to 12 hosts, hosts with 0-3 addresses, no
              address (void), a CNAME, a server failure; PTR answers of
              0 to 12 names, in the domain or not
  limits      9, 10, 11 DNS terms; 1, 2, 3 void lookups; 10 and 11 MX;
              include depth to 4; include loops
  macros      %{s l o d i p v h} with digits (leading zeros), r,
              delimiters, upper case (URL escape), %% %_ %-; long local
              parts and HELO names that make 4.8 drop labels
  CNAMEs      chains of 1 to 12 hops before the address or record
  syntax      a list of edge cases (domain-end, cidr, modifiers, macros)
  clients     IPv4, IPv6, IPv4-mapped IPv6

Usage: gen.py SEED COUNT   prints the scenarios (zone lines, questions).
"""

import random
import sys

# Terms that are syntax edge cases (RFC 7208 4.6.1, 5, 6, 7.1); {d} is
# the scenario's domain, {n} a name under it.
SYNTAX_EDGES = [
    'a:{n}}}', 'a:x.%%.', 'a:x.%%', 'a:%%.{n}', 'exists:%{{d01}}.x.{d}',
    'exists:%{{d0}}.x.{d}', 'exists:%{{d00}}.x.{d}', 'a:%{{d}}.',
    'a:x.%{{d}}com', 'a:%{{d}}.%_', 'ip4:10.0.0.1/33', 'ip4:010.0.0.1',
    'ip4:10.0.0.1/024', 'ip4:10.0.0', 'ip6:::1/129', 'ip6:1.2.3.4',
    'a//129', 'a/33', 'a/', 'a//', 'mx:', 'include:', 'exists', 'all:x',
    'all/24', '-foo=bar', 'foo=%{{', 'exp=', 'redirect=', 'a:foo',
    'a:%{{x}}.{d}', 'a:{d}:80', 'a:example.123', 'a:{n}.', 'mx:{n}/24//64',
    'ptr:%{{l}}', 'a:_sub.{d}', 'exists:%{{l}}', 'a:%-.{d}',
    'exists:%{{ir}}.%{{v}}._spf.{d}', 'ip4:10.0.0.0/8/24', 'a:{n}/24//',
    'exists:%{{D2R}}.{d}', 'exists:%{{d2.-+,/_=}}.{d}', 'a:-x.{d}',
    'a:x-.{d}', 'a:x.-{d}', 'exists:%{{c}}.{d}', 'exists:%{{r}}.{d}',
    'exists:%{{t}}.{d}', 'exists:%{{dR}}.{d}', 'x-mod=%{{l}}', '1mod=x',
    'mod.x_y-z=%{{d}}', 'redirect={n} redirect={n}', 'exp={n} exp={n}',
    'a:{n}/0', 'a:{n}//0', 'ip4:0.0.0.0/0', 'ip6:::/0', '?all', '~all',
    'exists:%{{l1r+-}}.{d}', 'exists:%{{s}}.{d}', 'exists:%{{o2}}.{d}',
    'a:%{{h}}', 'exists:%{{p}}.{d}', 'exists:%{{p1}}.{d}', 'ptr:{d}.',
    'include:{d}', 'a:{n}..', 'a:.{n}', 'mx:%{{d}}%%', 'a:x.%{{d}}%_',
]


class Scenario:
    def __init__(self, seed, idx, rnd):
        self.idx = idx
        self.rnd = rnd
        self.dom = 's%d.dt.test' % idx
        self.other = 's%d.other.test' % idx
        hi, lo = (idx >> 8) & 255, idx & 255
        self.v4 = '10.%d.%d.' % (hi, lo)
        self.v6 = '2001:db8:%x:%x::' % (hi, lo)
        self.zone = []
        self.queries = []
        self.tags = set()
        self.counter = 0
        self.clients = []       # addresses some mechanism may match
        self.named = set()      # names given records of their own
        self.sender_local = 'user'
        self.helo = 'mail.' + self.dom

    # ----------------------------------------------------------- names
    def name(self, under=None):
        self.counter += 1
        return 'n%d.%s' % (self.counter, under or self.dom)

    def add(self, name, rtype, data):
        self.zone.append('%s %s %s' % (name, rtype, data))

    def txt(self, name, text, split=False):
        """A TXT record; SPLIT cuts it into several character-strings."""
        b = text.encode('latin-1')
        if split and len(b) > 4:
            cut = self.rnd.randrange(1, len(b))
            parts = [b[:cut], b[cut:]]
        else:
            parts = [b]
        self.add(name, 'TXT', ' '.join('"%s"' % quote(p) for p in parts))

    # ------------------------------------------------------- addresses
    def addr4(self):
        a = self.v4 + str(self.rnd.randrange(1, 251))
        return a

    def addr6(self):
        return self.v6 + '%x' % self.rnd.randrange(1, 0xfffe)

    def addresses(self, name, n4=None, n6=None):
        """Give NAME some A and AAAA records; return them."""
        r = self.rnd
        n4 = r.choice([0, 1, 1, 1, 2, 3]) if n4 is None else n4
        n6 = r.choice([0, 0, 1, 1, 2]) if n6 is None else n6
        out = []
        for _ in range(n4):
            a = self.addr4()
            self.add(name, 'A', a)
            out.append(a)
        for _ in range(n6):
            a = self.addr6()
            self.add(name, 'AAAA', a)
            out.append(a)
        self.clients.extend(out)
        return out

    # ------------------------------------------------------ host names
    def host(self, kind='host'):
        """A name for an a/mx target or an MX host: with addresses, none
        (a void lookup), a CNAME chain, or a server failure."""
        r = self.rnd
        n = self.name()
        c = r.random()
        if c < 0.62:
            self.addresses(n)
        elif c < 0.78:
            self.tags.add('void')           # no record at all
        elif c < 0.84:
            self.add(n, 'TXT', '"not an address"')
            self.tags.add('void')           # name exists, no address
        elif c < 0.95:
            self.cname_chain(n, lambda t: self.addresses(t))
        else:
            self.add(n, 'SERVFAIL', '')
            self.tags.add('servfail')
        return n

    def cname_chain(self, first, finish):
        r = self.rnd
        # at most 10: test/dnsserver.py follows no more in one answer
        hops = r.choice([1, 1, 2, 3, 5, 8, 9, 10])
        self.tags.add('cname')
        if hops > 8:
            self.tags.add('cname-long')
        cur = first
        for _ in range(hops):
            nxt = self.name()
            self.add(cur, 'CNAME', nxt)
            cur = nxt
        if r.random() < 0.85:
            finish(cur)
        else:
            self.tags.add('cname-dangling')

    # ------------------------------------------------------------ terms
    def qual(self):
        return self.rnd.choice(['', '', '', '', '+', '-', '~', '?'])

    def cidr(self, v4=True, v6=True):
        r = self.rnd
        c = r.random()
        s = ''
        if v4 and c < 0.25:
            s += '/%d' % r.choice([0, 8, 16, 24, 24, 28, 30, 31, 32])
        if v6 and r.random() < 0.2:
            s += '//%d' % r.choice([0, 32, 48, 64, 64, 96, 127, 128])
        if s:
            self.tags.add('cidr')
        return s

    def term(self, domain, depth, budget):
        """One mechanism for the record of DOMAIN (budget: DNS terms
        left, a list so callees can spend it)."""
        r = self.rnd
        kinds = ['ip4', 'ip6', 'a', 'mx', 'ptr', 'exists', 'include',
                 'syntax', 'macro']
        weights = [14, 6, 16, 16, 5, 8, 10 if depth < 4 else 0, 4, 6]
        if budget[0] <= 0 and r.random() < 0.85:
            weights = [14, 6, 0, 0, 0, 0, 0, 2, 0]  # stay inside the 10
        k = r.choices(kinds, weights)[0]
        q = self.qual()
        if k == 'ip4':
            base = self.addr4()
            self.clients.append(base)
            return q + 'ip4:' + base + self.cidr(True, False)
        if k == 'ip6':
            base = self.addr6()
            self.clients.append(base)
            c = r.choice(['', '', '/64', '/112', '/128', '/0', '/48'])
            return q + 'ip6:' + base + c
        budget[0] -= 1
        if k == 'a':
            if r.random() < 0.2:
                self.addresses(domain) if domain not in self.named else None
                self.named.add(domain)
                return q + 'a' + self.cidr()
            return q + 'a:' + self.host() + self.cidr()
        if k == 'mx':
            t = domain if r.random() < 0.2 and domain not in self.named \
                else self.name()
            self.named.add(t)
            self.mx(t)
            return q + ('mx' if t == domain else 'mx:' + t) + self.cidr()
        if k == 'ptr':
            self.tags.add('ptr')
            c = r.random()
            if c < 0.4:
                return q + 'ptr'
            if c < 0.8:
                return q + 'ptr:' + self.dom
            return q + 'ptr:' + self.other
        if k == 'exists':
            return q + 'exists:' + self.macro_spec(exists=True)
        if k == 'include':
            t = self.name()
            self.include_target(t, depth + 1, budget)
            return q + 'include:' + t
        if k == 'macro':
            m = r.choice(['a', 'mx', 'exists', 'ptr'])
            return q + m + ':' + self.macro_spec(exists=(m == 'exists'))
        self.tags.add('syntax')
        return r.choice(SYNTAX_EDGES).format(d=self.dom, n=self.name())

    def mx(self, name):
        r = self.rnd
        n = r.choice([0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 9, 10, 10, 11, 12])
        if n == 0:
            self.tags.add('void')
            if r.random() < 0.5:
                self.add(name, 'A', self.addr4())   # exists, no MX
            return
        if n >= 10:
            self.tags.add('mx-%d' % n)
        prefs = list(range(0, 10 * n, 10))
        if r.random() < 0.3:
            r.shuffle(prefs)
            self.tags.add('mx-unordered')
        if r.random() < 0.1:
            prefs = [10] * n
        for p in prefs:
            if r.random() < 0.03:
                self.add(name, 'MX', '%d .' % p)
                self.tags.add('null-mx')
                continue
            self.add(name, 'MX', '%d %s' % (p, self.host()))
        self.tags.add('mx-fanout' if n > 3 else 'mx')

    def include_target(self, t, depth, budget):
        r = self.rnd
        c = r.random()
        if c < 0.75:
            self.record(t, depth, budget)
        elif c < 0.83:
            self.tags.add('include-none')
            if r.random() < 0.5:
                self.add(t, 'A', self.addr4())
        elif c < 0.9:
            self.cname_chain(t, lambda n: self.record(n, depth, budget))
        elif c < 0.95:
            self.add(t, 'SERVFAIL', '')
            self.tags.add('servfail')
        else:
            self.tags.add('include-loop')
            self.txt(t, 'v=spf1 include:%s -all' % (
                t if r.random() < 0.5 else self.dom))

    # ----------------------------------------------------------- macros
    def macro_spec(self, exists=False):
        """A domain-spec with macros; sometimes plants a record for what
        it expands to for a likely client (done at question time)."""
        r = self.rnd
        self.tags.add('macro')
        pieces = []
        for _ in range(r.choice([1, 1, 2, 3])):
            letter = r.choice('slodiivhp' if r.random() < 0.1 else
                              'slodiivh')
            if letter == 'p':
                self.tags.add('macro-p')
            if r.random() < 0.15:
                letter = letter.upper()
                self.tags.add('macro-escape')
            digits = ''
            if r.random() < 0.35:
                digits = str(r.choice([1, 2, 3, 4, 9, 20, 200]))
                if r.random() < 0.15:
                    digits = '0' + digits
                    self.tags.add('macro-leading-zero')
            rev = 'r' if r.random() < 0.3 else ''
            delims = ''
            if r.random() < 0.3:
                delims = ''.join(r.sample('.-+,/_=', r.choice([1, 1, 2, 7])))
            pieces.append('%%{%s%s%s%s}' % (letter, digits, rev, delims))
        mid = r.choice(['', '_spf.', 'x.', '%{v}.', '%%.', '%-.'])
        spec = '.'.join(pieces) + '.' + mid + self.dom
        if exists:
            self.exists_specs.append(spec)
        return spec

    # ----------------------------------------------------------- record
    def record(self, domain, depth, budget):
        r = self.rnd
        self.named.add(domain)
        n = r.choice([0, 1, 2, 3, 3, 4, 5, 6, 8, 10, 12] if depth == 0
                     else [0, 1, 1, 2, 2, 3, 4, 6])
        terms = []
        for _ in range(n):
            terms.append(self.term(domain, depth, budget))
        c = r.random()
        if c < 0.15 and depth < 4:
            t = self.name()
            budget[0] -= 1
            self.include_target(t, depth + 1, budget)
            terms.append('redirect=' + t)
            self.tags.add('redirect')
        elif c < 0.9:
            terms.append(r.choice(['-all', '-all', '~all', '?all', '+all',
                                   'all']))
        if r.random() < 0.25:
            e = self.name()
            terms.insert(r.randrange(len(terms) + 1), 'exp=' + e)
            self.exp_text(e)
        if r.random() < 0.08:
            terms.insert(r.randrange(len(terms) + 1),
                         r.choice(['foo=bar', 'x.y=%{d}', 'moo=%{i}.x']))
        sep = ' '
        if r.random() < 0.05:
            sep = '  '
            self.tags.add('spaces')
        v = 'v=spf1'
        if r.random() < 0.03:
            v = 'V=SPF1'
        text = v + (sep + sep.join(terms) if terms else '')
        if r.random() < 0.04:
            text += ' '
        self.txt(domain, text, split=r.random() < 0.1)
        if r.random() < 0.1:
            self.txt(domain, r.choice(['google-site-verification=x',
                                       'v=spf10 -all', 'spf1 +all']))
        if r.random() < 0.02:
            self.txt(domain, 'v=spf1 +all')
            self.tags.add('two-records')

    def exp_text(self, name):
        r = self.rnd
        self.tags.add('exp')
        c = r.random()
        if c < 0.08:
            self.tags.add('exp-broken')
            self.txt(name, r.choice(['bad %{x} macro', '%', '%{d']))
            return
        if c < 0.12:
            return                       # no record: default explanation
        text = r.choice([
            '%{i} is not one of %{d}\'s designated mail servers.',
            'See http://%{d}/why.html?s=%{S}&i=%{I}',
            'Not allowed: %{l} at %{o} via %{h}%_(%{v})',
            'plain text', '%{d2r}%%%-%_%{ir}', '%{p} says no'])
        if 'p}' in text:
            self.tags.add('macro-p')
        self.txt(name, text)

    # -------------------------------------------------------- questions
    def ptr_records(self, ip):
        r = self.rnd
        n = r.choice([0, 0, 1, 1, 2, 3, 10, 11, 12])
        if n == 0:
            return
        if n >= 10:
            self.tags.add('ptr-%d' % n)
        rev = reverse(ip)
        for i in range(n):
            under = self.dom if r.random() < 0.6 else self.other
            h = self.name(under)
            self.add(rev, 'PTR', h)
            c = r.random()
            if c < 0.6:
                self.add(h, 'AAAA' if ':' in ip else 'A', ip)
            elif c < 0.8:
                self.addresses(h, 1, 0)
            else:
                self.tags.add('void')

    def local_part(self):
        r = self.rnd
        c = r.random()
        if c < 0.6:
            return r.choice(['user', 'strong-bad', 'a.b', 'first.last',
                             'x+tag', 'a_b=c', 'UPPER.case', 'o\'hara'])
        if c < 0.85:
            parts = [''.join(r.choice('abcdefghij') for _ in
                             range(r.randrange(1, 12)))
                     for _ in range(r.randrange(2, 30))]
            return ''.join(p + r.choice('.-+') for p in parts)[:-1]
        self.tags.add('long-local')
        n = r.choice([64, 120, 250, 300, 400])
        parts = []
        while sum(len(p) + 1 for p in parts) < n:
            parts.append(''.join(r.choice('klmnop') for _ in
                                 range(r.randrange(1, 63))))
        return '.'.join(parts)

    def helo_name(self):
        r = self.rnd
        c = r.random()
        if c < 0.85:
            return 'mail.' + self.dom
        if c < 0.95:
            self.tags.add('long-helo')
            labels = ['h%d' % i + 'x' * r.randrange(0, 50)
                      for i in range(r.randrange(4, 12))]
            return '.'.join(labels) + '.' + self.dom
        return r.choice(['[192.0.2.1]', 'nodot', 'mail.' + self.other])

    def finish(self, nq):
        """Questions: clients the records name (so mechanisms match), a
        random one, IPv6, IPv4-mapped."""
        r = self.rnd
        cands = list(dict.fromkeys(self.clients)) or [self.addr4()]
        for i in range(nq):
            c = r.random()
            if c < 0.6:
                ip = r.choice(cands)
            elif c < 0.75:
                ip = self.addr4()
            elif c < 0.88:
                ip = self.addr6()
                self.tags.add('ipv6')
            else:
                v4 = [a for a in cands if ':' not in a] or [self.addr4()]
                ip = '::ffff:' + r.choice(v4)
                self.tags.add('mapped')
            local = self.local_part()
            sender = local + '@' + self.dom
            helo = self.helo_name()
            self.queries.append((ip, sender, helo))
        # PTR records and planted exists targets, for the clients asked
        for ip, sender, helo in self.queries:
            plain = ip[7:] if ip.startswith('::ffff:') else ip
            if reverse(plain) not in self.ptr_done:
                self.ptr_done.add(reverse(plain))
                self.ptr_records(plain)
            for spec in self.exists_specs:
                if r.random() < 0.5:
                    name = expand_for_plant(spec, plain, sender, helo,
                                            self.dom)
                    if name:
                        self.add(name, 'A', '127.0.0.2')


def quote(b):
    out = []
    for c in b:
        if c in (0x22, 0x5c):
            out.append('\\' + chr(c))
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append('\\x%02x' % c)
    return ''.join(out)


def reverse(ip):
    import ipaddress
    return ipaddress.ip_address(ip).reverse_pointer


def expand_for_plant(spec, ip, sender, helo, dom):
    """What SPEC expands to (RFC 7208 7.3, 4.8) for a likely client, so
    that the generator can plant a record there.  Only for planting: the
    implementations decide the verdict.  None when it uses %{p} or a
    letter this does not know."""
    import ipaddress
    import re
    import urllib.parse
    local, _, odom = sender.rpartition('@')
    a = ipaddress.ip_address(ip)
    if a.version == 4:
        i, v = str(a), 'in-addr'
    else:
        i, v = '.'.join(a.exploded.replace(':', '')), 'ip6'
    vals = {'s': sender, 'l': local, 'o': odom, 'd': dom, 'i': i, 'v': v,
            'h': helo}
    out, pos = '', 0
    for m in re.finditer(r'%(%|_|-|\{([a-zA-Z])(\d*)(r?)([.\-+,/_=]*)\})',
                         spec):
        out += spec[pos:m.start()]
        pos = m.end()
        if m.group(1) in ('%', '_', '-'):
            out += {'%': '%', '_': ' ', '-': '%20'}[m.group(1)]
            continue
        letter, digits, rev, delims = m.group(2, 3, 4, 5)
        if letter.lower() not in vals or (digits and int(digits) == 0):
            return None
        parts = re.split('[%s]' % re.escape(delims or '.'),
                         vals[letter.lower()])
        if rev:
            parts.reverse()
        if digits:
            parts = parts[-int(digits):]
        val = '.'.join(parts)
        if letter.isupper():
            val = urllib.parse.quote(val, safe='-._~')
        out += val
    out += spec[pos:]
    out = out.rstrip('.') if out.endswith('.') else out
    while len(out) > 253 and '.' in out:
        out = out.split('.', 1)[1]
    labels = out.split('.')
    if len(out) > 253 or any(not 0 < len(x) < 64 for x in labels) or \
            any(c in out for c in ' \t"\\'):
        return None
    return out


def scenario(seed, idx):
    rnd = random.Random('%s/%d' % (seed, idx))
    s = Scenario(seed, idx, rnd)
    s.exists_specs = []
    s.ptr_done = set()
    budget = [10]
    s.record(s.dom, 0, budget)
    if budget[0] < 0:
        s.tags.add('over-limit')
    elif budget[0] <= 1:
        s.tags.add('near-limit')
    s.finish(rnd.choice([2, 3, 4]))
    return s


def main():
    seed, count = sys.argv[1], int(sys.argv[2])
    for i in range(count):
        s = scenario(seed, i)
        print('# scenario %d: %s' % (i, ' '.join(sorted(s.tags))))
        for line in s.zone:
            print(line)
        for q in s.queries:
            print('# ? %s %s %s' % q)


if __name__ == '__main__':
    main()
