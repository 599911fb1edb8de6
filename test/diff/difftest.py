#!/usr/bin/python3
"""difftest.py - spf-milter against pyspf and Mail::SPF over the same DNS.

The scenarios of gen.py (seeded, so a run can be repeated exactly) are
served in batches by test/dnsserver.py on 127.0.0.1; every question is
asked four ways:

  udp     ./spf-milter -q, the server truncating UDP answers over 512
          bytes (as a real server does without EDNS)
  tcp     ./spf-milter -q against a second server that truncates every
          UDP answer, so every answer comes over TCP
  pyspf   Debian's python3-spf (pydns), in this process
  mailspf Mail::SPF as spfquery(1) of Debian's spf-tools-perl runs it
          (mailspf.pl: the same calls, but a question that makes Net::DNS
          die answers "crash" instead of ending the run)

udp and tcp must agree.  Where spf-milter and a reference disagree, the
disagreement is put in a class of classes.py: each class is a documented
deviation of that reference (README, with the RFC section), or a known
problem of ours that another fix removes.  A disagreement in no class
fails the run and is printed with the scenario, so it can be looked at
with --only.

  difftest.py --seed S --count N [--batch B] [--jobs J] [--show K]
              [--only IDX] [--keep DIR] [--binary PATH]

Exit status 0 when every disagreement is in a class that does not say
spf-milter is wrong; the summary gives the counts.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))     # test/: dnsproc

import classes  # noqa: E402
import gen      # noqa: E402
from dnsproc import DNSProcess  # noqa: E402

DNSSERVER = os.path.join(HERE, 'dnsd.py')
RECEIVER = 'receiver.test'
RESULTS = ('pass', 'fail', 'softfail', 'neutral', 'none', 'temperror',
           'permerror')


def dns_server(zone, tmp, tag, truncate):
    """test/diff/dnsd.py with ZONE on 127.0.0.1; stopped by its PID."""
    portfile = os.path.join(tmp, 'port.' + tag)
    log = os.path.join(tmp, 'queries.' + tag)
    for f in (portfile, log):       # from the batch before
        if os.path.exists(f):
            os.unlink(f)
    return DNSProcess(
        ['/usr/bin/python3', DNSSERVER, '--zone', zone, '--portfile',
         portfile, '--truncate', str(truncate), '--log', log],
        portfile, 'dnsserver', log=log)


# ------------------------------------------------------------ evaluators

def run_ours(binary, conf, q):
    """(result, explanation, trace) of spf-milter -q."""
    ip, sender, helo = q
    try:
        p = subprocess.run([binary, '-c', conf, '-q', ip, sender, helo],
                           capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return 'hang', None, ''
    out = p.stdout.decode('latin-1')
    lines = out.split('\n')
    exp = None
    for line in lines[1:]:
        if line.startswith('explanation: '):
            exp = line[len('explanation: '):]
            break
    res = lines[0].strip() if p.returncode == 0 else \
        'exit %d: %s' % (p.returncode, p.stderr.decode('latin-1')[:200])
    return res, exp, out


def run_pyspf(port, queries):
    import DNS
    import spf
    DNS.defaults['server'] = ['127.0.0.1']
    DNS.defaults['port'] = port
    out = []
    for ip, sender, helo in queries:
        try:
            r, _, exp = spf.query(ip, sender, helo, receiver=RECEIVER,
                                  timeout=10, querytime=60).check()
        except Exception as x:  # a crash of pyspf is its answer
            r, exp = 'crash', '%s: %s' % (type(x).__name__, x)
        out.append((r, exp if r == 'fail' else None, exp))
    return out


def run_mailspf(port, queries):
    """Mail::SPF as spfquery runs it (mailspf.pl), one answer a line."""
    env = dict(os.environ, RES_NAMESERVERS='127.0.0.1',
               RES_OPTIONS='port:%d' % port)
    text = ''.join('%s %s %s\n' % q for q in queries)
    p = subprocess.run(['perl', os.path.join(HERE, 'mailspf.pl'), RECEIVER],
                       input=text.encode('latin-1'), capture_output=True,
                       env=env, timeout=1200)
    out = []
    for line in p.stdout.decode('latin-1').split('\n')[:-1]:
        r, exp, why = (line.split('\t') + ['', ''])[:3]
        out.append((r, exp if r == 'fail' else None, why))
    if len(out) != len(queries):
        raise RuntimeError('mailspf.pl gave %d answers for %d questions: %s'
                           % (len(out), len(queries),
                              p.stderr.decode('latin-1')[-500:]))
    return out


# ---------------------------------------------------------------- batches

def run_batch(args, scns, tmp):
    zone = os.path.join(tmp, 'zone')
    with open(zone, 'w', encoding='latin-1') as f:
        for s in scns:
            f.write('\n'.join(s.zone) + '\n')
    queries, owner = [], []
    for s in scns:
        for i, q in enumerate(s.queries):
            queries.append(q)
            owner.append((s, i))
    srv = {}
    try:
        srv['udp'] = dns_server(zone, tmp, 'udp', 512)
        srv['tcp'] = dns_server(zone, tmp, 'tcp', 12)
        confs = {}
        for k in ('udp', 'tcp'):
            confs[k] = os.path.join(tmp, 'conf.' + k)
            with open(confs[k], 'w') as f:
                f.write('dns_servers = 127.0.0.1:%d\ndns_timeout = 10\n'
                        'hostname = %s\ndns_cache_size = 0\n'
                        % (srv[k].port, RECEIVER))
        res = {}
        took = {}

        def timed(name, fn, *a):
            t0 = time.monotonic()
            r = fn(*a)
            took[name] = time.monotonic() - t0
            return r

        def ours(k):
            return [run_ours(args.binary, confs[k], q) for q in queries]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futs = {
                'pyspf': pool.submit(timed, 'pyspf', run_pyspf,
                                     srv['udp'].port, queries),
                'mailspf': pool.submit(timed, 'mailspf', run_mailspf,
                                       srv['udp'].port, queries),
                'udp': pool.submit(timed, 'udp', ours, 'udp'),
                'tcp': pool.submit(timed, 'tcp', ours, 'tcp')}
            for k, f in futs.items():
                res[k] = f.result()
        if args.progress:
            sys.stderr.write('batch of %d questions: %s\n' % (
                len(queries), ', '.join('%s %.1f s' % kv
                                        for kv in sorted(took.items()))))
        with open(srv['tcp'].log) as f:
            tcp = sum(1 for line in f if line.endswith(' tcp\n'))
    finally:
        for s in srv.values():
            s.stop()
    rows = []
    for n, (s, i) in enumerate(owner):
        rows.append({
            'scn': s, 'q': queries[n], 'qi': i,
            'udp': res['udp'][n][0], 'tcp': res['tcp'][n][0],
            'exp': res['udp'][n][1], 'trace': res['udp'][n][2],
            'tcptrace': res['tcp'][n][2],
            'pyspf': res['pyspf'][n][0], 'pyexp': res['pyspf'][n][1],
            'pywhy': res['pyspf'][n][2],
            'mailspf': res['mailspf'][n][0],
            'plexp': res['mailspf'][n][1], 'plwhy': res['mailspf'][n][2]})
    return rows, tcp


def show(row, why):
    s = row['scn']
    print('--- scenario %d question %d: %s' % (s.idx, row['qi'], why))
    print('    -q %s %r %r' % row['q'])
    print('    udp=%s tcp=%s pyspf=%s mailspf=%s' % (
        row['udp'], row['tcp'], row['pyspf'], row['mailspf']))
    print('    pyspf says: %s' % (row['pywhy'] or '')[:300])
    print('    Mail::SPF says: %s' % (row['plwhy'] or '')[:300])
    print('    tags: %s' % ' '.join(sorted(s.tags)))
    for line in s.zone:
        print('    | ' + line)
    for line in row['trace'].split('\n')[1:]:
        if line.strip():
            print('    > ' + line)


def rerun(args, tmp, scns, cs):
    """{(idx, qi): row} of SCNS run again with their zones (and
    questions) transformed by the classes CS; scenarios the transforms
    do not change are left out."""
    copies = []
    for s in scns:
        zone, queries = s.zone, s.queries
        for c in cs:
            if c.transform is not None:
                zone = c.transform(zone) or zone
            if c.qtransform is not None:
                queries = c.qtransform(queries) or queries
        if zone is not s.zone or queries is not s.queries:
            copies.append(types.SimpleNamespace(
                idx=s.idx, zone=zone, queries=queries, tags=s.tags))
    out = {}
    for b in range(0, len(copies), args.batch):
        rows, _ = run_batch(args, copies[b:b + args.batch], tmp)
        for row in rows:
            out[(row['scn'].idx, row['qi'])] = row
    return out


def classify(args, tmp, rows):
    """[(class, row, description)] for every disagreement of ROWS."""
    found, pending = [], []
    for row in rows:
        for ref, desc in classes.disagreements(row):
            if ref == 'tcp':
                found.append((classes.unexplained('udp and tcp differ'),
                              row, desc))
                continue
            said, undo = classes.candidates(row, ref)
            if said:
                found.append((said[0], row, desc))
            else:
                pending.append([row, ref, desc, undo])
    # Undone: one class at a time; first where our answer stays and
    # the reference's comes to it (the feature taken away only mattered
    # to the reference), then where both come to the same answer.  Then
    # two classes at once, then all of a row's classes.
    cache = {}
    for strict in (True, False):
        for cls in classes.CLASSES:
            todo = [p for p in pending if cls in p[3]]
            if not todo or (cls.transform is None and
                            cls.qtransform is None):
                continue
            if cls.name not in cache:
                scns = list({id(p[0]['scn']): p[0]['scn']
                             for p in todo}.values())
                cache[cls.name] = rerun(args, tmp, scns, [cls])
            again = cache[cls.name]
            for p in todo:
                new = again.get((p[0]['scn'].idx, p[0]['qi']))
                if os.environ.get('DIFF_DEBUG') and new is not None:
                    sys.stderr.write('%s scenario %d/%d: %s -> ours %s, '
                                     '%s %s\n' % (cls.name, new['scn'].idx,
                                                   new['qi'], p[2],
                                                   new['udp'], p[1],
                                                   new[p[1]]))
                if new is None or new['udp'] != new[p[1]] or \
                        (strict and new['udp'] != p[0]['udp']):
                    continue
                found.append((cls, p[0], p[2]))
                pending.remove(p)
    multi = [p for p in pending if len(p[3]) > 1]
    groups = collections.defaultdict(list)
    for p in multi:
        groups[tuple(c.name for c in p[3])].append(p)
    for names, todo in groups.items():
        cs = [classes.BY_NAME[n] for n in names]
        # pairs first, then all: the fewest classes that undo it
        tries = [(a, b) for i, a in enumerate(cs) for b in cs[i + 1:]]
        tries.append(tuple(cs))
        for combo in tries:
            if not todo:
                break
            scns = list({id(p[0]['scn']): p[0]['scn']
                         for p in todo}.values())
            again = rerun(args, tmp, scns, list(combo))
            for p in list(todo):
                new = again.get((p[0]['scn'].idx, p[0]['qi']))
                if os.environ.get('DIFF_DEBUG') and new is not None:
                    sys.stderr.write('%s scenario %d/%d: ours %s, %s %s\n' % (
                        ' + '.join(c.name for c in combo), new['scn'].idx,
                        new['qi'], new['udp'], p[1], new[p[1]]))
                if new is not None and new['udp'] == new[p[1]]:
                    found.append((classes.combined(combo), p[0], p[2]))
                    pending.remove(p)
                    todo.remove(p)
    for p in pending:
        found.append((classes.unexplained(p[2]), p[0], p[2]))
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--seed', default='1')
    ap.add_argument('--count', type=int, default=200)
    ap.add_argument('--first', type=int, default=0)
    ap.add_argument('--batch', type=int, default=100)
    ap.add_argument('--jobs', type=int, default=4)
    ap.add_argument('--binary', default='./spf-milter')
    ap.add_argument('--show', type=int, default=0,
                    help='examples printed of each class')
    ap.add_argument('--only', type=int, action='append',
                    help='just this scenario (may repeat)')
    ap.add_argument('--verbose', action='store_true')
    ap.add_argument('--dump', help='write every question and answer to '
                    'this file (JSON lines)')
    ap.add_argument('--progress', action='store_true',
                    help='time of each evaluator per batch, on stderr')
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    idxs = args.only or list(range(args.first, args.first + args.count))
    counts = collections.Counter()
    per_class = collections.defaultdict(list)
    total = 0
    tcp = 0
    agree = collections.Counter()
    differ = []
    start = time.monotonic()
    dump = open(args.dump, 'w') if args.dump else None
    with tempfile.TemporaryDirectory() as tmp:
        for b in range(0, len(idxs), args.batch):
            scns = [gen.scenario(args.seed, i)
                    for i in idxs[b:b + args.batch]]
            rows, t = run_batch(args, scns, tmp)
            tcp += t
            for row in rows:
                total += 1
                if dump is not None:
                    d = {k: v for k, v in row.items() if k != 'scn'}
                    d['idx'] = row['scn'].idx
                    d['tags'] = sorted(row['scn'].tags)
                    dump.write(json.dumps(d) + '\n')
                for ref in ('pyspf', 'mailspf'):
                    if row['udp'] == row[ref]:
                        agree[ref] += 1
                if row['udp'] == row['pyspf'] == row['mailspf']:
                    agree['all'] += 1
                if args.verbose:
                    show(row, 'verbose')
                if classes.disagreements(row):
                    differ.append(row)
        for cls, row, desc in classify(args, tmp, differ):
            counts[cls.name] += 1
            per_class[cls.name].append((row, desc))
    elapsed = time.monotonic() - start
    bad = 0
    print('differential test: seed %s, %d scenarios, %d questions, %.0f s'
          % (args.seed, len(idxs), total, elapsed))
    print('  %d questions answered over TCP in the TCP run' % tcp)
    print('  agreement: pyspf %d/%d (%.1f%%), Mail::SPF %d/%d (%.1f%%), '
          'all three %d' % (agree['pyspf'], total,
                            100.0 * agree['pyspf'] / max(total, 1),
                            agree['mailspf'], total,
                            100.0 * agree['mailspf'] / max(total, 1),
                            agree['all']))
    print('  %d disagreements:' % sum(counts.values()))
    for name, n in sorted(counts.items(), key=lambda x: -x[1]):
        cls = classes.BY_NAME[name]
        mark = {'theirs': '%s, RFC 7208 %s' % (
                    {'pyspf': 'pyspf', 'mailspf': 'Mail::SPF'}.get(
                        cls.ref, 'both'), cls.rfc),
                'ours-pending': 'ours, fixed by a pending change',
                'unexplained': 'UNEXPLAINED'}[cls.kind]
        print('  %5d  %-34s %s' % (n, name, mark))
        if cls.kind == 'unexplained':
            bad += n
    for name, items in per_class.items():
        cls = classes.BY_NAME[name]
        k = args.show if cls.kind != 'unexplained' else max(args.show, 3)
        for row, desc in items[:k]:
            show(row, '%s (%s)' % (name, desc))
    print('differential test: %s' % ('FAILED: %d disagreements are '
                                     'unexplained' % bad
                                     if bad else 'passed'))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
