"""An SMTP server for the notification tests (aiosmtpd): STARTTLS required before MAIL,
AUTH PLAIN/LOGIN checked against the user and password given, each message received written
as JSON (envelope, raw content, whether TLS and AUTH were in force) into OUTDIR.

Usage: smtp_sink.py HOST PORT CERT KEY OUTDIR USER PASSWORD
Prints "ready" once listening; stops when its standard input closes."""

import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

host, port, cert, key, outdir, user, password = sys.argv[1:8]


class Sink:
    received = 0

    async def handle_DATA(self, server, session, envelope):
        Sink.received += 1
        raw = envelope.original_content or envelope.content
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content": raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
        }
        path = os.path.join(outdir, "%d.json" % Sink.received)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == user.encode()
        and auth_data.password == password.encode()
    )
    return AuthResult(success=ok)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Sink(),
    hostname=host,
    port=int(port),
    tls_context=context,
    require_starttls=True,
    authenticator=authenticate,
    auth_require_tls=True,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
