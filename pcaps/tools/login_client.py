#!/usr/bin/env python3
"""Cleartext logins with Python's standard clients, for cleartrace test captures.

  login_client.py pop3 PORT   poplib:  USER, PASS, STAT, QUIT
  login_client.py imap PORT   imaplib: CAPABILITY, LOGIN, LIST "" "*", SELECT INBOX, LOGOUT
  login_client.py ftp PORT    ftplib:  USER, PASS, SYST, PWD, QUIT

All to 127.0.0.1:PORT, no TLS; user and password from $LOGIN_USER / $LOGIN_PASS
(PLANTED LEAK-TEST values, defined once in make-captures.sh).  Exits non-zero if the
login is refused.
"""
import ftplib
import imaplib
import os
import poplib
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("pop3", "imap", "ftp"):
        sys.exit("usage: login_client.py pop3|imap|ftp PORT")
    proto, port = sys.argv[1], int(sys.argv[2])
    user, password = os.environ.get("LOGIN_USER"), os.environ.get("LOGIN_PASS")
    if not user or not password:
        sys.exit("login_client: $LOGIN_USER / $LOGIN_PASS not set")
    if proto == "pop3":
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user(user)
        p.pass_(password)
        print("login_client: STAT", p.stat(), file=sys.stderr)
        p.quit()
    elif proto == "imap":
        m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        m.login(user, password)
        print("login_client: LIST", m.list(), file=sys.stderr)
        print("login_client: SELECT", m.select("INBOX"), file=sys.stderr)
        m.logout()
    else:
        f = ftplib.FTP(timeout=10)
        f.connect("127.0.0.1", port)
        f.login(user, password)
        print("login_client: SYST", f.sendcmd("SYST"), file=sys.stderr)
        print("login_client: PWD", f.pwd(), file=sys.stderr)
        f.quit()


if __name__ == "__main__":
    main()
