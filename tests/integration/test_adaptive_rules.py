"""Adaptive MFA's rules at the service level, on a real database: each rule firing and not
firing on the signals of a sign-in and the user's sign-in history as the service wrote it
(contract, third part, "Adaptive MFA"); the history itself, its retention and its erasure.
The sign-ins' times are moved into the past with SQL where a rule needs days or hours to pass."""

from __future__ import annotations

import json
from datetime import timedelta

from mfa_flow.app.pipeline import utcnow
from mfa_flow.crypto import token_digest
from mfa_flow.domain import adaptive
from mfa_flow.domain.access import ADMIN, ANYONE, FLOW_TOKEN, Principal
from mfa_flow.domain.adaptive import Signals
from mfa_flow.domain.flow import Flow
from tests.integration.conftest import PASSWORD, InProcess, ServiceWith
from tests.support.otp import fresh_code

NO_SKIP = "prompt_at_sign_in_and_sign_up_mandatory"
PARIS = {"latitude": 48.8566, "longitude": 2.3522}
NEW_YORK = {"latitude": 40.7128, "longitude": -74.0060}
BERLIN = {"latitude": 52.52, "longitude": 13.405}


async def adaptive_on(service: InProcess, *enabled: str, **thresholds: dict) -> None:
    """Adaptive MFA on, with only the rules named enabled (all when none is named)."""
    rules = {name: {"enabled": not enabled or name in enabled, **thresholds.get(name, {})}
             for name in adaptive.RULES}
    await service.management.put_config({"factors": ["totp"], "policy": NO_SKIP,
                                         "adaptive": {"enabled": True, "rules": rules}})


async def user_with_totp(service: InProcess) -> tuple[dict, str]:
    user = await service.new_user()
    return user, (await service.management.add_factor(user["id"], {"type": "totp"}))["secret"]


async def asserted(service: InProcess, user: dict, **context) -> Flow:
    """A sign-in whose first factor the embedding backend asserts, with this ``context``."""
    flow, token = await service.flows.create({"id": user["id"]}, Principal(ADMIN), signals=Signals(**context))
    service.tokens[flow.id] = token
    return flow


async def decision(service: InProcess, flow: Flow) -> dict:
    """The first transition's data: the decision after the first factor."""
    return (await service.log(flow.id))[0]["data"]


async def fired(service: InProcess, user: dict, **context) -> list[dict]:
    """Sign in with ``context``; the rules that fired (a sign-in nothing fired on is done and
    joins the history; one a rule fired on is cancelled, and does not)."""
    flow = await asserted(service, user, **context)
    data = await decision(service, flow)
    if flow.state != "done":
        assert data["rule"] == "verify.adaptive", data
        await service.send(flow.id, "cancel")
    else:
        assert data["rule"] == "done.adaptive_no_risk", data
    return data["adaptive"]["fired"]


async def move_history_back(service: InProcess, user: dict, by: timedelta) -> None:
    """As though the user's sign-ins (and failures) happened ``by`` earlier."""
    await service.db.pool.execute("UPDATE sign_ins SET at = at - $2::interval WHERE user_id = $1", user["id"], by)
    await service.db.pool.execute(
        "UPDATE users SET last_sign_in_at = last_sign_in_at - $2::interval,"
        " recent_failures = ARRAY(SELECT f - $2::interval FROM unnest(recent_failures) AS f) WHERE id = $1",
        user["id"], by)


async def history_rows(service: InProcess, user: dict) -> list[dict]:
    rows = await service.db.pool.fetch("SELECT * FROM sign_ins WHERE user_id = $1 ORDER BY at DESC", user["id"])
    return [dict(r) for r in rows]


# --- the first sign-in, and what the log and the history hold ------------------------------------


async def test_the_first_sign_in_fires_nothing_but_new_device(service: InProcess):
    await adaptive_on(service)
    user, _ = await user_with_totp(service)
    flow = await asserted(service, user, country="FR", bot_score=90, **PARIS)
    assert flow.state == "done"
    assert (await decision(service, flow))["adaptive"] == {
        "evaluated": list(adaptive.RULES), "fired": [], "missing": ["geo_velocity", "new_device"]}

    other, _ = await user_with_totp(service)
    flow = await asserted(service, other, country="FR", device_id="laptop-1")
    assert flow.state == "totp_verify"
    assert (await decision(service, flow))["adaptive"]["fired"] == [{"rule": "new_device", "devices_seen": 0}]


