#!/usr/bin/python3
"""bench/pyspf-run.py - run Debian's pyspf-milter against the benchmark's
DNS server on loopback.

pyspf-milter resolves through pydns, which takes its nameservers from
/etc/resolv.conf (port 53 only).  Instead of touching that file, this
starts the very same milter code with pydns's defaults pointed at the
test server's address and port; nothing else changes.

  pyspf-run.py DNS_ADDRESS DNS_PORT CONFIG_FILE
"""
import sys

import DNS
import spf  # noqa: F401  (imports pydns and reads resolv.conf first)
from spf_engine import milter_spf


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    DNS.defaults['server'] = [sys.argv[1]]
    DNS.defaults['port'] = int(sys.argv[2])
    sys.argv = ['pyspf-milter', sys.argv[3]]
    return milter_spf.main()


if __name__ == '__main__':
    sys.exit(main())
