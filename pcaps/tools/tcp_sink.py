#!/usr/bin/env python3
"""TCP sink (a stand-in syslog collector) for cleartrace test captures.

Binds 127.0.0.1:PORT, accepts COUNT connections one after the other (or until 20 s
pass without one), reads each until the peer closes, prints what it got (repr) to
stderr, closes, exits.  Never sends anything.

usage: tcp_sink.py PORT [COUNT]   (default COUNT 1)
"""
import socket
import sys

from loopback import listener


def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    srv = listener(port, 20)
    for _ in range(count):
        try:
            conn, peer = srv.accept()
        except socket.timeout:
            break
        conn.settimeout(20)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.close()
        sys.stderr.write(f"tcp_sink: {peer[0]}:{peer[1]} {len(data)} bytes {data!r}\n")
        sys.stderr.flush()
    srv.close()


if __name__ == "__main__":
    main()