async def test_a_sign_in_joins_the_history_and_the_log_holds_no_place(service: InProcess):
    await adaptive_on(service)
    user, secret = await user_with_totp(service)
    context = {"ip": "203.0.113.9", "country": "FR", "region": "IDF", "city": "Paris", "device_id": "laptop-1",
               **PARIS}
    flow = await asserted(service, user, **context)
    assert flow.state == "totp_verify"  # new_device fired
    stored = await service.stored(flow.id)
    assert stored.context.signals is not None and "Paris" not in json.dumps(stored.context.to_json())  # sealed
    done = await service.send(flow.id, "submit_totp", code=await fresh_code(secret))
    assert done.state == "done"

    [row] = await history_rows(service, user)
    assert (row["country"], row["region"], row["city"], row["latitude"], row["longitude"]) == (
        "FR", "IDF", "Paris", PARIS["latitude"], PARIS["longitude"])
    assert row["device"] == adaptive.device_digest("laptop-1") and str(row["flow_id"]) == flow.id
    assert (await service.stored(flow.id)).context.signals is None  # the flow keeps them no longer
    log = json.dumps(await service.log(flow.id), default=str)
    for kept_out in ("203.0.113", "Paris", "IDF", "48.85", "2.35", "laptop-1"):
        assert kept_out not in log
    user_row = await service.db.pool.fetchrow("SELECT last_sign_in_at FROM users WHERE id = $1", user["id"])
    assert user_row["last_sign_in_at"] is not None


async def test_a_flow_that_does_not_end_done_keeps_no_signals_and_adds_no_history(service: InProcess):
    await adaptive_on(service)
    user, _ = await user_with_totp(service)
    flow = await asserted(service, user, country="FR", device_id="laptop-1")
    cancelled = await service.send(flow.id, "cancel")
    assert cancelled.state == "cancelled" and (await service.stored(flow.id)).context.signals is None
    assert await history_rows(service, user) == []


# --- each rule, firing and not ------------------------------------------------------------------


async def test_new_country_within_the_window(service: InProcess):
    await adaptive_on(service, "new_country", new_country={"window_days": 180})
    user, _ = await user_with_totp(service)
    assert await fired(service, user, country="FR") == []
    assert await fired(service, user, country="FR") == []
    assert await fired(service, user, country="US") == [{"rule": "new_country", "days": 180, "countries_seen": 1}]
    await move_history_back(service, user, timedelta(days=181))  # France seen, but longer ago than the window
    assert await fired(service, user, country="FR") == [{"rule": "new_country", "days": 180, "countries_seen": 0}]


async def test_geo_velocity_from_the_last_sign_in_with_a_position(service: InProcess):
    await adaptive_on(service, "geo_velocity", geo_velocity={"max_kmh": 900})
    user, _ = await user_with_totp(service)
    assert await fired(service, user, **PARIS) == []
    await move_history_back(service, user, timedelta(hours=2))
    assert await fired(service, user) == []  # no position now: missing, and the sign-in has none to give
    [travel] = await fired(service, user, **NEW_YORK)  # 5837 km in two hours (and the test's seconds)
    assert travel["rule"] == "geo_velocity" and travel["distance_km"] == 5837 and travel["hours"] == 2.0
    assert 2910 < travel["speed_kmh"] <= 2919
    assert await fired(service, user, **BERLIN) == []  # 878 km in two hours: 439 km/h


async def test_geo_velocity_is_missing_without_a_position_on_either_side(service: InProcess):
    await adaptive_on(service, "geo_velocity")
    user, _ = await user_with_totp(service)
    assert await fired(service, user, country="FR") == []
    flow = await asserted(service, user, **PARIS)
    assert (await decision(service, flow))["adaptive"]["missing"] == ["geo_velocity"]


async def test_long_inactivity(service: InProcess):
    await adaptive_on(service, "long_inactivity", long_inactivity={"days": 30})
    user, _ = await user_with_totp(service)
    assert await fired(service, user) == []
    await move_history_back(service, user, timedelta(days=29))
    assert await fired(service, user) == []  # and this sign-in is the last one now
    await move_history_back(service, user, timedelta(days=45))
    assert await fired(service, user) == [{"rule": "long_inactivity", "days": 45}]


async def test_untrusted_ip_by_bot_score_and_by_network(service: InProcess):
    await adaptive_on(service, "untrusted_ip", untrusted_ip={"min_bot_score": 30, "networks": ["198.51.100.0/24"]})
    user, _ = await user_with_totp(service)
    assert await fired(service, user, bot_score=80) == []
    assert await fired(service, user, bot_score=12) == [{"rule": "untrusted_ip", "score": 12, "min_score": 30}]
    assert await fired(service, user, bot_score=30) == []
    assert await fired(service, user, ip="198.51.100.20") == [{"rule": "untrusted_ip", "network": 0}]
    assert await fired(service, user, ip="203.0.113.1") == []
    flow = await asserted(service, user, country="FR")  # neither a score nor an address
    assert (await decision(service, flow))["adaptive"]["missing"] == ["untrusted_ip"]


