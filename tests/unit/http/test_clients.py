"""Whose address abuse limits count: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from mfa_flow.http.clients import client_address

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        ("192.0.2.9", ["198.51.100.1"], "192.0.2.9"),  # an untrusted peer's header is ignored
        ("10.0.0.2", ["198.51.100.1"], "198.51.100.1"),  # a trusted proxy's is believed
        ("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.3"], "198.51.100.1"),  # nearest untrusted hop
        ("10.0.0.2", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers read as one list
        ("10.0.0.2", ["not-an-address, 10.0.0.3"], "10.0.0.3"),  # a malformed hop ends the walk
        ("10.0.0.2", [], "10.0.0.2"),  # a trusted peer with no header is itself the client
        ("::1", ["[2001:db8::7]"], "2001:db8::7"),
        ("::ffff:10.0.0.2", ["198.51.100.1"], "198.51.100.1"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(peer, forwarded, expected):
    assert client_address(peer, forwarded, PROXIES) == expected


def test_with_no_trusted_proxy_the_socket_address_counts():
    assert client_address("10.0.0.2", ["198.51.100.1"], ()) == "10.0.0.2"
