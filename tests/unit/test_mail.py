"""The SMTP settings and the message that carries an email code (pure)."""

from __future__ import annotations

import pytest

from mfa_flow.mail import SmtpServer, code_message


@pytest.mark.parametrize("url, expected", [
    ("smtp://mail.example:2525", ("mail.example", 2525, None, None, False, False)),
    ("smtp://u%40x:p%3Ass@mail.example?starttls=1", ("mail.example", 25, "u@x", "p:ss", False, True)),
    ("smtps://u:p@mail.example", ("mail.example", 465, "u", "p", True, False)),
])
def test_the_url_names_the_server_its_login_and_its_tls(url, expected):
    server = SmtpServer.from_url(url)
    assert (server.host, server.port, server.username, server.password, server.implicit_tls, server.starttls) == expected


@pytest.mark.parametrize("url, says", [
    ("http://mail.example", "smtp:// or smtps://"),
    ("smtp://", "no host"),
    ("smtps://mail.example?starttls=1", "TLS already"),
    ("smtp://mail.example?tls=1", "unknown parameter"),
    ("smtp://u:secret-pass@mail.example:99999", "port"),
])
def test_a_wrong_url_is_refused_without_echoing_its_password(url, says):
    with pytest.raises(ValueError) as refused:
        SmtpServer.from_url(url)
    assert says in str(refused.value) and "secret-pass" not in str(refused.value)


def test_the_message_has_plain_text_and_html_with_the_code_the_product_and_the_lifetime():
    message = code_message(sender="a@acme.example", to="b@example.com", code="042137", product="Acme <Sign-In>",
                           minutes=10)
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "042137" in plain and "Acme <Sign-In>" in plain and "10 minutes" in plain
    assert "042137" in html and "Acme &lt;Sign-In&gt;" in html and "10 minutes" in html
    assert message["Subject"] == "Your Acme <Sign-In> verification code" and "042137" not in message["Subject"]
