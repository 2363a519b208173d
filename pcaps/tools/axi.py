#!/usr/bin/env python3
"""SIP-DECT OMM "AXI" (OM Application XML Interface) over cleartext TCP: a tiny OMM
stand-in and an AXI client, for cleartrace test captures.

Every AXI message is one XML element followed by a NUL byte (0x00), over TCP
(12621 in clear; 12622 is the TLS port).

  axi.py server PORT   accept ONE connection on 127.0.0.1:PORT; answer <Open> (only
                       with $AXI_USER / $AXI_PASS, else an error) with <OpenResp>, and
                       <GetPPUser uid="100"> with <GetPPUserResp> carrying one user
                       record; exit when the client closes.
  axi.py client PORT   connect, send <Open protocolVersion="45" username=$AXI_USER
                       password=$AXI_PASS OMPClient="1" />, then <GetPPUser seq="2"
                       uid="100" />, check both answers, close.

The user record (name, number, SIP credentials, additional id) comes from
$AXI_PP_NAME, $AXI_PP_NUM, $AXI_PP_SIPPW, $AXI_PP_ADDID.  All these are PLANTED
LEAK-TEST values defined once in make-captures.sh, not real ones.
"""
import os
import re
import socket
import sys
import time

from loopback import accept_one
from xml.sax.saxutils import quoteattr


def env(name):
    v = os.environ.get(name)
    if v is None:
        sys.exit(f"axi: ${name} is not set")
    return v


def recv_msg(s, buf):
    """one NUL-terminated message (bytes without the NUL), or None at EOF"""
    while b"\0" not in buf[0]:
        chunk = s.recv(4096)
        if not chunk:
            return None
        buf[0] += chunk
    msg, buf[0] = buf[0].split(b"\0", 1)
    return msg


def send_msg(s, xml):
    s.sendall(xml.encode("utf-8") + b"\0")


def attrs(msg):
    return dict(re.findall(r'(\w+)="([^"]*)"', msg))


def server(port):
    conn, _ = accept_one(port, 20)
    buf = [b""]
    opened = False
    with conn:
        while True:
            msg = recv_msg(conn, buf)
            if msg is None:
                break
            text = msg.decode("utf-8")
            name = re.match(r"<(\w+)", text).group(1)
            a = attrs(text)
            print(f"axi: <{name}>", file=sys.stderr)
            if name == "Open":
                if a.get("username") == env("AXI_USER") and a.get("password") == env("AXI_PASS"):
                    opened = True
                    send_msg(conn, '<OpenResp protocolVersion="45" minPPSwVersion1="1" '
                                   'minPPSwVersion2="1" ommStbState="Ready" />')
                else:
                    send_msg(conn, '<OpenResp errCode="EAuth" info="authentication failed" />')
            elif name == "GetPPUser" and opened:
                user = (f'<user uid="{a.get("uid", "100")}" timeStamp="1795380000" relType="Unbound" '
                        f'ppn="0" name={quoteattr(env("AXI_PP_NAME"))} num={quoteattr(env("AXI_PP_NUM"))} '
                        f'hierarchy1="" hierarchy2="" addId={quoteattr(env("AXI_PP_ADDID"))} pin="" '
                        f'sipAuthId={quoteattr(env("AXI_PP_NUM"))} sipPw={quoteattr(env("AXI_PP_SIPPW"))} '
                        f'sosNum="" manDownNum="" voiceboxNum="" locatable="false" />')
                send_msg(conn, f'<GetPPUserResp seq="{a.get("seq", "")}">{user}</GetPPUserResp>')
            else:
                send_msg(conn, f'<{name}Resp seq="{a.get("seq", "")}" errCode="ENotSupp" />')


def client(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        buf = [b""]
        send_msg(s, f'<Open protocolVersion="45" username={quoteattr(env("AXI_USER"))} '
                    f'password={quoteattr(env("AXI_PASS"))} OMPClient="1" />')
        r = recv_msg(s, buf)
        if r is None or not r.startswith(b"<OpenResp") or b"errCode" in r:
            sys.exit(f"axi: Open refused: {r!r}")
        time.sleep(0.2)
        send_msg(s, '<GetPPUser seq="2" uid="100" />')
        r = recv_msg(s, buf)
        if r is None or not r.startswith(b'<GetPPUserResp seq="2"><user '):
            sys.exit(f"axi: unexpected answer: {r!r}")
        print("axi: got", r.decode("utf-8"), file=sys.stderr)
        time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("server", "client"):
        sys.exit("usage: axi.py server|client PORT")
    port = int(sys.argv[2])
    server(port) if sys.argv[1] == "server" else client(port)


if __name__ == "__main__":
    main()
