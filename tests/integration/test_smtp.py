"""Sending email codes over real SMTP connections (aiosmtpd in this process): plain, STARTTLS
with a login, and TLS from the first byte; certificates are checked."""

from __future__ import annotations

import datetime
import email.message
import ipaddress
import ssl
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mfa_flow.mail import Mailer, MailUnavailable, SmtpServer, code_message
from tests.support.server import free_port
from tests.support.smtp import SmtpServer as LocalSmtp
from tests.support.smtp import server_context


def login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"codes@acme", b"p@ss:word"))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the tests' own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("smtp-tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def message(to: str = "user@example.com") -> email.message.EmailMessage:
    return code_message(sender="sign-in@acme.example", to=to, code="314159", product="Acme", minutes=10)


async def test_plain_smtp_delivers_the_message():
    server = LocalSmtp().start()
    try:
        await Mailer(SmtpServer.from_url(server.url), "sign-in@acme.example").send(message())
    finally:
        server.stop()
    assert [m["To"] for m in server.mailbox.received] == ["user@example.com"]


async def test_starttls_upgrades_before_logging_in_and_a_server_without_it_is_refused(certificate):
    server = LocalSmtp(tls_context=server_context(*map(str, certificate)), require_starttls=True,
                      authenticator=login, auth_require_tls=True).start()
    url = f"smtp://codes%40acme:p%40ss%3Aword@127.0.0.1:{server.port}?starttls=1"
    try:
        trusted = ssl.create_default_context(cafile=str(certificate[0]))
        await Mailer(SmtpServer.from_url(url), "sign-in@acme.example", trust=trusted).send(message())
        with pytest.raises(MailUnavailable) as untrusted:  # the system's trust store knows no such CA
            await Mailer(SmtpServer.from_url(url), "sign-in@acme.example").send(message())
        assert "certificate" in str(untrusted.value).lower()
        assert "p@ss" not in str(untrusted.value)
    finally:
        server.stop()
    assert len(server.mailbox.received) == 1

    plain = LocalSmtp().start()
    try:
        with pytest.raises(MailUnavailable):  # asked for STARTTLS: never falls back to plain text
            await Mailer(SmtpServer.from_url(f"{plain.url}?starttls=1"), "a@b.example").send(message())
    finally:
        plain.stop()
    assert plain.mailbox.received == []


async def test_smtps_speaks_tls_from_the_first_byte(certificate):
    server = LocalSmtp(ssl_context=server_context(*map(str, certificate))).start()
    try:
        trusted = ssl.create_default_context(cafile=str(certificate[0]))
        await Mailer(SmtpServer.from_url(f"smtps://127.0.0.1:{server.port}"), "sign-in@acme.example",
                     trust=trusted).send(message("tls@example.com"))
    finally:
        server.stop()
    assert [m["To"] for m in server.mailbox.received] == ["tls@example.com"]


async def test_an_unreachable_server_is_a_clear_failure_within_the_timeout():
    with pytest.raises(MailUnavailable) as failed:
        await Mailer(SmtpServer.from_url(f"smtp://127.0.0.1:{free_port()}"), "a@b.example").send(message())
    assert "314159" not in str(failed.value)
