"""OpenID Connect, the service: clients (Management API), pushed requests, authorizations
(each a flow), codes, tokens. The protocol's rules are in ``mfa_flow/oidc/`` (pure); this
module stores and reads through the unit of work, and starts flows through ``FlowService``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from .. import logs, texts
from ..crypto import new_token, token_digest
from ..domain import machine
from ..domain.access import SYSTEM, Principal, check_access
from ..domain.errors import Conflict, NotFound, UserLocked
from ..domain.flow import Flow
from ..domain.policy import MfaConfig
from ..keyring import Keyring
from ..oidc import assertions, grants
from ..oidc import requests as authz
from ..oidc.clients import Client, checked_registration, new_client_id, new_secret
from ..oidc.discovery import endpoint_audiences
from ..oidc.errors import OAuthError, invalid_client, invalid_grant, page_error
from ..oidc.requests import AuthorizationRequest
from ..settings import Settings
from ..store import Database, UnitOfWork
from ..tokens import id_token_claims
from .flows import FlowService
from .pipeline import utcnow

log = logs.get(__name__)

# How the browser is sent back for a flow that ended otherwise than ``done``.
_ENDED = {
    machine.CANCELLED: "the user cancelled the sign-in",
    machine.FAILED: "the sign-in failed (too many wrong attempts)",
    machine.EXPIRED: "the sign-in was not finished in time",
}


@dataclass(frozen=True)
class SignInPage:
    """Where /oidc/authorize sends the browser: the sign-in page bound to a new flow."""

    flow: Flow
    flow_token: str
    ui_locales: str | None


class OidcService:
    def __init__(self, db: Database, settings: Settings, flows: FlowService, keyring: Keyring) -> None:
        self.db = db
        self.settings = settings
        self.flows = flows
        self.keyring = keyring
        self.issuer = settings.oidc_issuer

    # --- clients (Management API) -------------------------------------------------------------

    async def register(self, body: Mapping[str, Any]) -> tuple[Client, str | None]:
        """A new client; its secret (when its method uses one) is returned here and never again."""
        fields = checked_registration(dict(body))
        now = utcnow()
        client = Client(id=new_client_id(), created_at=now, updated_at=now, **fields)
        secret = self._new_secret(client) if client.uses_secret else None
        async with self.db.unit_of_work() as uow:
            await uow.oidc.add_client(client)
            await uow.commit()
        log.info("oidc client registered", client_id=client.id, kind=client.kind,
                 auth_method=client.token_endpoint_auth_method)
        return client, secret

    async def clients(self) -> list[Client]:
        async with self.db.unit_of_work(readonly=True) as uow:
            return await uow.oidc.clients()

    async def client(self, client_id: str) -> Client:
        async with self.db.unit_of_work(readonly=True) as uow:
            client = await uow.oidc.client(client_id)
        if client is None:
            raise NotFound(f"client {client_id}")
        return client

    async def update(self, client_id: str, body: Mapping[str, Any]) -> tuple[Client, str | None]:
        """Change a client; a change to a method that uses a secret, from one that did not,
        makes a secret (returned once), and a change away from one forgets it."""
        async with self.db.unit_of_work() as uow:
            client = await uow.oidc.client(client_id, lock=True)
            if client is None:
                raise NotFound(f"client {client_id}")
            had_secret = client.uses_secret
            for name, value in checked_registration(dict(body), client).items():
                setattr(client, name, value)
            secret = None
            if client.uses_secret and not had_secret:
                secret = self._new_secret(client)
            elif not client.uses_secret:
                client.secret_digest = client.previous_secret_digest = client.previous_secret_expires_at = None
            client.updated_at = utcnow()
            await uow.oidc.save_client(client)
            await uow.commit()
        log.info("oidc client changed", client_id=client_id, fields=sorted(body))
        return client, secret

    async def delete(self, client_id: str) -> None:
        """Delete a client: its pending requests and authorizations go with it (their codes
        and access tokens stop working)."""
        async with self.db.unit_of_work() as uow:
            if not await uow.oidc.delete_client(client_id):
                raise NotFound(f"client {client_id}")
            await uow.commit()
        log.info("oidc client deleted", client_id=client_id)

    async def rotate_secret(self, client_id: str) -> tuple[Client, str]:
        """A new secret (returned once); the old one keeps working for ``MFA_FLOW_OIDC_SECRET_OVERLAP``."""
        async with self.db.unit_of_work() as uow:
            client = await uow.oidc.client(client_id, lock=True)
            if client is None:
                raise NotFound(f"client {client_id}")
            if not client.uses_secret:
                raise Conflict(f"the client authenticates with {client.token_endpoint_auth_method}, which uses no"
                               " secret; change its keys (jwks) instead", kind="no-client-secret")
            now = utcnow()
            client.previous_secret_digest = client.secret_digest
            client.previous_secret_expires_at = now + timedelta(seconds=self.settings.oidc_secret_overlap)
            secret = self._new_secret(client)
            client.updated_at = now
            await uow.oidc.save_client(client)
            await uow.commit()
        log.info("oidc client secret rotated", client_id=client_id, overlap_seconds=self.settings.oidc_secret_overlap)
        return client, secret

    @staticmethod
    def _new_secret(client: Client) -> str:
        secret = new_secret()
        client.secret_digest = token_digest(secret)
        return secret

    # --- client authentication (PAR and token endpoints) ---------------------------------------

    async def authenticate(self, uow: UnitOfWork, authorization: str | None, form: Mapping[str, str],
                           now: datetime) -> Client:
        """The client a request authenticates as, with the one method it registered; else
        ``invalid_client``. A ``private_key_jwt`` assertion is accepted once (its ``jti``)."""
        credentials = assertions.presented(authorization, form)
        client = assertions.authenticated(await uow.oidc.client(credentials.client_id), credentials, now)
        if form.get("client_id") not in (None, client.id):
            raise invalid_client("client_id names another client than the one that authenticated")
        if credentials.assertion is not None:
            jti, expires = assertions.checked_assertion(client, credentials.assertion, endpoint_audiences(self.issuer),
                                                        now)
            if not await uow.oidc.assertion_seen(client.id, jti, expires):
                raise invalid_client("client_assertion was used before (its jti); sign a new one per request")
        return client

    # --- pushed authorization requests (RFC 9126) -------------------------------------------

    async def push(self, authorization: str | None, form: Mapping[str, Any]) -> tuple[str, int]:
        """Check and keep an authorization request; the request_uri that names it, and how
        many seconds it lives."""
        now = utcnow()
        async with self.db.unit_of_work() as uow:
            client = await self.authenticate(uow, authorization, _first_values(form), now)
            try:
                redirect_uri = authz.redirect_target(form, client)
            except OAuthError as error:  # no redirect at PAR: the answer goes to the client itself
                raise OAuthError(error.error, error.description) from None
            request = authz.parse(form, client, redirect_uri, pushed=True)
            reference = new_token("pr")
            await uow.oidc.push(token_digest(reference), request,
                                now + timedelta(seconds=grants.PUSHED_REQUEST_TTL))
            await uow.commit()
        return grants.REQUEST_URI_PREFIX + reference, grants.PUSHED_REQUEST_TTL

    # --- the authorization endpoint ---------------------------------------------------------

    async def authorize(self, query: Mapping[str, Any]) -> SignInPage | str:
        """Start the flow of an authorization request (pushed, or in the query for a sign-in
        client): the sign-in page bound to it, or the redirect URI with an error. Raises an
        ``OAuthError`` that may not redirect (unknown client, wrong redirect URI)."""
        client_id = authz.single_or_page_error(query, "client_id")
        if client_id is None:
            raise page_error("client_id is required")
        now = utcnow()
        async with self.db.unit_of_work() as uow:
            client = await uow.oidc.client(client_id)
            if client is None:
                raise page_error(f"no client {client_id[:60]!r} is registered")
            config = await self._config(uow)
            reference = authz.single_or_page_error(query, "request_uri")
            if reference is not None:
                request = await self._pushed(uow, client, reference, now)
                await uow.commit()  # the request_uri is spent, whatever follows
            else:
                redirect_uri = authz.redirect_target(query, client)
                try:
                    request = authz.parse(query, client, redirect_uri, pushed=False)
                except OAuthError as error:
                    return grants.error_redirect(redirect_uri, _state(query), self.issuer, error)
        if isinstance(request, str):
            return request  # an error for the redirect URI
        if request.step_up and not config.primary:
            return grants.redirect(request, self.issuer, error="unmet_authentication_requirements",
                                   error_description="a second factor was asked for, and no primary factor is"
                                                     " enabled here")
        return await self._start(client, request)

    async def _pushed(self, uow: UnitOfWork, client: Client, reference: str,
                      now: datetime) -> AuthorizationRequest | str:
        """The pushed request a request_uri names, used once and within its minute; a
        redirect with an error when it is spent or late."""
        if not reference.startswith(grants.REQUEST_URI_PREFIX):
            raise page_error("request_uri is not one this provider issued (urn:ietf:params:oauth:request_uri:...)")
        pushed = await uow.oidc.take_pushed(token_digest(reference.removeprefix(grants.REQUEST_URI_PREFIX)), now)
        if pushed is None or pushed[0] != client.id:
            raise page_error("request_uri is unknown for this client_id")
        _, request, expires_at, used_before = pushed
        if used_before is not None or now >= expires_at:
            why = ("it was used already" if used_before is not None
                   else f"it expired ({grants.PUSHED_REQUEST_TTL} seconds after the push)")
            return grants.redirect(request, self.issuer, error="invalid_request_uri",
                                   error_description=f"the pushed request cannot be used: {why}; push a new one")
        return request

    async def _config(self, uow: UnitOfWork) -> MfaConfig:
        stored = await uow.config.get()
        return MfaConfig.checked(self.flows.machine, stored.factors, stored.policy, stored.trusted_devices,
                                          stored.adaptive)

    async def _start(self, client: Client, request: AuthorizationRequest) -> SignInPage | str:
        """The flow of an authorization: after the asserting client's first factor, or at the
        password for a sign-in client; its authorization in the same transaction."""

        async def authorization(uow: UnitOfWork, flow: Flow) -> None:
            await uow.oidc.add_authorization(flow.id, request, flow.created_at)

        started_by = {"client_id": client.id, "acr_values": list(request.acr_values)}
        user_spec = await self._hinted_user(request.login_hint) if request.login_hint else None
        try:
            flow, token = await self.flows.create(user_spec, _client_principal(), require_mfa=request.step_up,
                                                  oidc=started_by, locale=texts.offered(request.ui_locales),
                                                  also=authorization)
        except UserLocked:
            return grants.redirect(request, self.issuer, error="access_denied",
                                   error_description="the user is locked after too many failed attempts; try later")
        except Conflict as conflict:
            return grants.redirect(request, self.issuer, error="access_denied", error_description=conflict.detail)
        log.info("oidc authorization started", client_id=client.id, flow_id=flow.id, step_up=request.step_up,
                 acr_values=list(request.acr_values))
        return SignInPage(flow, token, request.ui_locales)

    async def _hinted_user(self, login_hint: str) -> dict[str, str]:
        """The user a login_hint names: by id, else by username, else a new user of that id."""
        async with self.db.unit_of_work(readonly=True) as uow:
            user = await uow.users.get(login_hint) or await uow.users.by_username(login_hint)
        return {"id": user.id} if user else {"id": login_hint}

    # --- back to the client ------------------------------------------------------------------

    async def authorization_view(self, flow_id: str, who: Principal) -> dict[str, Any]:
        """What the sign-in page shows of the authorization its flow is for."""
        flow = await self.flows.get(flow_id)
        check_access(who, flow, drive=True)
        async with self.db.unit_of_work(readonly=True) as uow:
            authorization = await uow.oidc.authorization(flow_id)
            client = await uow.oidc.client(authorization.client_id) if authorization else None
        if authorization is None or client is None:
            raise NotFound(f"authorization of flow {flow_id}")
        return {"flow_id": flow_id, "client_id": client.id, "client_name": client.name,
                "ui_locales": authorization.request.ui_locales,
                "returned": authorization.returned_at is not None}

    async def return_to_client(self, flow_id: str, who: Principal) -> str:
        """Where the browser goes once the flow has ended: the redirect URI with a new code
        (``done``, and the result meets the request) or with an error."""
        flow = await self.flows.get(flow_id)  # an overdue flow is expired on the spot
        check_access(who, flow, drive=True)
        if not machine.is_terminal(flow.state):
            raise Conflict(f"the sign-in is not finished (state {flow.state}); finish or cancel it first",
                           kind="flow-not-finished", state=flow.state)
        now = utcnow()
        async with self.db.unit_of_work() as uow:
            authorization = await uow.oidc.authorization(flow_id, lock=True)
            if authorization is None:
                raise NotFound(f"authorization of flow {flow_id}")
            if authorization.code_used_at is not None:
                raise Conflict("this authorization is complete: the app has its tokens", kind="authorization-complete")
            request = authorization.request
            code = None
            if flow.state != machine.DONE:
                target = grants.redirect(request, self.issuer, error="access_denied",
                                         error_description=_ENDED[flow.state])
            elif not request.met_by(str((flow.result or {}).get("acr"))):
                target = grants.redirect(request, self.issuer, error="unmet_authentication_requirements",
                                         error_description=f"the sign-in ended with acr {(flow.result or {}).get('acr')},"
                                                           f" below the {request.required_acr} asked for")
            else:
                code = new_token("oc")
                target = grants.redirect(request, self.issuer, code=code)
            await uow.oidc.returned(flow_id, now, token_digest(code) if code else None,
                                    now + timedelta(seconds=grants.CODE_TTL) if code else None)
            await uow.commit()
        log.info("oidc authorization returned", flow_id=flow_id, client_id=authorization.client_id,
                 outcome="code" if code else "error")
        return target

    # --- the token endpoint -----------------------------------------------------------------

    async def token(self, authorization_header: str | None, form: Mapping[str, str]) -> dict[str, Any]:
        """Exchange a code (RFC 6749 §4.1.3) for an ID token and an access token."""
        now = utcnow()
        async with self.db.unit_of_work() as uow:
            client = await self.authenticate(uow, authorization_header, form, now)
            if form.get("grant_type") != "authorization_code":
                raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code")
            code = form.get("code")
            if not code:
                raise OAuthError("invalid_request", "code is required")
            found = await uow.oidc.by_code(token_digest(code))
            try:
                authorization = grants.check_exchange(found, client.id, form, now)
            except grants.CodeReplayed:
                assert found is not None
                await uow.oidc.revoke(found.flow_id, now)
                await uow.commit()
                log.warning("oidc code replayed: its tokens are revoked", client_id=client.id, flow_id=found.flow_id)
                raise
            flow = await uow.flows.get(authorization.flow_id)
            if flow is None or flow.state != machine.DONE or flow.user_id is None or flow.result is None:
                raise invalid_grant("the sign-in behind the code is gone")
            request = authorization.request
            claims = id_token_claims(issuer=self.issuer, client_id=client.id, user_id=flow.user_id, flow_id=flow.id,
                                     nonce=request.nonce, auth_time=flow.updated_at, amr=list(flow.result["amr"]),
                                     acr=str(flow.result["acr"]), now=now, lifetime=self.settings.token_ttl)
            id_token = await self.keyring.sign(uow, client.id_token_signed_response_alg, claims)
            access_token = new_token("at")
            await uow.oidc.exchanged(flow.id, now, token_digest(access_token),
                                     now + timedelta(seconds=self.settings.token_ttl))
            await uow.commit()
        log.info("oidc code exchanged", client_id=client.id, flow_id=flow.id)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": self.settings.token_ttl,
                "id_token": id_token, "scope": "openid"}

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The UserInfo claims (OIDC Core §5.3) of a valid access token: ``sub``."""
        now = utcnow()
        async with self.db.unit_of_work(readonly=True) as uow:
            found = await uow.oidc.by_access_token(token_digest(access_token))
        if found is None:
            raise OAuthError("invalid_token", "the access token is not valid", status=401)
        authorization, user_id = found
        if authorization.revoked_at is not None:
            raise OAuthError("invalid_token", "the access token was revoked (its code was used twice)", status=401)
        if authorization.access_token_expires_at is None or now >= authorization.access_token_expires_at:
            raise OAuthError("invalid_token", "the access token has expired", status=401)
        if user_id is None:
            raise OAuthError("invalid_token", "the sign-in behind the access token is gone", status=401)
        return {"sub": user_id}

    async def purge(self) -> int:
        async with self.db.unit_of_work() as uow:
            purged = await uow.oidc.purge(utcnow())
            await uow.commit()
        return purged


def _client_principal() -> Principal:
    """Who creates an authorization's flow: the service itself, on the client's request (its
    first factor, for an asserting client, is the client's word)."""
    return SYSTEM


def _state(query: Mapping[str, Any]) -> str | None:
    try:
        return authz.single(query, "state")
    except OAuthError:
        return None


def _first_values(form: Mapping[str, Any]) -> dict[str, str]:
    """Form fields as single values, for client authentication (repeats are refused by ``authz.single``)."""
    return {key: form[key] for key in form}

