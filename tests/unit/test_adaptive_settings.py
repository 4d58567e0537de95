"""Adaptive MFA's settings: the proxy's geolocation headers, the GeoIP database file and the
history's days; a bad value stops the start with one line that names it."""

from __future__ import annotations

import pytest

from mfa_flow.app.signals import SignalSources
from mfa_flow.domain.adaptive import Signals
from mfa_flow.settings import Settings


def test_the_cloudflare_preset_and_the_comma_list(monkeypatch):
    monkeypatch.setenv("MFA_FLOW_GEO_HEADERS", "cloudflare")
    assert dict(Settings.from_env().geo_headers) == {
        "country": "CF-IPCountry", "region": "CF-Region-Code", "city": "CF-IPCity", "latitude": "CF-IPLatitude",
        "longitude": "CF-IPLongitude"}
    monkeypatch.setenv("MFA_FLOW_GEO_HEADERS", " country = X-Country , bot_score=X-Bot ")
    assert Settings.from_env().geo_headers == (("country", "X-Country"), ("bot_score", "X-Bot"))
    monkeypatch.delenv("MFA_FLOW_GEO_HEADERS")
    settings = Settings.from_env()
    assert (settings.geo_headers, settings.geoip_db, settings.sign_in_history_days) == ((), None, 180)


@pytest.mark.parametrize("name, value, said", [
    ("MFA_FLOW_GEO_HEADERS", "akamai", "MFA_FLOW_GEO_HEADERS must be cloudflare or a comma list"),
    ("MFA_FLOW_GEO_HEADERS", "postcode=X-Zip", "'postcode=X-Zip' is not signal=Header"),
    ("MFA_FLOW_GEO_HEADERS", "country=A,country=B", "country is named twice"),
    ("MFA_FLOW_GEOIP_DB", "/nowhere/city.mmdb", "MFA_FLOW_GEOIP_DB must be the path of a MaxMind-format"),
    ("MFA_FLOW_SIGN_IN_HISTORY_DAYS", "0", "MFA_FLOW_SIGN_IN_HISTORY_DAYS must be a whole number of days"),
])
def test_a_bad_value_names_the_setting(monkeypatch, name, value, said):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=said):
        Settings.from_env()


def test_a_file_that_is_no_maxmind_database_stops_the_start(monkeypatch, tmp_path):
    bad = tmp_path / "city.mmdb"
    bad.write_bytes(b"not a database")
    monkeypatch.setenv("MFA_FLOW_GEOIP_DB", str(bad))
    with pytest.raises(SystemExit, match="is not a readable MaxMind-format database"):
        SignalSources(Settings.from_env())


def test_headers_count_from_a_trusted_proxy_only_and_malformed_ones_are_unknown(monkeypatch):
    monkeypatch.setenv("MFA_FLOW_GEO_HEADERS", "cloudflare")
    sources = SignalSources(Settings.from_env())
    headers = {"CF-IPCountry": "fr", "CF-IPLatitude": "48.8", "CF-IPLongitude": "2.3", "CF-IPCity": "Paris"}
    assert sources.of_request("203.0.113.1", headers, from_trusted_proxy=True) == Signals(
        ip="203.0.113.1", country="FR", city="Paris", latitude=48.8, longitude=2.3)
    assert sources.of_request("203.0.113.1", headers, from_trusted_proxy=False) == Signals(ip="203.0.113.1")
    odd = {"CF-IPCountry": "XX", "CF-IPLatitude": "north", "CF-IPLongitude": "2.3"}
    assert sources.of_request("203.0.113.1", odd, from_trusted_proxy=True) == Signals(ip="203.0.113.1")
