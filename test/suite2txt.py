#!/usr/bin/python3
"""Turn the RFC 7208 test suite (YAML, read at test time from Debian's
python3-spf) into a flat tab-separated file the C test programs read.

Lines (fields escaped: \\\\, \\t, \\n, \\xHH for bytes outside 0x20-0x7e):
  S  scenario-number  description
  Z  name  A|AAAA|PTR|CNAME  value
  Z  name  MX  preference  target
  Z  name  TXT  string [string ...]     (the character-strings of one RR)
  Z  name  TIMEOUT  [TYPE]              (no TYPE: every question times out)
  T  test-name  client-ip  mailfrom  helo  result[,result]  has-exp  exp

Names with SPF (type 99) data but no TXT get the same data as TXT, as the
suite's own drivers do; a TXT of NONE means no TXT and no such copy.
"""
import gzip
import sys

import yaml

SUITE = '/usr/share/doc/python3-spf/rfc7208-tests.yml.gz'


def esc(value):
    if isinstance(value, str):
        # The suite writes bytes as \xNN escapes: one character per byte.
        try:
            value = value.encode('latin-1')
        except UnicodeEncodeError:
            value = value.encode('utf-8')
    out = []
    for b in value:
        if b == 0x5c:
            out.append('\\\\')
        elif b == 0x09:
            out.append('\\t')
        elif b == 0x0a:
            out.append('\\n')
        elif 0x20 <= b <= 0x7e:
            out.append(chr(b))
        else:
            out.append('\\x%02x' % b)
    return ''.join(out)


def line(*fields):
    return '\t'.join(esc(str(f)) if not isinstance(f, bytes) else esc(f)
                     for f in fields)


def zone_lines(name, records):
    out = []
    spf = []
    has_txt = False
    for rec in records:
        if rec == 'TIMEOUT':
            out.append(line('Z', name, 'TIMEOUT'))
            continue
        for rtype, value in rec.items():
            if value == 'TIMEOUT':
                out.append(line('Z', name, 'TIMEOUT', rtype))
                continue
            if rtype in ('TXT', 'SPF'):
                strings = [value] if isinstance(value, str) else list(value)
                if rtype == 'TXT':
                    has_txt = True
                    if strings != ['NONE']:
                        out.append(line('Z', name, 'TXT', *strings))
                elif strings != ['NONE']:
                    spf.append(strings)
            elif rtype == 'MX':
                out.append(line('Z', name, 'MX', value[0], value[1]))
            else:
                out.append(line('Z', name, rtype, value))
    if not has_txt:
        for strings in spf:
            out.append(line('Z', name, 'TXT', *strings))
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else SUITE
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for number, doc in enumerate(docs):
        print(line('S', number, doc.get('description', '')))
        for name, records in doc.get('zonedata', {}).items():
            for zl in zone_lines(name.lower(), records):
                print(zl)
        for tname, t in doc['tests'].items():
            result = t['result']
            if isinstance(result, list):
                result = ','.join(result)
            exp = t.get('explanation')
            print(line('T', tname, t['host'], t['mailfrom'], t['helo'],
                       result, 0 if exp is None else 1,
                       '' if exp is None else exp))


if __name__ == '__main__':
    main()
