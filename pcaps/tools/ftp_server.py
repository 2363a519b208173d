#!/usr/bin/env python3
"""FTP server (pyftpdlib) for cleartrace test captures.

  ftp_server.py PORT HOMEDIR   serve 127.0.0.1:PORT until SIGTERM; one read-only user
                               $LOGIN_USER / $LOGIN_PASS rooted at HOMEDIR, read-only;
                               banner "220 FTP server ready.".

The credentials come from the environment (defined once, in make-captures.sh):
PLANTED LEAK-TEST values, not real ones.
"""
import logging
import os
import signal
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ftp_server.py PORT HOMEDIR")
    port, home = int(sys.argv[1]), sys.argv[2]
    user, password = os.environ.get("LOGIN_USER"), os.environ.get("LOGIN_PASS")
    if not user or not password:
        sys.exit("ftp_server: $LOGIN_USER / $LOGIN_PASS not set")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    auth = DummyAuthorizer()
    auth.add_user(user, password, home, perm="elr")
    handler = FTPHandler
    handler.authorizer = auth
    handler.banner = "FTP server ready."
    server = FTPServer(("127.0.0.1", port), handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(handle_exit=False)
    finally:
        server.close_all()


if __name__ == "__main__":
    main()
