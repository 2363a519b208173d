#!/usr/bin/env python3
"""A one-shot inetd: accept ONE TCP connection on 127.0.0.1:PORT, then exec COMMAND with
the connected socket as its stdin, stdout and stderr (as inetd does for "nowait"
services such as telnetd).

usage: inetd_once.py PORT COMMAND [ARG...]
"""
import os
import sys

from loopback import accept_one


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: inetd_once.py PORT COMMAND [ARG...]")
    conn, peer = accept_one(int(sys.argv[1]))
    sys.stderr.write(f"inetd_once: connection from {peer[0]}:{peer[1]}\n")
    sys.stderr.flush()
    for fd in (0, 1, 2):
        os.dup2(conn.fileno(), fd)
    conn.close()
    os.execvp(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
