"""Email codes over SMTP (``aiosmtplib``): the server from ``MFA_FLOW_SMTP_URL``, the message
(plain text and HTML), and one send bounded in time.

``smtp://user:pass@host:port`` speaks plain SMTP (``?starttls=1`` upgrades with STARTTLS before
logging in, and refuses a server that cannot), ``smtps://`` is TLS from the first byte (port
465 by default). TLS certificates are verified against the system's trust store.
"""

from __future__ import annotations

import asyncio
import html
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from . import texts

SEND_TIMEOUT_SECONDS = 10.0  # for each step of the conversation (connect, greeting, each command)
SEND_DEADLINE_SECONDS = 30.0  # for the whole of one send


class MailUnavailable(Exception):
    """The SMTP server could not take the message; ``str()`` says why, never what was sent."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        """Parse ``MFA_FLOW_SMTP_URL``; a ``ValueError`` says what is wrong with it (not its password)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("MFA_FLOW_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("MFA_FLOW_SMTP_URL names no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("MFA_FLOW_SMTP_URL has a port that is not a number from 1 to 65535") from None
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"starttls"})
        if unknown:
            raise ValueError(f"MFA_FLOW_SMTP_URL has an unknown parameter {unknown[0]!r} (only starttls)")
        starttls = query.get("starttls", ["0"])[-1].lower() in ("1", "true", "yes", "on")
        implicit = parts.scheme == "smtps"
        if implicit and starttls:
            raise ValueError("MFA_FLOW_SMTP_URL: smtps:// is TLS already; starttls=1 is for smtp://")
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=starttls,
        )


def message_id(delivery_id: str, sender: str) -> str:
    """The ``Message-ID`` of one delivery, the same at every attempt: a message that reached the
    server but whose reply was lost is sent again (at least once), and receivers drop the copy."""
    return f"<{delivery_id}.code@{sender.rpartition('@')[2] or 'mfa-flow.invalid'}>"


def code_message(*, sender: str, to: str, code: str, product: str, minutes: int,
                 delivery_id: str | None = None, locale: str = "en") -> EmailMessage:
    """The email that carries a code, in the user's ``locale``: plain text with an HTML
    alternative, the code as six consecutive digits (so that mail apps offer to copy it), the
    product and the lifetime. With ``delivery_id``, its ``Message-ID`` is that delivery's
    (``message_id``)."""
    message = EmailMessage()
    message["Subject"] = texts.text(locale, "email.subject", product=product)
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = (message_id(delivery_id, sender) if delivery_id
                             else make_msgid(domain=sender.rpartition("@")[2] or None))
    lifetime = texts.text(locale, "email.lifetime", count=minutes)
    intro = texts.text(locale, "email.intro", product=product)
    expires = texts.text(locale, "email.expires", product=product, lifetime=lifetime)
    message.set_content(f"{intro}\n\n    {code}\n\n{expires}\n")
    direction = "rtl" if locale in texts.RIGHT_TO_LEFT else "ltr"
    message.add_alternative(
        f"<!doctype html><html lang=\"{locale}\" dir=\"{direction}\"><body style=\"font-family: sans-serif\">"
        f"<p>{html.escape(intro)}</p>"
        f"<p style=\"font-size: 2em; letter-spacing: 0.2em; font-weight: bold\" dir=\"ltr\">{code}</p>"
        f"<p>{html.escape(expires)}</p>"
        "</body></html>\n",
        subtype="html",
    )
    message["Content-Language"] = locale  # after the content: setting it clears Content-* headers
    return message


class Mailer:
    """Sends one message at a time to the configured server."""

    def __init__(self, server: SmtpServer, sender: str, trust: ssl.SSLContext | None = None) -> None:
        self.server = server
        self.sender = sender
        # Which certificates to believe: the system's trust store (a test passes its own CA).
        self.trust = trust

    async def send(self, message: EmailMessage) -> None:
        server = self.server
        try:
            async with asyncio.timeout(SEND_DEADLINE_SECONDS):  # a server that answers each step slowly
                await aiosmtplib.send(
                    message,
                    hostname=server.host,
                    port=server.port,
                    username=server.username,
                    password=server.password,
                    use_tls=server.implicit_tls,
                    start_tls=server.starttls,
                    tls_context=(self.trust or ssl.create_default_context()) if server.implicit_tls or server.starttls
                    else None,
                    timeout=SEND_TIMEOUT_SECONDS,
                )
        except (aiosmtplib.SMTPException, OSError) as exc:  # OSError: TimeoutError too
            # The server's reply or the connection error; the message (and its code) is not in it.
            why = (f"the send took more than {SEND_DEADLINE_SECONDS:g} s" if type(exc) is TimeoutError
                   else _first_line(exc))
            raise MailUnavailable(f"{type(exc).__name__}: {why}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else "no reason given"
