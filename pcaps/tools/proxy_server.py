#!/usr/bin/env python3
"""Tiny fake HTTP proxy for cleartrace test captures.

Binds 127.0.0.1 only and answers `200` to any request (it never forwards
anything).  It exists so that curl sends a proxy-form request
(`GET http://host/ HTTP/1.1` + `Proxy-Authorization: Basic ...`) to it.

usage: proxy_server.py [PORT]   (default 3128)
"""
from loopback import LoggingHandler, serve


class Handler(LoggingHandler):
    name = "proxy_server"
    protocol_version = "HTTP/1.1"
    server_version = "fake-proxy/1.0"
    sys_version = ""

    def _handle(self):
        data = b"<html><body>intranet</body></html>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = _handle


if __name__ == "__main__":
    serve(Handler, 3128)
