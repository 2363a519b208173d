#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, cut from the bundled real captures in pcaps/.

Each seed is the application payload of a few packets (as tshark sees them), prefixed
with the two control bytes the dissector targets use to split input into chunks (see
src/fuzzing.rs `chunks`). Run from the repository root; needs tshark. The seeds are
committed, so tests and CI do not need tshark.
"""
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "corpus"

# target: [(capture, display filter, field)]
SOURCES = {
    "tls": [("tls12.pcap", "tcp.len>0", "tcp.payload"), ("tls13.pcap", "tcp.len>0", "tcp.payload")],
    "dtls": [("dtls12.pcap", "udp", "udp.payload"), ("dtls10.pcap", "udp", "udp.payload")],
    "http": [("pd-http-json.pcap", "tcp.len>0", "tcp.payload"), ("http-digest.pcap", "tcp.len>0", "tcp.payload")],
    "sip": [("sip-udp-g711-dtmf.pcap", "udp.port==5060", "udp.payload"), ("sip-tcp.pcap", "tcp.len>0", "tcp.payload"), ("sip-aasp.pcap", "udp", "udp.payload")],
    "sdp": [("sip-sdes-srtp.pcap", "sdp", "udp.payload"), ("sip-udp-g711-dtmf.pcap", "sdp", "udp.payload")],
    "rtp": [("rtp-no-signalling.pcap", "udp", "udp.payload"), ("sip-sdes-srtp.pcap", "udp.port==7001", "udp.payload")],
    "ldap": [("ldap-simple-bind.pcap", "tcp.len>0", "tcp.payload")],
    "snmp": [("snmp-v1-v2c.pcap", "udp", "udp.payload"), ("snmp-v3.pcap", "udp", "udp.payload")],
    "espa": [("espa444.pcap", "tcp.len>0", "tcp.payload")],
    "modbus": [("modbus.pcap", "tcp.len>0", "tcp.payload")],
    "tds": [("tds-not-sup.pcap", "tcp.len>0", "tcp.payload"), ("tds-login-only.pcap", "tcp.len>0", "tcp.payload")],
    "mqtt": [("mqtt.pcap", "tcp.len>0", "tcp.payload")],
    "smb": [("smb2-clear.pcap", "tcp.len>0", "tcp.payload"), ("smb1-nt1.pcap", "tcp.len>0", "tcp.payload")],
    "syslog": [("syslog-tcp.pcap", "tcp.len>0", "tcp.payload"), ("pd-syslog-udp.pcap", "udp", "udp.payload")],
    "mail": [("smtp-plain-auth.pcap", "tcp.len>0", "tcp.payload"), ("pop3.pcap", "tcp.len>0", "tcp.payload"), ("imap.pcap", "tcp.len>0", "tcp.payload"), ("ftp.pcap", "tcp.len>0", "tcp.payload")],
    "telnet_axi_cdr": [("telnet.pcap", "tcp.len>0", "tcp.payload"), ("axi.pcap", "tcp.len>0", "tcp.payload"), ("pd-cdr-tcp.pcap", "tcp.len>0", "tcp.payload")],
}

# Conversation targets (src/fuzzing.rs `conversation`): each TCP payload of the capture
# in order, cut into records of a header byte (0x80 = to the client, plus the length up
# to 127) and the bytes; the whole session is one seed.
CONVERSATIONS = {
    "pgsql": [("pgsql-cleartext-password.pcap", 5432), ("pgsql-scram.pcap", 5432), ("pgsql-tls.pcap", 5432)],
    "mysql": [("mysql-native.pcap", 3306), ("mysql-clear-password.pcap", 3306), ("mysql-tls.pcap", 3306)],
}


def conversation(capture, server_port):
    out = subprocess.run(
        ["tshark", "-r", str(ROOT / "pcaps" / capture), "-Y", "tcp.len>0", "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.payload"],
        capture_output=True, text=True, check=True).stdout
    seed = b""
    for line in out.splitlines():
        port, payload = line.split("\t")
        data = bytes.fromhex(payload.replace(":", ""))
        to_client = 0x80 if int(port) == server_port else 0
        for i in range(0, len(data), 127):
            piece = data[i:i + 127]
            seed += bytes([to_client | len(piece)]) + piece
    return seed


def payloads(capture, display_filter, field):
    out = subprocess.run(
        ["tshark", "-r", str(ROOT / "pcaps" / capture), "-Y", display_filter, "-T", "fields", "-e", field],
        capture_output=True, text=True, check=True).stdout
    return [bytes.fromhex(line.replace(":", "")) for line in out.split() if line and all(c in "0123456789abcdef:" for c in line)]


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    for target, sources in SOURCES.items():
        d = OUT / target
        d.mkdir(parents=True)
        n = 0
        for capture, display_filter, field in sources:
            chunks = payloads(capture, display_filter, field)
            if target == "sdp":
                # The SDP body alone: the parser gets no framing bytes.
                chunks = [c.split(b"\r\n\r\n", 1)[-1] for c in chunks]
            # One seed per message, and one of the first messages back to back.
            for p in chunks[:6]:
                (d / f"{capture}-{n}").write_bytes(bytes([len(p) // 2 % 256, 0]) + p)
                n += 1
            joined = b"".join(chunks[:8])
            (d / f"{capture}-stream").write_bytes(bytes([len(joined) // 3 % 256, 1]) + joined)
<<<<<<< HEAD
    for target, sources in CONVERSATIONS.items():
        d = OUT / target
        d.mkdir(parents=True)
        for capture, server_port in sources:
            (d / f"{capture}-conversation").write_bytes(conversation(capture, server_port))
=======
    # Every registered protocol's dissector runs over each of these (one stream per
    # capture of the dissector targets).
    (OUT / "registered").mkdir(parents=True)
    for stream in sorted(OUT.glob("*/*-stream")):
        if stream.parent.name not in ("sdp", "registered"):
            shutil.copy(stream, OUT / "registered" / stream.name)
>>>>>>> 1e480dd (ARCHITECTURE.md: a packet's way through the code and the files a new protocol touches; fuzzing: TARGETS is a slice, and a 'registered' target runs every registration in PROTOCOLS through the Dissector interface (seeds: every dissector target's stream seed), so a new protocol is fuzzed without a target of its own)
    # Link/IP decoding and the whole pipeline start from frames and files.
    for target in ["decode", "reassembly", "pipeline", "signatures", "config"]:
        (OUT / target).mkdir(parents=True)
    for i, capture in enumerate(["tls12.pcap", "mixed-linktypes.pcapng", "sip-udp-g711-dtmf.pcap", "ldap-simple-bind.pcap"]):
        shutil.copy(ROOT / "pcaps" / capture, OUT / "pipeline" / capture)
        frames = subprocess.run(["tshark", "-r", str(ROOT / "pcaps" / capture), "-c", "3", "-T", "fields", "-e", "frame.protocols"],
                                capture_output=True, text=True).stdout
        raw = (ROOT / "pcaps" / capture).read_bytes()
        (OUT / "decode" / f"{capture}-frame").write_bytes(raw[40:40 + 200])
        (OUT / "reassembly" / f"seed-{i}").write_bytes(bytes([0, 0, 0, 1, 5]) + b"hello" + bytes([0, 0, 0, 9, 3]) + b"xyz" + bytes([0, 0, 0, 6, 3]) + b"abc")
    # A whole tunnelled frame (VXLAN around SIP, make-tunnel-captures.sh), so the
    # decoder's tunnel layers are reached: the record's captured length is at 32.
    raw = (ROOT / "pcaps" / "vxlan-two-tenants-sip.pcap").read_bytes()
    length = int.from_bytes(raw[32:36], "little")
    (OUT / "decode" / "vxlan-two-tenants-sip.pcap-frame").write_bytes(raw[40:40 + length])
    shutil.copy(ROOT / "signatures" / "rules.toml", OUT / "signatures" / "rules.toml")
    shutil.copy(ROOT / "signatures" / "personal-data.toml", OUT / "signatures" / "personal-data.toml")
    (OUT / "config" / "example.toml").write_text(
        'min_tls_version = "1.3"\n[flow]\nmax_flows = 10\n[rules.1001]\nseverity = "low"\n'
        '[[suppress]]\nrule = 6001\ndst = "10.0.0.0/8"\nreason = "lab"\nexpires = "2027-01-31"\n')


if __name__ == "__main__":
    main()
