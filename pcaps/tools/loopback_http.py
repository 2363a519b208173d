"""The serving half of the test HTTP peers (digest_server, proxy_server,
pd_http_server): a loopback-only HTTP/1.1 server that logs to stderr under the
peer's name, on the port given as the first argument.
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class LoggingHandler(BaseHTTPRequestHandler):
    """Request log lines go to stderr, prefixed with `name`."""

    name = "http"

    def log_message(self, fmt, *args):
        sys.stderr.write(f"{self.name}: " + (fmt % args) + "\n")


def serve(handler, default_port):
    port = int(sys.argv[1]) if len(sys.argv) > 1 else default_port
    srv = HTTPServer(("127.0.0.1", port), handler)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
