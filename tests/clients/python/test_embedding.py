"""What an embedding backend checks with the client, against a real server and worker: a
webhook received on a real endpoint and verified (and its forgeries refused), and result tokens
verified against the JWKS — also after the service rotated its signing key."""

from __future__ import annotations

import base64
import json

import pytest
from mfa_flow_client import ResultTokenVerifier, TokenVerificationError, WebhookVerificationError, verify_webhook
from mfa_flow_client.embedding import verify_result_token

from tests.support.cli import mfa_flow
from tests.support.names import unique
from tests.support.receiver import Receiver
from tests.support.waiting import eventually


@pytest.fixture
async def endpoint(admin):
    receiver = await Receiver().start()
    created = await admin.webhooks.create({"url": receiver.url, "events": ["flow.created", "flow.cancelled"]})
    yield receiver, created["secret"]
    await admin.webhooks.delete(created["id"])
    await receiver.stop()


@pytest.fixture
async def no_factors(admin):
    await admin.config.put({"factors": [], "policy": "user_controlled"})


async def test_a_webhook_received_verifies_with_the_endpoints_secret(admin, endpoint):
    receiver, secret = endpoint
    session = await admin.flows.start({"user": {"id": unique("hooked")}})
    await eventually(lambda: receiver.about(session.id), what="the webhook about the new flow")
    delivery = receiver.about(session.id)[0]
    message = verify_webhook(secret, delivery.body, delivery.headers)
    assert message["type"] == "flow.created" and message["data"]["flow_id"] == session.id
    # Header names in any case, the body as text: the same check.
    upper = {name.upper(): value for name, value in delivery.headers.items()}
    assert verify_webhook(secret, delivery.body.decode(), upper)["type"] == "flow.created"


async def test_a_forged_webhook_is_refused_naming_why(admin, endpoint):
    receiver, secret = endpoint
    session = await admin.flows.start({"user": {"id": unique("hooked")}})
    await eventually(lambda: receiver.about(session.id), what="the webhook about the new flow")
    delivery = receiver.about(session.id)[0]
    tampered = delivery.body.replace(session.id.encode(), b"00000000-0000-4000-8000-000000000000")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, tampered, delivery.headers)
    other = "whsec_" + base64.b64encode(bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(other, delivery.body, delivery.headers)
    unsigned = {k: v for k, v in delivery.headers.items() if k != "webhook-signature"}
    with pytest.raises(WebhookVerificationError, match="webhook-signature"):
        verify_webhook(secret, delivery.body, unsigned)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, b"\xff\xfe not utf-8", delivery.headers)


async def signed_in(admin) -> str:
    session = await admin.flows.start({"user": {"id": unique("token")}})
    assert session.flow["state"] == "done"
    return session.flow["result"]["token"]  # type: ignore[index]


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


async def test_a_result_token_verifies_after_a_key_rotation(service, admin, no_factors):
    verifier = ResultTokenVerifier(service[0].base_url, issuer="mfa-flow", audience="mfa-flow", cooldown=0)
    before = await signed_in(admin)
    assert (await verifier.verify(before))["iss"] == "mfa-flow"  # the key set is fetched and cached now

    rotated = mfa_flow(service[0], "keys", "rotate")
    assert rotated.code == 0, rotated.err
    after = await signed_in(admin)
    assert kid_of(after) != kid_of(before)

    claims = await verifier.verify(after)  # an unknown key: the set is fetched again
    assert claims["sid"] and claims["sub"].startswith("token-")
    assert (await verifier.verify(before))["sub"]  # the retired key still verifies its unexpired tokens
    assert (await admin.verify_result_token(after, issuer="mfa-flow", audience="mfa-flow"))["sid"] == claims["sid"]


async def test_a_changed_or_foreign_token_is_refused(service, admin, no_factors):
    token = await signed_in(admin)
    head, body, signature = token.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps({**json.loads(base64.urlsafe_b64decode(body + "==")),
                                                       "sub": "someone-else"}).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenVerificationError, match="signature"):
        await verify_result_token(f"{head}.{forged_body}.{signature}", service[0].base_url)
    with pytest.raises(TokenVerificationError, match="issuer"):
        await verify_result_token(token, service[0].base_url, issuer="another-service")
    with pytest.raises(TokenVerificationError, match="audience"):
        await verify_result_token(token, service[0].base_url, audience="another-app")
    with pytest.raises(TokenVerificationError, match="compact JWS"):
        await verify_result_token("not a token", service[0].base_url)


async def test_a_made_up_key_id_does_not_make_the_verifier_fetch_the_key_set_each_time(service, admin, no_factors):
    verifier = ResultTokenVerifier(service[0].base_url, cooldown=3600)
    await verifier.verify(await signed_in(admin))
    fetched_at = verifier._fetched_at
    token = await signed_in(admin)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "Ed25519", "kid": "made-up"}).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenVerificationError, match="made-up"):
        await verifier.verify(header + token[token.index("."):])
    assert verifier._fetched_at == fetched_at  # within the cooldown: no second fetch
