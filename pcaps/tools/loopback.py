"""What the test peers share: sockets bound to 127.0.0.1 only (the captures are
taken on loopback and nothing may listen beyond it), and the serving half of the
HTTP peers (digest_server, proxy_server, pd_http_server), which log to stderr
under their own name.
"""
import socket
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def listener(port, timeout=None):
    """A TCP socket listening on 127.0.0.1:port for one connection at a time."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    srv.settimeout(timeout)
    return srv


def accept_one(port, timeout=None):
    """Waits for one connection on 127.0.0.1:port; returns it and its peer. The
    connection gets the same timeout as the wait."""
    srv = listener(port, timeout)
    conn, peer = srv.accept()
    srv.close()
    conn.settimeout(timeout)
    return conn, peer


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
