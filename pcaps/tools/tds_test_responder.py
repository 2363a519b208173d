#!/usr/bin/env python3
"""TEST-ONLY TDS RESPONDER for cleartrace test captures. NOT A DATABASE.

Debian ships no SQL Server, so this plays the server side of MS-TDS 7.4 just far
enough for FreeTDS `tsql` to log in and run batches, on 127.0.0.1 only:

  tds_test_responder.py PORT ENCRYPTION CERT KEY [TLS-VERSION]

  ENCRYPTION   the server's PRELOGIN ENCRYPTION setting: not_sup | off | on | req
               (MS-TDS 2.2.6.5); with `off` the answer follows the client (NOT_SUP
               from a client that has no TLS, OFF = login-only, ON if it asks)
  TLS-VERSION  highest TLS version the server accepts: 1.2 (default) or 1.0

It accepts ONE connection and speaks:
  - PRELOGIN (answered with VERSION, ENCRYPTION, INSTOPT, THREADID, MARS);
  - the TLS handshake carried inside PRELOGIN packets (MS-TDS 3.3.5.2), through
    Python's ssl module over memory BIOs; afterwards TLS records go on the wire
    bare, for the whole session (ON/REQ) or only for the LOGIN7 packet (both
    sides OFF: login-only encryption);
  - LOGIN7, answered with LOGINACK + DONE (any user, any password);
  - SQLBatch: a SELECT is answered with one tabular result (COLMETADATA, ROW,
    DONE) of PLANTED FAKE personal data (a name, an Ofcom drama-range phone
    number, a Luhn-valid test card number); anything else with DONE (1 row).
The data exists only so that tests can check that the sensor finds it and
never writes it out unmasked.
"""
import ssl
import struct
import sys

from loopback import accept_one

ENCRYPT = {"off": 0, "on": 1, "not_sup": 2, "req": 3}
OFF, ON, NOT_SUP = 0, 1, 2

PRELOGIN, TABULAR, SQL_BATCH, LOGIN7 = 0x12, 0x04, 0x01, 0x10

ROWS = [
    (1, "Jane Doe", "+44 1632 960961", "4111 1111 1111 1111"),
]
# Latin-1 collation (SQL_Latin1_General_CP1_CI_AS) for the character columns.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])


def packet(ptype, payload, status=0x01):
    """One TDS packet: type, status (EOM), length, SPID, packet id, window."""
    return struct.pack(">BBHHBB", ptype, status, 8 + len(payload), 0, 1, 0) + payload


