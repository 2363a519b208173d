#!/usr/bin/env python3
"""UDP sink (a stand-in syslog collector) for cleartrace test captures.

Binds 127.0.0.1:PORT, receives COUNT datagrams (or until 20 s pass), prints
each one to stderr, exits.  Never answers.

usage: udp_sink.py PORT [COUNT]   (default COUNT 3)
"""
import socket
import sys


def main():
    port = int(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(20)
    for _ in range(count):
        try:
            data, _ = s.recvfrom(65535)
        except socket.timeout:
            break
        sys.stderr.write("udp_sink: " + data.decode("utf-8", "replace") + "\n")
    s.close()


if __name__ == "__main__":
    main()
