"""dnsproc.py - a DNS server process for a test helper, stopped by its PID.

Used by suite_dns.py, limits_dns.py and diff/difftest.py: each starts its
own server (test/dnsserver.py or test/diff/dnsd.py), which writes "PORT"
to a port file once it listens on 127.0.0.1.
"""

import os
import signal
import subprocess
import time


class DNSProcess:
    """ARGS started now; waits at most WAIT seconds for PORTFILE and sets
    .port, else stops the process and raises RuntimeError naming WHAT.
    .log is LOG, the query log the caller had it write, if any."""

    def __init__(self, args, portfile, what, wait=20, log=None):
        self.log = log
        self.proc = subprocess.Popen(args)
        self.port = None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if os.path.exists(portfile):
                with open(portfile) as f:
                    words = f.read().split()
                if words:       # written, not only created
                    self.port = int(words[0])
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(what + ' did not start')

    def stop(self):
        """TERM, then KILL after 5 s; waits for it either way."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
