#!/usr/bin/env python3
"""SMDR / call-accounting style cleartext TCP feed, for cleartrace test captures.

  cdr_feed.py listen PORT   accept ONE connection on 127.0.0.1:PORT, read until
                            the peer closes, close, exit (like a call-accounting
                            collector that never answers).
  cdr_feed.py send PORT     connect to 127.0.0.1:PORT and send the fixed-width
                            SMDR-like records below, one write per record,
                            0.2 s apart (as a PBX emits them when calls end),
                            then close.

The records carry PLANTED fake personal data (a fictional Ofcom drama-range
number, an example.com address, a PIN) so tests can check that the sensor
finds it and never writes it out unmasked.
"""
import socket
import sys
import time

from loopback import accept_one

# date time duration trunk dialled(13 wide) EXT ext ACCT account/extra, CRLF
RECORDS = [
    "2026/11/22 20:47 00:00:45 I002 2004          EXT 2001 ACCT 0000",
    "2026/11/22 20:51 00:02:31 T001 +441632960961 EXT 2001 ACCT jane.doe@example.com",
    "2026/11/22 20:52 00:00:08 X003 2003          EXT 2002 ACCT 0000",
    "2026/11/22 20:53 00:01:10 T002 2005          EXT 2003 ACCT 0000 PIN: 4096",
    "2026/11/22 20:55 00:00:03 I004 2001          EXT 2005 ACCT 0000",
]


def listen(port):
    conn, _ = accept_one(port)
    total = 0
    while True:
        data = conn.recv(4096)
        if not data:
            break
        total += len(data)
    conn.close()
    sys.stderr.write(f"cdr_feed: received {total} bytes\n")


def send(port):
    with socket.create_connection(("127.0.0.1", port)) as s:
        for rec in RECORDS:
            s.sendall(rec.encode("ascii") + b"\r\n")
            time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):     # wait for the collector's FIN
            pass


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("listen", "send"):
        sys.exit("usage: cdr_feed.py listen|send PORT")
    port = int(sys.argv[2])
    listen(port) if sys.argv[1] == "listen" else send(port)


if __name__ == "__main__":
    main()
