#!/usr/bin/env python3
"""ESPA 4.4.4 over TCP: a paging system (responder) and a control station (generator),
for cleartrace test captures.  No real implementation is packaged for Debian, so this
is a small implementation of the protocol as documented below.

  espa444.py paging PORT    paging system (station address '2'): accept ONE connection
                            on 127.0.0.1:PORT, answer the link control, check every
                            block's BCC, print the pages it accepted to stderr, exit when
                            the control station closes.
  espa444.py control PORT   control station (address '1', master): connect to
                            127.0.0.1:PORT and send the pages in $ESPA_PAGES (one page
                            per line: CALL-ADDRESS<TAB>DISPLAY-TEXT, UTF-8 in the
                            environment, sent as Latin-1), 0.3 s apart, then close.
                            With $ESPA_BAD_BCC=N the first transmission of page N (1-based)
                            carries a wrong BCC, so the paging system NAKs it and the
                            block is sent again.

Characters: SOH 0x01, STX 0x02, ETX 0x03, EOT 0x04, ENQ 0x05, ACK 0x06, NAK 0x15,
RS 0x1E (record separator), US 0x1F (separates a record's identifier from its data).

One page (one transmission), as exchanged here.  The data block, the record identifiers
and the control characters follow the published ESPA 4.4.4 description; the exact line
bid ('1' ENQ '2' ENQ) is the one an open-source ESPA 4.4.4 receiver waits for -- the
specification text itself was not at hand, so treat the link-level details as a
plausible rendering, not as a conformance reference:
  control -> paging   '1' ENQ '2' ENQ          control station 1 takes the line and
                                               selects paging system 2
  paging  -> control  ACK                      ready to receive (NAK: not ready)
  control -> paging   SOH '1' STX '1' US <call address> RS '2' US <display text>
                      RS '3' US '3' RS '4' US '3' ETX BCC
                                               header '1' = call to a pager; records
                                               1 call address, 2 display message,
                                               3 beep coding, 4 call type
  paging  -> control  ACK                      block accepted (NAK: BCC wrong, repeat)
  control -> paging   EOT                      end of transmission, line released

BCC = XOR of every byte after SOH up to and including ETX, on all 8 bits: NOT masked to
7 bits (the display text is Latin-1 and may have bit 7 set, e.g. 'ü' = 0xFC; on a 7-bit
serial line that text could not be sent at all).
"""
import os
import socket
import sys
import time

from loopback import accept_one

SOH, STX, ETX, EOT, ENQ, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05", b"\x06", b"\x15"
RS, US = b"\x1e", b"\x1f"
CONTROL_ADDR, PAGING_ADDR = b"1", b"2"


def bcc(data):
    x = 0
    for b in data:
        x ^= b
    return x


def block(call_address, text):
    """SOH '1' STX records ETX BCC for one call (header '1' = call to pager)."""
    records = [(b"1", call_address.encode("latin-1")), (b"2", text.encode("latin-1")),
               (b"3", b"3"), (b"4", b"3")]
    body = b"1" + STX + RS.join(i + US + d for i, d in records) + ETX
    return SOH + body + bytes([bcc(body)])


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("peer closed")
        data += chunk
    return data


def control(port):
    raw = os.environb.get(b"ESPA_PAGES", b"").decode("utf-8")   # whatever the locale
    pages = [l.split("\t", 1) for l in raw.splitlines() if l]
    if not pages or any(len(p) != 2 for p in pages):
        sys.exit("espa444: $ESPA_PAGES must hold CALL-ADDRESS<TAB>TEXT lines")
    bad = int(os.environ.get("ESPA_BAD_BCC", "0"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for n, (addr, text) in enumerate(pages, 1):
            if n > 1:
                time.sleep(0.3)
            s.sendall(CONTROL_ADDR + ENQ + PAGING_ADDR + ENQ)
            if recv_exact(s, 1) != ACK:
                sys.exit(f"espa444: page {n}: paging system not ready")
            blk = block(addr, text)
            tries = 0
            while True:
                tries += 1
                if n == bad and tries == 1:
                    s.sendall(blk[:-1] + bytes([blk[-1] ^ 0x55]))   # corrupted BCC
                else:
                    s.sendall(blk)
                a = recv_exact(s, 1)
                if a == ACK:
                    break
                if a != NAK or tries >= 3:
                    sys.exit(f"espa444: page {n}: block refused ({a!r})")
            s.sendall(EOT)
            print(f"espa444: page {n} to {addr} sent ({tries} transmission(s))", file=sys.stderr)
        time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass


def paging(port):
    conn, _ = accept_one(port, 20)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    accepted = 0
    with conn:
        while True:
            try:
                sel = recv_exact(conn, 4)
            except EOFError:
                break
            if sel != CONTROL_ADDR + ENQ + PAGING_ADDR + ENQ:
                conn.sendall(NAK)
                continue
            conn.sendall(ACK)
            while True:
                c = recv_exact(conn, 1)
                if c == EOT:
                    break
                if c != SOH:
                    conn.sendall(NAK)
                    continue
                body = b""
                while not body.endswith(ETX):
                    body += recv_exact(conn, 1)
                got = recv_exact(conn, 1)[0]
                if got != bcc(body):
                    print(f"espa444: BCC {got:#04x} != {bcc(body):#04x}: NAK", file=sys.stderr)
                    conn.sendall(NAK)
                    continue
                conn.sendall(ACK)
                accepted += 1
                header, data = body[:-1].split(STX, 1)
                recs = dict(r.split(US, 1) for r in data.split(RS))
                print(f"espa444: page header {header.decode()} call address "
                      f"{recs[b'1'].decode('latin-1')} text {recs[b'2'].decode('latin-1')!r}",
                      file=sys.stderr)
    print(f"espa444: {accepted} pages accepted", file=sys.stderr)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("paging", "control"):
        sys.exit("usage: espa444.py paging|control PORT")
    port = int(sys.argv[2])
    paging(port) if sys.argv[1] == "paging" else control(port)


if __name__ == "__main__":
    main()
