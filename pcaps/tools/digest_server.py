#!/usr/bin/env python3
"""Tiny HTTP Digest fixture server for cleartrace test captures.

Binds 127.0.0.1 only.  Any request without an `Authorization: Digest ...`
header gets `401` + `WWW-Authenticate: Digest realm="pbx", ..., qop="auth"`;
any request carrying one gets `200`.  The response is NOT validated: this is a
capture fixture, not an authentication server.

usage: digest_server.py [PORT]   (default 8081)
"""
from loopback import LoggingHandler, serve

# Fixed values so that regenerated captures differ as little as possible.
NONCE = "5f2c1a9e0d7b4c38a6e1f0b2c9d8e7a6"
OPAQUE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class Handler(LoggingHandler):
    name = "digest_server"
    protocol_version = "HTTP/1.1"  # keep-alive: curl retries on the same connection
    server_version = "pbx-provisioning/1.0"
    sys_version = ""

    def _reply(self, code, body, extra=()):
        data = body.encode()
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("digest "):
            self._reply(200, "provisioning ok\n")
        else:
            challenge = (
                f'Digest realm="pbx", nonce="{NONCE}", opaque="{OPAQUE}", '
                f'algorithm=MD5, qop="auth"'
            )
            self._reply(401, "authentication required\n", [("WWW-Authenticate", challenge)])

    do_GET = do_POST = do_HEAD = _handle


if __name__ == "__main__":
    serve(Handler, 8081)
