#!/usr/bin/python3
"""dnsserver.py - a DNS server for the tests, on loopback, over UDP and TCP.

It serves either one scenario of the RFC 7208 test suite, read straight
from its YAML file (--suite FILE --scenario N), or a zone file of our own
(--zone FILE).  It picks a free port (or takes --port) and writes
"PORT PID" to --portfile once both sockets listen, so a test can find it
and stop it by its PID.

  --truncate N   a UDP answer longer than N bytes goes out with TC set and
                 without records, so the client must ask again over TCP
  --delay MS     every answer waits MS milliseconds (each on its own timer,
                 so questions asked together are answered together)
  --log FILE     one line per question: time, name, type, udp|tcp

Zone file: one record per line, `NAME TYPE DATA`, `#` starts a comment.
  TXT   one or more "quoted" character-strings (\\" \\\\ \\xNN escapes),
        all of them one record
  A, AAAA, PTR, CNAME   the address or name;  MX   PREF NAME
  TIMEOUT   questions of a type NAME has no records of are never answered
  SERVFAIL, REFUSED   every question for NAME gets that rcode
  GARBLE    every answer for NAME is a malformed packet
A line `$TTL N` gives the records after it TTL N (default 3600).
Negative answers carry an SOA (TTL 3600, MINIMUM 300).

Suite zonedata (read the YAML header): SPF entries are served as type 99,
and, as the suite's own drivers do, copied to TXT when the name has no TXT
entry at all (TXT: NONE means "no TXT, copy nothing").  A name marked
TIMEOUT answers no question of a type it has no records of.  Strings are
served byte for byte: each YAML character is one byte (the suite writes
bytes as \\xNN).
"""

import argparse
import gzip
import os
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

import yaml
from dnslib import (AAAA, CNAME, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, A,
                    DNSRecord)

T_SPF = 99
TTL = 3600
MAX_CNAME = 10


def to_bytes(s):
    """YAML text to the bytes it stands for (one byte per character)."""
    if isinstance(s, bytes):
        return s
    s = str(s)
    try:
        return s.encode('latin-1')
    except UnicodeEncodeError:
        return s.encode('utf-8')


def txt_rdata(strings):
    """A TXT rdata from a list of strings: pieces over 255 bytes are cut
    in 255-byte character-strings, which SPF joins back (RFC 7208 3.3)."""
    parts = []
    for s in strings:
        b = to_bytes(s)
        if len(b) == 0:
            parts.append(b'')
        while b:
            parts.append(b[:255])
            b = b[255:]
    # no strings at all: one empty string, the least a TXT record holds
    return TXT(parts or [b''])


def norm(name):
    """A name as a tuple of lower-case label bytes: zone names come as YAML
    or zone-file text, question names as dnslib labels (whose str() would
    escape spaces and the like)."""
    if hasattr(name, 'label'):
        labels = name.label
    else:
        labels = [to_bytes(x) for x in str(name).rstrip('.').split('.')]
    return tuple(bytes(x).lower() for x in labels if x)


class Zone:
    """Records by lower-case name: {name: {'rrs': [(type, rdata)],
    'flags': set()}}."""

    def __init__(self):
        self.names = {}

    def entry(self, name):
        return self.names.setdefault(norm(name), {'rrs': [], 'flags': set()})

    def add(self, name, rtype, rdata, ttl=TTL):
        self.entry(name)['rrs'].append((rtype, rdata, ttl))

    def flag(self, name, flag):
        self.entry(name)['flags'].add(flag)

    def exists(self, name):
        """A name with records, or an empty non-terminal above one."""
        if name in self.names:
            return True
        k = len(name)
        return any(len(n) > k and n[-k:] == name for n in self.names)


def rdata_for(rtype, value):
    if rtype == 'A':
        return QTYPE.A, A(str(value))
    if rtype == 'AAAA':
        return QTYPE.AAAA, AAAA(str(value))
    if rtype == 'PTR':
        return QTYPE.PTR, PTR(str(value))
    if rtype == 'CNAME':
        return QTYPE.CNAME, CNAME(str(value))
    if rtype == 'MX':
        return QTYPE.MX, MX(str(value[1]), int(value[0]))
    raise ValueError('unknown record type %r' % rtype)