class Wire:
    """Bytes to and from the client: plain, or through TLS once it is on."""

    def __init__(self, conn):
        self.conn = conn
        self.buf = b""
        self.tls = None

    def _fill(self):
        data = self.conn.recv(65536)
        if not data:
            raise EOFError
        if self.tls is None:
            self.buf += data
            return
        self.tls_in.write(data)
        while True:
            try:
                chunk = self.tls.read(65536)
            except ssl.SSLWantReadError:
                return
            if not chunk:
                return
            self.buf += chunk

    def read_packet(self):
        while len(self.buf) < 8:
            self._fill()
        length = struct.unpack(">H", self.buf[2:4])[0]
        while len(self.buf) < length:
            self._fill()
        pkt, self.buf = self.buf[:length], self.buf[length:]
        return pkt[0], pkt[8:]

    def send(self, data):
        if self.tls is None:
            self.conn.sendall(data)
        else:
            self.tls.write(data)
            self.conn.sendall(self.tls_out.read())

    def handshake(self, cert, key, max_tls):
        """TLS inside PRELOGIN packets, both ways."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if max_tls == "1.0":
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1
        else:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        tls_in, tls_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(tls_in, tls_out, server_side=True)
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            out = tls_out.read()
            if out:
                self.conn.sendall(packet(PRELOGIN, out))
            if done:
                break
            ptype, payload = self.read_packet()
            if ptype != PRELOGIN:
                raise ValueError(f"packet type {ptype:#x} during the TLS handshake")
            tls_in.write(payload)
        self.tls, self.tls_in, self.tls_out = tls, tls_in, tls_out

    def drop_tls(self):
        self.tls = None


def prelogin_options(payload):
    """Option token -> value bytes (MS-TDS 2.2.6.5)."""
    options, at = {}, 0
    while at < len(payload) and payload[at] != 0xFF:
        token, offset, length = struct.unpack(">BHH", payload[at : at + 5])
        options[token] = payload[offset : offset + length]
        at += 5
    return options


def negotiate(server, client):
    """The server's answer to the client's ENCRYPTION option (MS-TDS 2.2.6.5): a
    server that supports TLS without requiring it follows the client."""
    if server == OFF:
        return {NOT_SUP: NOT_SUP, OFF: OFF}.get(client, ON)
    return server


def prelogin_response(encryption):
    values = [
        (0x00, bytes([16, 0, 0x07, 0xD0, 0, 0])),  # VERSION 16.0.2000
        (0x01, bytes([encryption])),  # ENCRYPTION
        (0x02, b"\x00"),  # INSTOPT
        (0x03, b""),  # THREADID (empty in a response)
        (0x04, b"\x00"),  # MARS off
    ]
    head = 5 * len(values) + 1
    table, data = b"", b""
    for token, value in values:
        table += struct.pack(">BHH", token, head + len(data), len(value))
        data += value
    return table + b"\xff" + data


def b_varchar(text):
    raw = text.encode("utf-16-le")
    return bytes([len(text)]) + raw


def done(rows, more=False):
    status = 0x10 | (0x01 if more else 0)  # DONE_COUNT (| DONE_MORE)
    return struct.pack("<BHHQ", 0xFD, status, 0xC1, rows)


def login_ack():
    body = bytes([1]) + bytes([0x74, 0x00, 0x00, 0x04])  # SQL interface, TDS 7.4
    body += b_varchar("Test TDS responder") + bytes([16, 0, 0x07, 0xD0])
    ack = struct.pack("<BH", 0xAD, len(body)) + body
    db = b_varchar("campaigns") + b_varchar("master")
    env = struct.pack("<BHB", 0xE3, len(db) + 1, 1) + db  # ENVCHANGE database
    return env + ack + struct.pack("<BHHQ", 0xFD, 0, 0, 0)


def result_set():
    cols = struct.pack("<BH", 0x81, 4)
    cols += struct.pack("<IH", 0, 0x0000) + bytes([0x26, 4]) + b_varchar("id")  # INTN
    cols += struct.pack("<IH", 0, 0x0001) + bytes([0xE7]) + struct.pack("<H", 200)
    cols += COLLATION + b_varchar("customer_name")  # NVARCHAR(100)
    cols += struct.pack("<IH", 0, 0x0001) + bytes([0xA7]) + struct.pack("<H", 32)
    cols += COLLATION + b_varchar("number")  # VARCHAR(32)
    cols += struct.pack("<IH", 0, 0x0001) + bytes([0xE7]) + struct.pack("<H", 64)
    cols += COLLATION + b_varchar("card")  # NVARCHAR(32)
    rows = b""
    for ident, name, number, card in ROWS:
        rows += bytes([0xD1, 4]) + struct.pack("<i", ident)
        for value, wide in ((name, True), (number, False), (card, True)):
            raw = value.encode("utf-16-le" if wide else "latin-1")
            rows += struct.pack("<H", len(raw)) + raw
    return cols + rows + done(len(ROWS))


def batch_text(payload):
    """SQLBatch: ALL_HEADERS (TDS 7.2+), then the UTF-16LE text."""
    skip = struct.unpack("<I", payload[:4])[0]
    return payload[skip:].decode("utf-16-le", "replace")


def main():
    port, encryption = int(sys.argv[1]), ENCRYPT[sys.argv[2]]
    cert, key = sys.argv[3], sys.argv[4]
    max_tls = sys.argv[5] if len(sys.argv) > 5 else "1.2"
    conn, _ = accept_one(port, timeout=30)
    wire = Wire(conn)
    ptype, payload = wire.read_packet()
    if ptype != PRELOGIN:
        raise ValueError(f"expected PRELOGIN, got {ptype:#x}")
    client = prelogin_options(payload).get(0x01, bytes([NOT_SUP]))[0]
    sys.stderr.write(f"tds responder: client ENCRYPTION {client}\n")
    reply = negotiate(encryption, client)
    wire.send(packet(TABULAR, prelogin_response(reply)))
    login_only = reply == OFF
    if reply != NOT_SUP:
        wire.handshake(cert, key, max_tls)
    try:
        while True:
            ptype, payload = wire.read_packet()
            if ptype == LOGIN7:
                if login_only:
                    wire.drop_tls()
                wire.send(packet(TABULAR, login_ack()))
            elif ptype == SQL_BATCH:
                text = batch_text(payload)
                sys.stderr.write(f"tds responder: batch of {len(text)} chars\n")
                if text.lstrip().upper().startswith("SELECT"):
                    wire.send(packet(TABULAR, result_set()))
                else:
                    wire.send(packet(TABULAR, done(1)))
            else:
                wire.send(packet(TABULAR, done(0)))
    except (EOFError, ConnectionResetError, ssl.SSLError):
        pass
    conn.close()


if __name__ == "__main__":
    main()
