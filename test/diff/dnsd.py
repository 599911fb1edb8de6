#!/usr/bin/python3
"""dnsd.py - test/dnsserver.py for the differential test, made to outlive
questions it cannot answer.

The three implementations send names test/dnsserver.py was not written
for (a label that dnslib will not encode again, for one); there an
exception ended its UDP thread and every later question went
unanswered.  This runs test/dnsserver.py unchanged, with its answer()
wrapped: a question it cannot answer gets SERVFAIL, made from the bytes
of the question (dnslib may not encode it again), and the first two
get a line on stderr.  Same options.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
import dnsserver  # noqa: E402

_answer = dnsserver.Server.answer
reported = 0


def servfail(data):
    """SERVFAIL for the query DATA, built from its bytes (its question may
    be one dnslib cannot encode); None when it has no whole question."""
    if len(data) < 12 or data[4:6] != b'\x00\x01':
        return None
    pos = 12
    while pos < len(data) and data[pos] != 0:
        if data[pos] >= 0xc0:
            return None
        pos += 1 + data[pos]
    if pos + 5 > len(data):
        return None
    flags = bytes([data[2] | 0x80, (data[3] & 0x70) | 0x80 | 2])
    return data[:2] + flags + b'\x00\x01' + b'\x00' * 6 + data[12:pos + 5]


def answer(self, data, proto):
    try:
        return _answer(self, data, proto)
    except Exception as x:  # noqa: BLE001 - any failure: SERVFAIL
        global reported
        reported += 1
        if reported <= 2 and os.environ.get("DNSD_VERBOSE"):
            sys.stderr.write('dnsd: SERVFAIL for %s: %s\n' % (
                type(x).__name__, str(x)[:120]))
        return servfail(data)


dnsserver.Server.answer = answer

if __name__ == '__main__':
    dnsserver.main()