def load_suite(path, index):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', encoding='utf-8') as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    zone = Zone()
    for name, entries in (docs[index].get('zonedata') or {}).items():
        zone.entry(name)
        spf, has_txt = [], False
        for e in entries or []:
            if e == 'TIMEOUT':
                zone.flag(name, 'TIMEOUT')
                continue
            for rtype, value in e.items():
                if rtype in ('TXT', 'SPF'):
                    if rtype == 'TXT':
                        has_txt = True
                    if value == 'NONE':
                        continue
                    strings = value if isinstance(value, list) else [value]
                    rd = txt_rdata(strings)
                    if rtype == 'TXT':
                        zone.add(name, QTYPE.TXT, rd)
                    else:
                        zone.add(name, T_SPF, rd)
                        spf.append(rd)
                elif isinstance(value, list) and rtype != 'MX':
                    for v in value:
                        zone.add(name, *rdata_for(rtype, v))
                else:
                    zone.add(name, *rdata_for(rtype, value))
        if not has_txt:
            for rd in spf:
                zone.add(name, QTYPE.TXT, rd)
    return zone


QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            if s[i + 1] == 'x' and i + 3 < len(s):
                out.append(int(s[i + 2:i + 4], 16))
                i += 4
                continue
            out.extend(s[i + 1].encode('latin-1'))
            i += 2
            continue
        out.extend(c.encode('latin-1'))
        i += 1
    return bytes(out)


def load_zone(path):
    zone = Zone()
    ttl = TTL
    with open(path, encoding='latin-1') as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            if line.startswith('$TTL'):
                ttl = int(line.split()[1])
                continue
            fields = line.split(None, 2)
            name, rtype = fields[0], fields[1].upper()
            rest = fields[2] if len(fields) > 2 else ''
            if rtype in ('TIMEOUT', 'SERVFAIL', 'REFUSED', 'GARBLE'):
                zone.flag(name, rtype)
            elif rtype == 'TXT':
                zone.add(name, QTYPE.TXT,
                         txt_rdata([unescape(m) for m in QUOTED.findall(rest)]),
                         ttl)
            elif rtype == 'MX':
                pref, host = rest.split()
                zone.add(name, *rdata_for('MX', [int(pref), host]), ttl)
            elif rtype in ('A', 'AAAA', 'PTR', 'CNAME'):
                zone.add(name, *rdata_for(rtype, rest.strip()), ttl)
            else:
                sys.exit('%s:%d: unknown type %s' % (path, lineno, rtype))
    return zone


class Server:
    def __init__(self, zone, truncate, delay, log):
        self.zone, self.truncate, self.delay = zone, truncate, delay
        self.logf = open(log, 'a') if log else None
        self.lock = threading.Lock()

    def log(self, q, proto):
        if self.logf:
            with self.lock:
                self.logf.write('%.6f %s %s %s\n' % (
                    time.time(), str(q.qname).rstrip('.'),
                    QTYPE.get(q.qtype), proto))
                self.logf.flush()

    def answer(self, data, proto):
        """The reply bytes for query DATA, or None for no reply."""
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        if not req.questions:
            return None
        q = req.questions[0]
        self.log(q, proto)
        name = norm(q.qname)
        ent = self.zone.names.get(name)
        flags = ent['flags'] if ent else set()
        rep = req.reply()
        rep.header.ra = 1
        if 'SERVFAIL' in flags:
            rep.header.rcode = RCODE.SERVFAIL
            return rep.pack()
        if 'REFUSED' in flags:
            rep.header.rcode = RCODE.REFUSED
            return rep.pack()
        if 'GARBLE' in flags:
            pkt = bytearray(rep.pack())
            pkt[7] = 1          # claims an answer record that is not there
            return bytes(pkt) + b'\xc0'
        if not self.zone.exists(name):
            rep.header.rcode = RCODE.NXDOMAIN
            self.add_soa(rep, name)
            return rep.pack()
        cur, owner = name, q.qname
        for _ in range(MAX_CNAME):
            e = self.zone.names.get(cur) or {'rrs': [], 'flags': set()}
            found = [(rd, ttl) for t, rd, ttl in e['rrs'] if t == q.qtype]
            if found:
                for rd, ttl in found:
                    rep.add_answer(RR(owner, q.qtype, rdata=rd, ttl=ttl))
                return rep.pack()
            cn = [rd for t, rd, _ in e['rrs'] if t == QTYPE.CNAME]
            if cn and q.qtype != QTYPE.CNAME:
                rep.add_answer(RR(owner, QTYPE.CNAME, rdata=cn[0], ttl=TTL))
                owner = cn[0].label
                cur = norm(owner)
                continue
            if 'TIMEOUT' in e['flags']:
                return None
            break
        if not rep.rr:
            self.add_soa(rep, name)
        return rep.pack()

    def add_soa(self, rep, name):
        apex = b'.'.join(name[-2:]).decode('latin-1')
        rep.add_auth(RR(apex, QTYPE.SOA, ttl=TTL, rdata=SOA(
            'ns.' + apex, 'hostmaster.' + apex,
            (1, 3600, 600, 86400, 300))))

    def udp_reply(self, pkt, req):
        """Truncate a UDP answer that is too long: TC, no records."""
        if self.truncate and len(pkt) > self.truncate:
            try:
                r = DNSRecord.parse(pkt)
                t = DNSRecord(r.header, questions=r.questions)
                t.header.tc = 1
                return t.pack()
            except Exception:
                return pkt[:self.truncate]
        return pkt

    def later(self, fn):
        if self.delay:
            t = threading.Timer(self.delay / 1000.0, fn)
            t.daemon = True
            t.start()
        else:
            fn()