async def test_new_device(service: InProcess):
    await adaptive_on(service, "new_device")
    user, secret = await user_with_totp(service)
    flow = await asserted(service, user, device_id="laptop-1")
    assert flow.state == "totp_verify"
    await service.send(flow.id, "submit_totp", code=await fresh_code(secret))  # the laptop joins the history
    assert await fired(service, user, device_id="laptop-1") == []
    assert await fired(service, user, device_id="phone-1") == [{"rule": "new_device", "devices_seen": 1}]
    flow = await asserted(service, user)
    assert (await decision(service, flow))["adaptive"]["missing"] == ["new_device"]


async def test_the_pages_device_id_is_kept_from_the_flows_creation(service: InProcess):
    await adaptive_on(service, "new_device")
    user, _ = await user_with_totp(service)
    await service.db.pool.execute(
        "INSERT INTO sign_ins (user_id, flow_id, at, device) VALUES ($1, gen_random_uuid(), now(), $2)",
        user["id"], adaptive.device_digest("laptop-1"))
    await service.db.pool.execute("UPDATE users SET last_sign_in_at = now() WHERE id = $1", user["id"])
    for device, expected in (("laptop-1", "done"), ("phone-1", "totp_verify")):
        flow, token = await service.flows.create(None, ANYONE, device_id=device)
        after = await service.flows.apply(flow.id, {"type": "submit_password", "username": user["username"],
                                                    "password": PASSWORD}, Principal(FLOW_TOKEN, token_digest(token)))
        assert after.state == expected, (device, await decision(service, after))


async def test_failure_burst_counts_failed_first_factors_within_the_minutes(service_with: ServiceWith):
    service = await service_with(lockout_threshold=50)
    await adaptive_on(service, "failure_burst", failure_burst={"failures": 3, "minutes": 15})
    user, _ = await user_with_totp(service)
    assert await fired(service, user) == []
    for _ in range(3):
        flow = await service.start()
        problem = await service.refused(flow.id, "submit_password", username=user["username"], password="wrong")
        assert problem.status == 422
    assert await fired(service, user) == [{"rule": "failure_burst", "failures": 3, "minutes": 15}]
    await move_history_back(service, user, timedelta(minutes=16))
    assert await fired(service, user) == []


async def test_signals_through_an_event_come_after_those_the_flow_was_created_with(service: InProcess):
    """A page's sign-in: the device from the flow's creation, the place from the first factor's
    request (a trusted proxy's headers, the GeoIP database: ``SignalSources.of_request``)."""
    await adaptive_on(service, "new_country")
    user, _ = await user_with_totp(service)
    assert await fired(service, user, country="FR") == []
    flow, token = await service.flows.create(None, ANYONE, device_id="laptop-1")
    after = await service.flows.apply(flow.id, {"type": "submit_password", "username": user["username"],
                                                "password": PASSWORD}, Principal(FLOW_TOKEN, token_digest(token)),
                                      signals=Signals(country="JP"))
    assert after.state == "totp_verify"
    assert (await decision(service, after))["adaptive"]["fired"] == [
        {"rule": "new_country", "days": 180, "countries_seen": 1}]


# --- the history: retention and erasure ---------------------------------------------------------


async def test_the_history_is_pruned_after_its_days_and_erased_with_the_user(service: InProcess):
    await adaptive_on(service, "new_country")
    user, _ = await user_with_totp(service)
    assert await fired(service, user, country="FR") == []
    days = service.settings.sign_in_history_days
    await move_history_back(service, user, timedelta(days=days + 1))
    # Older than the history keeps: not read, so France is new again.
    assert await fired(service, user, country="FR") == [{"rule": "new_country", "days": 180, "countries_seen": 0}]
    assert len(await history_rows(service, user)) == 1  # a sign-in a rule fired on and that was cancelled adds none
    async with service.db.unit_of_work() as uow:  # the worker's upkeep
        assert await uow.sign_ins.forget_before(utcnow() - timedelta(days=days), 100) == 1
        await uow.commit()
    assert await history_rows(service, user) == []

    other, _ = await user_with_totp(service)
    assert await fired(service, other, country="FR") == []
    assert len(await history_rows(service, other)) == 1
    await service.management.delete_user(other["id"])
    assert await history_rows(service, other) == []
