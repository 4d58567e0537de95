"""Prove SoftAuthenticator against py_webauthn: good responses verify, each broken one is rejected."""
import json

import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from tests.support.soft_authenticator import AuthenticatorError, SoftAuthenticator, b64url

RP_ID = "localhost"
ORIGIN = "http://localhost:8080"
EVIL_CHALLENGE = b64url(b"not-the-challenge-the-server-issued")


def reg_options(user_id=b"user-alice", exclude=()):
    opts = generate_registration_options(
        rp_id=RP_ID, rp_name="mfa-flow", user_name="alice", user_id=user_id,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=i) for i in exclude],
    )
    return opts, json.loads(options_to_json(opts))


def auth_options(allow=()):
    opts = generate_authentication_options(
        rp_id=RP_ID, allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in allow])
    return opts, json.loads(options_to_json(opts))


def verify_reg(opts, response, **kw):
    return verify_registration_response(
        credential=response, expected_challenge=opts.challenge, expected_rp_id=RP_ID,
        expected_origin=ORIGIN, **kw)


def register(device, user_id=b"user-alice"):
    opts, opts_json = reg_options(user_id)
    return verify_reg(opts, device.create(opts_json))


def verify_auth(opts, response, reg, sign_count=0, **kw):
    return verify_authentication_response(
        credential=response, expected_challenge=opts.challenge, expected_rp_id=RP_ID,
        expected_origin=ORIGIN, credential_public_key=reg.credential_public_key,
        credential_current_sign_count=sign_count, **kw)


@pytest.fixture
def device():
    return SoftAuthenticator(origin=ORIGIN)


def test_registration_verifies(device):
    opts, opts_json = reg_options()
    response = device.create(opts_json)
    reg = verify_reg(opts, response, require_user_verification=True)
    cred = device.credentials[0]
    assert reg.credential_id == cred.id and response["id"] == cred.id_b64
    assert reg.credential_public_key == cred.cose_public_key()
    assert (reg.sign_count, reg.fmt, reg.user_verified, cred.rp_id) == (0, "none", True, RP_ID)
    assert cred.user_handle == b"user-alice"
    assert response["response"]["publicKeyAlgorithm"] == -7
    # The string form (what a browser POSTs) is accepted too.
    assert verify_reg(opts, json.dumps(response)).credential_id == cred.id


def test_authentication_verifies_and_sign_count_increases(device):
    reg = register(device)
    count = reg.sign_count
    for expected in (1, 2, 3):
        opts, opts_json = auth_options([reg.credential_id])
        response = device.get(opts_json)
        result = verify_auth(opts, json.dumps(response), reg, count, require_user_verification=True)
        assert result.credential_id == reg.credential_id
        assert result.new_sign_count == expected > count
        assert result.user_verified is True
        count = result.new_sign_count
    assert response["response"]["userHandle"] == b64url(b"user-alice")


def test_discoverable_login_with_empty_allow_list(device):
    reg = register(device)
    opts, opts_json = auth_options()
    response = device.get(opts_json)
    assert verify_auth(opts, response, reg).credential_id == reg.credential_id


# `match` pins the reason, so a case cannot pass because of some unrelated breakage.
@pytest.mark.parametrize("knob, reason", [
    ({"origin": "https://evil.example"}, "origin"),
    ({"rp_id": "evil.example"}, "RP ID hash"),
    ({"challenge": EVIL_CHALLENGE}, "challenge"),
    ({"type": "webauthn.get"}, "client data type"),
    ({"user_present": False}, "presence"),
])
def test_bad_registration_is_rejected(device, knob, reason):
    opts, opts_json = reg_options()
    with pytest.raises(InvalidRegistrationResponse, match=reason):
        verify_reg(opts, device.create(opts_json, **knob))


def test_registration_without_user_verification_rejected_when_required(device):
    opts, opts_json = reg_options()
    response = device.create(opts_json, user_verified=False)
    verify_reg(opts, response)  # fine when UV is not required
    with pytest.raises(InvalidRegistrationResponse, match="verification"):
        verify_reg(opts, response, require_user_verification=True)


@pytest.mark.parametrize("knob, reason", [
    ({"origin": "https://evil.example"}, "origin"),
    ({"rp_id": "evil.example"}, "RP ID hash"),
    ({"challenge": EVIL_CHALLENGE}, "challenge"),
    ({"tamper_signature": True}, "signature"),
    ({"type": "webauthn.create"}, "client data type"),
    ({"user_present": False}, "not present"),
])
def test_bad_authentication_is_rejected(device, knob, reason):
    reg = register(device)
    opts, opts_json = auth_options([reg.credential_id])
    with pytest.raises(InvalidAuthenticationResponse, match=reason):
        verify_auth(opts, device.get(opts_json, **knob), reg)


def test_authentication_without_user_verification_rejected_when_required(device):
    reg = register(device)
    opts, opts_json = auth_options([reg.credential_id])
    with pytest.raises(InvalidAuthenticationResponse, match="verification"):
        verify_auth(opts, device.get(opts_json, user_verified=False), reg, require_user_verification=True)


@pytest.mark.parametrize("forced", [5, 4])  # equal to, then lower than, the stored count
def test_non_increasing_sign_count_is_rejected(device, forced):
    reg = register(device)
    opts, opts_json = auth_options([reg.credential_id])
    assert verify_auth(opts, device.get(opts_json, counter=5), reg, 0).new_sign_count == 5
    opts, opts_json = auth_options([reg.credential_id])
    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
        verify_auth(opts, device.get(opts_json, counter=forced), reg, 5)


def test_cloned_credential_replays_counter_and_is_rejected(device):
    reg = register(device)
    clone_device = SoftAuthenticator(origin=ORIGIN)
    clone_device.credentials.append(device.credentials[0].clone())
    opts, opts_json = auth_options([reg.credential_id])
    count = verify_auth(opts, device.get(opts_json), reg, 0).new_sign_count  # original: 1
    opts, opts_json = auth_options([reg.credential_id])
    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):  # clone also says 1
        verify_auth(opts, clone_device.get(opts_json), reg, count)


def test_two_devices_keep_their_own_credentials(device):
    bob_device = SoftAuthenticator(origin=ORIGIN)
    alice = register(device, b"user-alice")
    bob = register(bob_device, b"user-bob")
    opts, opts_json = auth_options([alice.credential_id])
    with pytest.raises(AuthenticatorError):  # Bob's device has no key Alice's login asks for
        bob_device.get(opts_json)
    # Bob's device forcing its own key into Alice's login: signature fails under Alice's public key.
    response = bob_device.get(opts_json, credential_id=b64url(bob.credential_id))
    with pytest.raises(InvalidAuthenticationResponse, match="signature"):
        verify_auth(opts, response, alice)


def test_exclude_credentials_is_refused(device):
    reg = register(device)
    _, opts_json = reg_options(exclude=[reg.credential_id])
    with pytest.raises(AuthenticatorError):
        device.create(opts_json)
    # Another device is not affected by this exclusion.
    other = SoftAuthenticator(origin=ORIGIN)
    assert other.create(opts_json)["type"] == "public-key"


def test_misspelt_override_is_an_error(device):
    _, opts_json = reg_options()
    with pytest.raises(TypeError):
        device.create(opts_json, tamper_signature=True)  # only meaningful for get()