def serve_udp(srv, sock):
    while True:
        try:
            data, addr = sock.recvfrom(65535)
        except OSError:
            continue
        pkt = srv.answer(data, 'udp')
        if pkt is None:
            continue
        pkt = srv.udp_reply(pkt, data)
        srv.later(lambda p=pkt, a=addr: sock.sendto(p, a))


def make_tcp_handler(srv):
    class Handler(socketserver.BaseRequestHandler):
        def recv_exact(self, n):
            buf = b''
            while len(buf) < n:
                try:
                    chunk = self.request.recv(n - len(buf))
                except OSError:
                    # the client went away (a deadline passed): fine
                    return None
                if not chunk:
                    return None
                buf += chunk
            return buf

        def handle(self):
            while True:
                head = self.recv_exact(2)
                if head is None:
                    return
                data = self.recv_exact(struct.unpack('!H', head)[0])
                if data is None:
                    return
                pkt = srv.answer(data, 'tcp')
                if pkt is None:
                    continue

                def send(p=pkt):
                    try:
                        self.request.sendall(struct.pack('!H', len(p)) + p)
                    except OSError:
                        pass
                # one thread per connection: sleeping delays only this one
                if srv.delay:
                    time.sleep(srv.delay / 1000.0)
                send()
    return Handler


class TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TCP6Server(TCPServer):
    address_family = socket.AF_INET6


def bind(address, port):
    """UDP and TCP sockets on the same port of loopback ADDRESS."""
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    server = TCP6Server if family == socket.AF_INET6 else TCPServer
    for _ in range(50):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((address, port))
        p = udp.getsockname()[1]
        try:
            tcp = server((address, p), None, bind_and_activate=True)
            return udp, tcp
        except OSError:
            udp.close()
            if port:
                raise
    sys.exit('dnsserver: no free port')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--suite')
    ap.add_argument('--scenario', type=int, default=0)
    ap.add_argument('--zone')
    ap.add_argument('--address', default='127.0.0.1',
                    choices=['127.0.0.1', '::1'], help='loopback only')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--portfile')
    ap.add_argument('--truncate', type=int, default=0)
    ap.add_argument('--delay', type=int, default=0)
    ap.add_argument('--log')
    a = ap.parse_args()
    if a.suite:
        zone = load_suite(a.suite, a.scenario)
    elif a.zone:
        zone = load_zone(a.zone)
    else:
        ap.error('give --suite or --zone')
    srv = Server(zone, a.truncate, a.delay, a.log)
    udp, tcp = bind(a.address, a.port)
    tcp.RequestHandlerClass = make_tcp_handler(srv)
    threading.Thread(target=serve_udp, args=(srv, udp), daemon=True).start()
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = udp.getsockname()[1]
    if a.portfile:
        tmp = a.portfile + '.tmp'
        with open(tmp, 'w') as f:
            f.write('%d %d\n' % (port, os.getpid()))
        os.rename(tmp, a.portfile)
    else:
        print(port, os.getpid(), flush=True)
    while True:
        time.sleep(3600)


if __name__ == '__main__':
    main()
