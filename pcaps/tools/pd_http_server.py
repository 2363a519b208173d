#!/usr/bin/env python3
"""HTTP fixture server with PLANTED fake personal data, for cleartrace test captures.

Binds 127.0.0.1 only.  HTTP/1.1 keep-alive, so curl with several URLs reuses
one connection.

  POST /signup                 reads the (form) body, answers 200 text/plain
                               "signup received" -- no personal data in the reply.
  GET  /directory/jane         200 application/json, the directory entry below,
                               Content-Length framing.
  GET  /directory/jane?chunked=1
                               the same JSON with Transfer-Encoding: chunked,
                               split over two chunks (at a field boundary, so
                               no planted value is cut in two).
  GET  /directory/jane         with `Accept-Encoding: ... gzip ...` (curl
                               --compressed): the same JSON gzip-compressed,
                               Content-Encoding: gzip, Content-Length framing.

Every value in DIRECTORY_ENTRY is fake (documentation / test ranges); it
exists only so tests can check that the sensor finds it and never writes it
out unmasked.

usage: pd_http_server.py [PORT]   (default 8080)
"""
import gzip
from loopback import LoggingHandler, serve
from urllib.parse import parse_qs, urlsplit

# Key order is kept; compact separators, as a typical API would send it.
DIRECTORY_JSON = (
    '{"displayName":"Jane Doe","mail":"jane.doe@example.com",'
    '"telephoneNumber":"+44 1632 960961","iban":"GB82WEST12345698765432",'
    '"ssn":"123-45-6789","nino":"AB 12 34 56 C","card":"5500-0000-0000-0004"}'
).encode()
# chunk boundary: right after the "telephoneNumber" field
SPLIT_AT = DIRECTORY_JSON.index(b'"iban"')


class Handler(LoggingHandler):
    name = "pd_http_server"
    protocol_version = "HTTP/1.1"
    server_version = "pbx-directory/1.0"
    sys_version = ""

    def _send(self, code, ctype, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n:
            self.rfile.read(n)          # read and forget the form
        if urlsplit(self.path).path == "/signup":
            self._send(200, "text/plain", b"signup received\n")
        else:
            self._send(404, "text/plain", b"not found\n")

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path != "/directory/jane":
            self._send(404, "text/plain", b"not found\n")
            return
        query = parse_qs(url.query)
        if query.get("chunked") == ["1"]:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (DIRECTORY_JSON[:SPLIT_AT], DIRECTORY_JSON[SPLIT_AT:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if "gzip" in self.headers.get("Accept-Encoding", "").lower():
            # mtime=0: identical bytes on every run
            body = gzip.compress(DIRECTORY_JSON, mtime=0)
            self._send(200, "application/json", body,
                       [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
            return
        self._send(200, "application/json", DIRECTORY_JSON)

    do_HEAD = do_GET


if __name__ == "__main__":
    serve(Handler, 8080)
