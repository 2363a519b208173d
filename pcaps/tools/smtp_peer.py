#!/usr/bin/env python3
"""SMTP server (aiosmtpd) and client (smtplib), for cleartrace test captures.

  smtp_peer.py server PORT [CERT KEY]
      aiosmtpd on 127.0.0.1:PORT, banner host mail.example.test, AUTH PLAIN / LOGIN
      offered before TLS (auth_require_tls=False), accepts only $MAIL_USER /
      $MAIL_PASS; with CERT KEY it also offers STARTTLS (not required).  Prints every
      message it accepts to stderr; runs until SIGTERM.
  smtp_peer.py client PORT MODE
      MODE auth-plain       EHLO, AUTH PLAIN, MAIL / RCPT / DATA, QUIT (all in clear)
      MODE starttls         EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL / RCPT / DATA, QUIT
                            (everything after STARTTLS inside TLS; certificate not checked)
      MODE ignore-starttls  EHLO (STARTTLS offered), no STARTTLS, no AUTH,
                            MAIL / RCPT / DATA, QUIT in clear
      The mail goes from $MAIL_FROM to $MAIL_TO; its body carries $MAIL_BODY_LINE.

The credentials and the body line come from the environment (defined once, in
make-captures.sh): PLANTED LEAK-TEST values, not real ones.
"""
import os
import signal
import smtplib
import ssl
import sys
import time
import warnings


def env(name):
    v = os.environ.get(name)
    if not v:
        sys.exit(f"smtp_peer: ${name} is not set")
    return v


def server(port, cert=None, key=None):
    warnings.simplefilter("ignore")     # aiosmtpd 1.4: "Session.login_data is deprecated"
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    user, password = env("MAIL_USER").encode(), env("MAIL_PASS").encode()

    class Handler:
        async def handle_DATA(self, srv, session, envelope):
            sys.stderr.write(f"smtp_peer: mail from {envelope.mail_from} to "
                             f"{envelope.rcpt_tos} tls={session.ssl is not None} "
                             f"auth={session.authenticated}\n"
                             + envelope.content.decode("utf-8", "replace") + "\n")
            sys.stderr.flush()
            return "250 2.0.0 Ok: queued"

    def authenticator(srv, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user and auth_data.password == password
        sys.stderr.write(f"smtp_peer: AUTH {mechanism} {'ok' if ok else 'refused'}\n")
        return AuthResult(success=ok)

    kwargs = dict(hostname="127.0.0.1", port=port, server_hostname="mail.example.test",
                  ident="ESMTP cleartrace-test", authenticator=authenticator,
                  auth_require_tls=False)
    if cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs.update(tls_context=ctx, require_starttls=False)
    # block the signals before the server thread starts (threads inherit the mask),
    # so that sigwait() below receives SIGTERM
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    ctl = Controller(Handler(), **kwargs)
    ctl.start()
    sys.stderr.write(f"smtp_peer: listening on 127.0.0.1:{port}\n")
    sys.stderr.flush()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    ctl.stop()


def client(port, mode):
    mail_from, rcpt = env("MAIL_FROM"), env("MAIL_TO")
    body = (f"From: Jane Doe <{mail_from}>\r\n"
            f"To: <{rcpt}>\r\n"
            "Subject: Callback request\r\n"
            "Date: Sun, 22 Nov 2026 21:50:00 +0000\r\n"
            "Message-ID: <callback-1@example.com>\r\n"
            "\r\n"
            + env("MAIL_BODY_LINE") + "\r\n"
            "Thanks, Jane\r\n")
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="agent-pc.example.test", timeout=10)
    s.ehlo()
    if "starttls" not in s.esmtp_features and mode != "auth-plain":
        sys.exit("smtp_peer: server does not offer STARTTLS")
    if mode == "starttls":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo()
    if mode in ("auth-plain", "starttls"):
        s.user, s.password = env("MAIL_USER"), env("MAIL_PASS")
        s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
    refused = s.sendmail(mail_from, [rcpt], body.encode("utf-8"))
    if refused:
        sys.exit(f"smtp_peer: refused {refused}")
    time.sleep(0.2)
    s.quit()


def main():
    a = sys.argv[1:]
    if len(a) in (2, 4) and a[0] == "server":
        server(int(a[1]), *a[2:])
    elif len(a) == 3 and a[0] == "client" and a[2] in ("auth-plain", "starttls", "ignore-starttls"):
        client(int(a[1]), a[2])
    else:
        sys.exit("usage: smtp_peer.py server PORT [CERT KEY] | client PORT auth-plain|starttls|ignore-starttls")


if __name__ == "__main__":
    main()
