"""A real SMTP server in the test process (aiosmtpd), and its mailbox."""

from __future__ import annotations

import email
import email.policy
import re
import ssl
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from .server import free_port
from .waiting import eventually


class Mailbox:
    """aiosmtpd's handler: keeps every message it accepts, with its envelope's recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    @property
    def received(self) -> list[EmailMessage]:
        return [message for _, message in self.messages]

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message in self.messages if address in rcpt]

    async def next_code(self, address: str, after: int) -> str:
        """The code of the first message to ``address`` beyond the ``after`` ones already read."""
        messages = await eventually(lambda: self.to(address)[after:], what=f"a message to {address}", timeout=15)
        return code_of(messages[0])


def code_of(message: EmailMessage) -> str:
    """The one six-digit code in a message's plain text."""
    text = message.get_body(("plain",)).get_content()
    found = re.findall(r"(?<!\d)(\d{6})(?!\d)", text)
    assert len(found) == 1, text
    return found[0]


class SmtpServer:
    """An SMTP server on a port of its own, which a test may stop and start again."""

    def __init__(self, **options) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.options = options  # aiosmtpd's: tls_context, ssl_context, authenticator...
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **self.options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
