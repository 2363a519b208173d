#!/usr/bin/env python3
"""GENERATED AASP-over-SIP exchange for cleartrace test captures (no real tool speaks
AASP: the bodies are built here, after the layout Wireshark's packet-aastra-aasp.c
reads). Two UDP sockets on 127.0.0.1 play a PBX (5060) and an Aastra-class phone
(5066):

  1. PBX -> phone  INFO, Content-Type: message/x-aasp-signalling: the display shows
     an incoming call (Set Text "Jane Doe", Set Text "+44 1632 960961") and the
     Incoming Caller command carries the name and number again;   phone -> 200 OK
  2. phone -> PBX  INFO, AASP Do Command: the user dials +441632960962;  PBX -> 200 OK

The SIP headers carry no personal data (user parts `pbx`, `aastra-phone`), so
whatever the sensor reports comes from the AASP bodies. The name and numbers are
PLANTED FAKE values (Ofcom drama range).
"""
import socket
import time

PBX, PHONE = ("127.0.0.1", 5060), ("127.0.0.1", 5066)
SET_TEXT, INCOMING_CALLER, DO_COMMAND = 0x89, 0xA5, 0xA9
BEGIN, WINDOW, END = 0x80, 0x81, 0xFE


def set_text(line, text):
    raw = text.encode("ascii")
    return bytes([SET_TEXT, 0x00, line, 0x00, len(raw)]) + raw


def display_incoming_call():
    body = b"a=" + bytes([BEGIN, WINDOW, 0x01])
    body += set_text(1, "Jane Doe") + set_text(2, "+44 1632 960961")
    body += bytes([INCOMING_CALLER, 0x01, 8]) + b"Jane Doe" + bytes([0x02, 13]) + b"+441632960961"
    return body + bytes([END])


def dial():
    number = b"+441632960962"
    return b"a=" + bytes([BEGIN, DO_COMMAND, 0x01, len(number)]) + number + bytes([END])


def request(src, dst, src_user, dst_user, cseq, call_id, body):
    head = (
        f"INFO sip:{dst_user}@{dst[0]}:{dst[1]} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {src[0]}:{src[1]};branch=z9hG4bK-aasp-{cseq}\r\n"
        f"Max-Forwards: 70\r\n"
        f"From: <sip:{src_user}@{src[0]}:{src[1]}>;tag=aasp-{src_user}\r\n"
        f"To: <sip:{dst_user}@{dst[0]}:{dst[1]}>;tag=aasp-{dst_user}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} INFO\r\n"
        f"Content-Type: message/x-aasp-signalling\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def ok(message):
    """200 OK echoing Via, From, To, Call-ID, CSeq."""
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [h for h in head[1:] if h.split(b":", 1)[0] in (b"Via", b"From", b"To", b"Call-ID", b"CSeq")]
    return b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"


def main():
    pbx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pbx.bind(PBX)
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(PHONE)
    for s in (pbx, phone):
        s.settimeout(5)
    exchanges = [
        (pbx, PBX, "pbx", phone, PHONE, "aastra-phone", 1, display_incoming_call()),
        (phone, PHONE, "aastra-phone", pbx, PBX, "pbx", 2, dial()),
    ]
    for sender, src, src_user, receiver, dst, dst_user, cseq, body in exchanges:
        sender.sendto(request(src, dst, src_user, dst_user, cseq, "aasp-1@127.0.0.1", body), dst)
        message, peer = receiver.recvfrom(65536)
        receiver.sendto(ok(message), peer)
        sender.recvfrom(65536)
        time.sleep(0.2)


if __name__ == "__main__":
    main()
