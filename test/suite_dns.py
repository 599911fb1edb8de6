#!/usr/bin/python3
"""suite_dns.py - the RFC 7208 test suite through `spf-milter -q` and udns.

Every scenario of the suite gets its own test/dnsserver.py on loopback,
serving that scenario's zonedata; each of its tests runs
`spf-milter -c CONF -q HOST MAILFROM HELO` with udns pointed at that server
(NAMESERVERS, RES_OPTIONS=port:N).  The first line of output must be the
expected result (or one of them); where the suite gives an explanation,
the `explanation: ...` line must carry it.  With --truncate 512 the server
truncates every UDP answer over 512 bytes, so those answers come over TCP
(no answer of the suite is that long, as it turns out: --truncate 12
truncates every answer, and then TCP carries them all).

The suite is read where Debian's python3-spf installs it; nothing of it is
copied.  The receiver (%{r}) is not part of what the suite checks.
"""

import argparse
import concurrent.futures
import gzip
import os
import signal
import subprocess
import sys
import tempfile

import yaml

from dnsproc import DNSProcess

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = '/usr/share/doc/python3-spf/rfc7208-tests.yml.gz'


def load(path):
    with gzip.open(path, 'rt', encoding='utf-8') as f:
        return [d for d in yaml.safe_load_all(f) if d]


def dns_server(suite, index, truncate, tmp):
    """test/dnsserver.py for one scenario; stopped by its PID."""
    portfile = os.path.join(tmp, 'port.%d' % index)
    args = [sys.executable, os.path.join(HERE, 'dnsserver.py'),
            '--suite', suite, '--scenario', str(index),
            '--portfile', portfile,
            '--log', os.path.join(tmp, 'queries.%d' % index)]
    if truncate:
        args += ['--truncate', str(truncate)]
    return DNSProcess(args, portfile,
                      'dnsserver for scenario %d' % index, wait=10)


def run_test(binary, conf, port, test):
    env = dict(os.environ, NAMESERVERS='127.0.0.1',
               RES_OPTIONS='port:%d' % port)
    args = [binary, '-c', conf, '-q', str(test['host']),
            test.get('mailfrom') or '', str(test.get('helo') or '')]
    try:
        p = subprocess.run(args, env=env, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return None, None, 'timed out'
    out = p.stdout.decode('latin-1').split('\n')
    exp = None
    for line in out[1:]:
        if line.startswith('explanation: '):
            exp = line[len('explanation: '):]
            break
    err = p.stderr.decode('latin-1').strip()
    return out[0].strip(), exp, err if p.returncode else None


def run_scenario(args, suite, index, doc, tmp):
    """[(name, failure text or None)] for every test of scenario INDEX."""
    results = []
    srv = dns_server(args.suite, index, args.truncate, tmp)
    try:
        for name, test in doc['tests'].items():
            want = test['result']
            want = want if isinstance(want, list) else [want]
            got, exp, err = run_test(args.binary, args.conf, srv.port, test)
            why = None
            if err is not None:
                why = 'exit status: %s' % err
            elif got not in want:
                why = 'result %s, expected %s' % (got, '|'.join(want))
            elif 'explanation' in test and got == 'fail' and \
                    exp != test['explanation']:
                why = 'explanation %r, expected %r' % (
                    exp, test['explanation'])
            results.append((name, why, test))
    finally:
        srv.stop()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--binary', default='./spf-milter')
    ap.add_argument('--suite', default=SUITE)
    ap.add_argument('--truncate', type=int, default=0)
    ap.add_argument('--timeout', default='2',
                    help='dns_timeout for a TIMEOUT test (seconds)')
    ap.add_argument('--jobs', type=int, default=8)
    ap.add_argument('--expect-tcp', action='store_true',
                    help='fail unless some answer came over TCP')
    args = ap.parse_args()
    # a TERM stops the servers too (the finally clauses run)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    docs = load(args.suite)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        args.conf = os.path.join(tmp, 'spf-milter.conf')
        with open(args.conf, 'w') as f:
            f.write('dns_timeout = %s\n' % args.timeout)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futs = [pool.submit(run_scenario, args, args.suite, i, d, tmp)
                    for i, d in enumerate(docs)]
            for i, fut in enumerate(futs):
                for name, why, test in fut.result():
                    if why is None:
                        passed += 1
                        continue
                    failed += 1
                    print('FAIL %s (%s): %s  [-q %s %r %r]' % (
                        name, docs[i]['description'], why, test['host'],
                        test.get('mailfrom') or '', test.get('helo')))
        tcp = 0
        for i in range(len(docs)):
            with open(os.path.join(tmp, 'queries.%d' % i)) as f:
                tcp += sum(1 for line in f if line.endswith(' tcp\n'))
    print('%d questions were asked again over TCP' % tcp)
    if args.expect_tcp and tcp == 0:
        print('FAIL: no answer came over TCP')
        failed += 1
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
