"""Adaptive MFA's signals against a real server (contract, third part, "Adaptive MFA"): a
trusted proxy's headers (the ``cloudflare`` preset and the comma list), believed from a trusted
peer only; the local GeoIP database, a MaxMind-format file this test writes itself; the page's
``device_id``; the embedding backend's ``context`` and its validation. The rules' arithmetic is
pinned at the service level (tests/integration/test_adaptive_rules.py)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from mfa_flow.domain.adaptive import great_circle_km
from tests.e2e.test_adaptive import PASSWORD, adaptive_on, with_totp
from tests.support.client import Api, FlowClient

# The test's own GeoIP database: documentation networks placed in Paris and in Tokyo.
PARIS_NET, TOKYO_NET = "203.0.113.0/24", "2001:db8::/32"
NO_LIMITS = {"MFA_FLOW_RATE_PASSWORDS": "0", "MFA_FLOW_RATE_FLOWS": "0"}


@pytest.fixture(scope="module")
def geoip_db(tmp_path_factory) -> str:
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    writer.insert_network(IPSet([PARIS_NET]), {
        "country": {"iso_code": "FR"}, "subdivisions": [{"iso_code": "IDF"}], "city": {"names": {"en": "Paris"}},
        "location": {"latitude": 48.8566, "longitude": 2.3522}})
    writer.insert_network(IPSet([TOKYO_NET]), {
        "country": {"iso_code": "JP"}, "city": {"names": {"en": "Tokyo"}},
        "location": {"latitude": 35.6762, "longitude": 139.6503}})
    path = tmp_path_factory.mktemp("geoip") / "city.mmdb"
    writer.to_db_file(str(path))
    return str(path)


@pytest.fixture(scope="module")
def behind_cloudflare(start_server, geoip_db):
    """Behind a proxy on this machine that sets Cloudflare's headers, with a GeoIP database."""
    return start_server(MFA_FLOW_TRUSTED_PROXIES="127.0.0.1/32,::1/128", MFA_FLOW_GEO_HEADERS="cloudflare",
                        MFA_FLOW_GEOIP_DB=geoip_db, **NO_LIMITS)


@pytest.fixture(scope="module")
def behind_own_proxy(start_server):
    return start_server(MFA_FLOW_TRUSTED_PROXIES="127.0.0.1/32,::1/128",
                        MFA_FLOW_GEO_HEADERS="country=X-Geo-Country,bot_score=X-Bot-Score", **NO_LIMITS)


@pytest.fixture(scope="module")
def no_trusted_proxy(start_server):
    """Geolocation headers named, but the peer (this machine) is no trusted proxy."""
    return start_server(MFA_FLOW_TRUSTED_PROXIES="10.0.0.0/8", MFA_FLOW_GEO_HEADERS="cloudflare", **NO_LIMITS)


async def page_sign_in(api: Api, user: dict, headers: dict | None = None, device_id: str | None = None) -> dict:
    """A sign-in page's flow (``device_id`` sent at its creation), its password sent with
    ``headers``, as a proxy would add them; the first transition's data."""
    reply = await api.call("POST", "/api/flows", json={"device_id": device_id} if device_id else {})
    assert reply.status == 201, reply
    flow = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
    sent = await api.call("POST", f"/api/flows/{flow.id}/events", flow.token, headers=headers,
                          json={"type": "submit_password", "username": user["username"], "password": PASSWORD})
    assert sent.status == 200, sent
    flow.flow = sent.body
    data = (await api.transitions(flow.id))[-1]["data"]
    if flow.state != "done":
        await flow.ok("cancel")  # a sign-in a rule fired on: left unfinished, it joins no history
    return data


def fired(data: dict) -> list[str]:
    return [f["rule"] for f in data["adaptive"]["fired"]]


# --- a trusted proxy's headers ------------------------------------------------------------------


async def test_cloudflares_headers_give_country_and_position(behind_cloudflare, http):
    api = Api(behind_cloudflare.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    paris = {"CF-IPCountry": "FR", "CF-Region-Code": "IDF", "CF-IPCity": "Paris", "CF-IPLatitude": "48.8566",
             "CF-IPLongitude": "2.3522"}
    first = await page_sign_in(api, user, paris)
    assert first["rule"] == "done.adaptive_no_risk" and first["adaptive"]["missing"] == [
        "geo_velocity", "untrusted_ip", "new_device"]
    again = await page_sign_in(api, user, paris)
    assert fired(again) == [] and "new_country" not in again["adaptive"]["missing"]
    tokyo = {"CF-IPCountry": "JP", "CF-IPLatitude": "35.6762", "CF-IPLongitude": "139.6503"}
    moved = await page_sign_in(api, user, tokyo)
    assert moved["rule"] == "verify.adaptive" and fired(moved) == ["new_country", "geo_velocity"]
    velocity = moved["adaptive"]["fired"][1]
    assert velocity["distance_km"] == round(great_circle_km((48.8566, 2.3522), (35.6762, 139.6503)))
    assert velocity["speed_kmh"] > 900
    assert "Tokyo" not in str(moved) and "35.67" not in str(moved)


async def test_a_comma_list_names_the_proxys_own_headers_bot_score_too(behind_own_proxy, http):
    api = Api(behind_own_proxy.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    assert fired(await page_sign_in(api, user, {"X-Geo-Country": "FR", "X-Bot-Score": "95"})) == []
    assert fired(await page_sign_in(api, user, {"X-Geo-Country": "FR", "X-Bot-Score": "80"})) == []
    bot = await page_sign_in(api, user, {"X-Geo-Country": "FR", "X-Bot-Score": "5"})
    assert bot["adaptive"]["fired"] == [{"rule": "untrusted_ip", "score": 5, "min_score": 30}]
    assert fired(await page_sign_in(api, user, {"X-Geo-Country": "DE", "X-Bot-Score": "80"})) == ["new_country"]
    assert fired(await page_sign_in(api, user, {"CF-IPCountry": "DE", "X-Bot-Score": "80"})) == []  # not named
    missing = await page_sign_in(api, user, {"CF-IPCountry": "DE"})
    assert "new_country" in missing["adaptive"]["missing"] and "untrusted_ip" in missing["adaptive"]["missing"]


async def test_headers_from_a_peer_that_is_no_trusted_proxy_are_not_believed(no_trusted_proxy, http):
    api = Api(no_trusted_proxy.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    await page_sign_in(api, user, {"CF-IPCountry": "FR"})
    forged = await page_sign_in(api, user, {"CF-IPCountry": "JP", "CF-IPLatitude": "35.6", "CF-IPLongitude": "139.6"})
    assert forged["rule"] == "done.adaptive_no_risk"
    assert {"new_country", "geo_velocity"} <= set(forged["adaptive"]["missing"])


# --- the GeoIP database -------------------------------------------------------------------------


async def test_the_geoip_database_places_the_client_address(behind_cloudflare, http):
    api = Api(behind_cloudflare.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    paris = {"X-Forwarded-For": "203.0.113.5"}  # the client's address, as the trusted proxy appended it
    assert fired(await page_sign_in(api, user, paris)) == []
    home = await page_sign_in(api, user, paris)
    assert fired(home) == [] and not {"new_country", "geo_velocity"} & set(home["adaptive"]["missing"])
    tokyo = await page_sign_in(api, user, {"X-Forwarded-For": "2001:db8::7"})
    assert fired(tokyo) == ["new_country", "geo_velocity"]
    unknown = await page_sign_in(api, user, {"X-Forwarded-For": "198.51.100.1"})  # not in the database
    assert {"new_country", "geo_velocity"} <= set(unknown["adaptive"]["missing"])
    # The proxy's headers come before the database: Paris's address, Germany's header.
    assert fired(await page_sign_in(api, user, {**paris, "CF-IPCountry": "DE"})) == ["new_country"]


async def test_the_embedding_backends_address_is_placed_too(behind_cloudflare, http):
    api = Api(behind_cloudflare.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    for context, rules in (({"ip": "203.0.113.5"}, []), ({"ip": "203.0.113.9"}, []),
                           ({"ip": "2001:db8::1"}, ["new_country", "geo_velocity"]),
                           ({"ip": "2001:db8::1", "country": "FR", "latitude": 48.85, "longitude": 2.35}, [])):
        reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, "context": context})
        assert reply.status == 201, reply
        data = (await api.transitions(reply.body["flow"]["id"]))[0]["data"]
        assert fired(data) == rules, (context, data)
        if reply.body["flow"]["state"] != "done":
            flow = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
            await flow.ok("cancel")


# --- the page's device and the backend's context ------------------------------------------------


async def test_the_pages_device_id_and_the_asserted_context(behind_own_proxy, http):
    api = Api(behind_own_proxy.base_url, http)
    await adaptive_on(api)
    user, _ = await with_totp(api)
    first = await page_sign_in(api, user, device_id="browser-one")
    assert fired(first) == ["new_device"]  # the first sign-in fires nothing but new_device
    assert fired(await page_sign_in(api, user, device_id="browser-two")) == ["new_device"]
    assert "new_device" in (await page_sign_in(api, user))["adaptive"]["missing"]
    # The backend's context is the most trusted: its device, its place.
    other, _ = await with_totp(api)
    for context, rules in (({"device_id": "d-1", "country": "FR"}, ["new_device"]),
                           ({"country": "FR", "bot_score": 90}, []),
                           ({"country": "FR", "bot_score": 3}, ["untrusted_ip"]),
                           ({"country": "BR"}, ["new_country"])):
        reply = await api.admin("POST", "/api/flows", {"user": {"id": other["id"]}, "context": context})
        assert reply.status == 201, reply
        assert fired((await api.transitions(reply.body["flow"]["id"]))[0]["data"]) == rules, context


@pytest.mark.parametrize(("body", "field"), [
    ({"context": {"latitude": 91, "longitude": 0}}, "context.latitude"),
    ({"context": {"latitude": 10}}, "context.longitude"),
    ({"context": {"ip": "300.1.1.1"}}, "context.ip"),
    ({"context": {"country": "FRA"}}, "context.country"),
    ({"context": {"bot_score": 101}}, "context.bot_score"),
    ({"context": {"bot_score": "high"}}, "context.bot_score"),
    ({"context": {"city": ""}}, "context.city"),
    ({"context": {"postcode": "75001"}}, "context"),
    ({"device_id": "with space"}, "device_id"),
])
async def test_a_context_that_does_not_hold_is_a_400_naming_the_field(behind_own_proxy, http, body, field):
    api = Api(behind_own_proxy.base_url, http)
    user, _ = await with_totp(api)
    reply = await api.admin("POST", "/api/flows", {"user": {"id": user["id"]}, **body})
    assert reply.status == 400, reply
    assert field in reply.problem["detail"], reply.problem


async def test_context_is_for_the_admin_keys_sign_in_flows_only(behind_own_proxy, http):
    api = Api(behind_own_proxy.base_url, http)
    reply = await api.call("POST", "/api/flows", json={"context": {"country": "FR"}})
    assert reply.status == 400 and "body.context" in reply.problem["detail"], reply
    user, _ = await with_totp(api)
    reply = await api.admin("POST", "/api/flows", {"purpose": "manage", "user": {"id": user["id"]},
                                                   "context": {"country": "FR"}})
    assert reply.status == 400 and "body.context" in reply.problem["detail"], reply


# --- the rules that read the history alone ------------------------------------------------------


async def test_long_inactivity_and_failure_burst_and_an_untrusted_network(behind_own_proxy, http, database_url):
    api = Api(behind_own_proxy.base_url, http)
    await adaptive_on(api, untrusted_ip={"networks": ["198.51.100.0/24"]},
                      failure_burst={"failures": 3, "minutes": 15})
    user, _ = await with_totp(api)
    assert fired(await page_sign_in(api, user, {"X-Bot-Score": "90"})) == []
    # An address in a configured network, as the trusted proxy gives it.
    assert fired(await page_sign_in(api, user, {"X-Forwarded-For": "198.51.100.7"})) == ["untrusted_ip"]
    assert fired(await page_sign_in(api, user, {"X-Forwarded-For": "203.0.113.7"})) == []

    async def last_sign_in(ago: timedelta) -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("UPDATE users SET last_sign_in_at = now() - $2::interval WHERE id = $1", user["id"], ago)
        finally:
            await conn.close()

    await last_sign_in(timedelta(days=40))
    away = await page_sign_in(api, user, {"X-Bot-Score": "90"})
    assert away["adaptive"]["fired"] == [{"rule": "long_inactivity", "days": 40}]
    await last_sign_in(timedelta(hours=1))

    for _ in range(3):  # someone guessing the password
        reply = await api.call("POST", "/api/flows", json={})
        flow = FlowClient(api, reply.body["flow"], reply.body["flow_token"])
        assert (await flow.send("submit_password", username=user["username"], password="guess")).status == 422
    burst = await page_sign_in(api, user, {"X-Bot-Score": "90"})
    assert burst["adaptive"]["fired"] == [{"rule": "failure_burst", "failures": 3, "minutes": 15}]
