"""The Management API (admin key): the MFA configuration, users and their factors and trusted
devices, organisations and their members, webhook endpoints with their deliveries, and OpenID
Connect clients."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from ._shared import segment
from .models import (
    CreatedVerification,
    MfaConfig,
    NewOidcClient,
    NewOrganization,
    NewUser,
    NewVerification,
    NewWebhook,
    OidcClient,
    OidcClientList,
    OidcClientPatch,
    OidcClientWithSecret,
    Organization,
    OrganizationMembership,
    OrganizationPage,
    OrganizationPatch,
    SignInPage,
    TrustedDevice,
    User,
    UserPage,
    UserPatch,
    Verification,
    Webhook,
    WebhookDeliveryPage,
    WebhookPatch,
    WebhookWithSecret,
)

if TYPE_CHECKING:
    from .client import MfaFlowClient


async def _every(page_after: Callable[[str | None], Awaitable[Any]]) -> AsyncIterator[Any]:
    """Every item of a paged list (``{"items", "next"}``), page after page."""
    after: str | None = None
    while True:
        page = await page_after(after)
        for item in page["items"]:
            yield item
        after = page.get("next")
        if not after:
            return


class Config:
    def __init__(self, client: MfaFlowClient):
        self.client = client

    async def get(self) -> MfaConfig:
        return cast(MfaConfig, await self.client.request("GET", "/api/config/mfa"))

    async def put(self, config: MfaConfig | Mapping[str, Any]) -> MfaConfig:
        """Replaces the configuration; a refused one raises WrongProof (422) naming the field."""
        return cast(MfaConfig, await self.client.request("PUT", "/api/config/mfa", json_body=dict(config)))


class Users:
    def __init__(self, client: MfaFlowClient):
        self.client = client

    def _path(self, user_id: str, rest: str = "") -> str:
        return f"/api/users/{segment(user_id)}{rest}"

    async def list(self, *, search: str | None = None, after: str | None = None, limit: int = 50) -> UserPage:
        """One page: ``{"items": [...], "next": cursor or None}``; ``search`` matches a prefix of
        the username, the email or the phone, ignoring case."""
        params = {"search": search, "after": after, "limit": limit}
        return cast(UserPage, await self.client.request("GET", "/api/users", params=params))

    async def iterate(self, *, search: str | None = None, page_size: int = 100) -> AsyncIterator[User]:
        """Every matching user, page after page."""
        async for user in _every(lambda after: self.list(search=search, after=after, limit=page_size)):
            yield cast(User, user)

    async def get(self, user_id: str) -> User:
        return cast(User, await self.client.request("GET", self._path(user_id)))

    async def create(self, user: NewUser | Mapping[str, Any]) -> User:
        """201 the user; Conflict (409) when the username or id is taken."""
        return cast(User, await self.client.request("POST", "/api/users", json_body=dict(user)))

    async def update(self, user_id: str, patch: UserPatch | Mapping[str, Any]) -> User:
        return cast(User, await self.client.request("PATCH", self._path(user_id), json_body=dict(patch)))

    async def delete(self, user_id: str) -> None:
        await self.client.request("DELETE", self._path(user_id))

    async def unlock(self, user_id: str) -> User:
        """Ends a lockout."""
        return cast(User, await self.client.request("POST", self._path(user_id, "/unlock")))

    async def reset_mfa(self, user_id: str) -> User:
        """Removes every factor and trusted device and clears the prompted mark."""
        return cast(User, await self.client.request("POST", self._path(user_id, "/reset-mfa")))

    async def factors(self, user_id: str) -> builtins.list[Verification]:
        return cast(builtins.list[Verification], await self.client.request("GET", self._path(user_id, "/mfa-verifications")))

    async def add_factor(self, user_id: str, factor: NewVerification | Mapping[str, Any]) -> CreatedVerification:
        """``{"type": "totp"}`` answers the secret (once); ``{"type": "backup_code"}`` the codes (once);
        ``{"type": "email_code", "email": ...}`` and ``{"type": "sms_code", "phone": ...}`` vouch for
        an address or phone."""
        return cast(CreatedVerification, await self.client.request(
            "POST", self._path(user_id, "/mfa-verifications"), json_body=dict(factor)))

    async def rename_factor(self, user_id: str, verification_id: str, name: str) -> Verification:
        """Renames a passkey."""
        return cast(Verification, await self.client.request(
            "PATCH", self._path(user_id, f"/mfa-verifications/{segment(verification_id)}"), json_body={"name": name}))

    async def remove_factor(self, user_id: str, verification_id: str) -> None:
        await self.client.request("DELETE", self._path(user_id, f"/mfa-verifications/{segment(verification_id)}"))

    async def trusted_devices(self, user_id: str) -> builtins.list[TrustedDevice]:
        answer = await self.client.request("GET", self._path(user_id, "/trusted-devices"))
        return cast(builtins.list[TrustedDevice], answer["items"] if isinstance(answer, dict) else answer)

    async def sign_ins(self, user_id: str, *, after: str | None = None, limit: int = 50) -> SignInPage:
        """The user's successful sign-ins, newest first, one page: ``{"items": [...], "next": cursor or None}``."""
        params = {"after": after, "limit": limit}
        return cast(SignInPage, await self.client.request("GET", self._path(user_id, "/sign-ins"), params=params))

    async def revoke_trusted_devices(self, user_id: str, device_id: str | None = None) -> None:
        """Forgets one remembered device, or all of them."""
        rest = "/trusted-devices" + (f"/{segment(device_id)}" if device_id else "")
        await self.client.request("DELETE", self._path(user_id, rest))


class Organizations:
    """Groups of users; a member of one with ``require_mfa`` must use MFA at every sign-in."""

    def __init__(self, client: MfaFlowClient):
        self.client = client

    def _path(self, organization_id: str, rest: str = "") -> str:
        return f"/api/organizations/{segment(organization_id)}{rest}"

    async def list(self, *, after: str | None = None, limit: int = 50) -> OrganizationPage:
        """One page, oldest first: ``{"items": [...], "next": cursor or None}``."""
        return cast(OrganizationPage, await self.client.request(
            "GET", "/api/organizations", params={"after": after, "limit": limit}))

    async def iterate(self, *, page_size: int = 100) -> AsyncIterator[Organization]:
        """Every organisation, page after page."""
        async for organization in _every(lambda after: self.list(after=after, limit=page_size)):
            yield cast(Organization, organization)

    async def get(self, organization_id: str) -> Organization:
        return cast(Organization, await self.client.request("GET", self._path(organization_id)))

    async def create(self, organization: NewOrganization | Mapping[str, Any]) -> Organization:
        """201 the organisation; Conflict (409) when another has this name, whatever its case."""
        return cast(Organization, await self.client.request("POST", "/api/organizations",
                                                            json_body=dict(organization)))

    async def update(self, organization_id: str, patch: OrganizationPatch | Mapping[str, Any]) -> Organization:
        """Renames it, or turns ``require_mfa`` on or off."""
        return cast(Organization, await self.client.request("PATCH", self._path(organization_id),
                                                            json_body=dict(patch)))

    async def delete(self, organization_id: str) -> None:
        await self.client.request("DELETE", self._path(organization_id))

    async def members(self, organization_id: str, *, after: str | None = None, limit: int = 50) -> UserPage:
        """One page of the members (users), ordered by username."""
        return cast(UserPage, await self.client.request(
            "GET", self._path(organization_id, "/members"), params={"after": after, "limit": limit}))

    async def add_member(self, organization_id: str, user_id: str) -> OrganizationMembership:
        """Makes the user a member (a member already stays one); NotFound names an unknown
        organisation or user."""
        return cast(OrganizationMembership, await self.client.request(
            "PUT", self._path(organization_id, f"/members/{segment(user_id)}")))

    async def remove_member(self, organization_id: str, user_id: str) -> None:
        await self.client.request("DELETE", self._path(organization_id, f"/members/{segment(user_id)}"))


class Webhooks:
    def __init__(self, client: MfaFlowClient):
        self.client = client

    def _path(self, webhook_id: str, rest: str = "") -> str:
        return f"/api/webhooks/{segment(webhook_id)}{rest}"

    async def list(self) -> builtins.list[Webhook]:
        return cast(builtins.list[Webhook], await self.client.request("GET", "/api/webhooks"))

    async def get(self, webhook_id: str) -> Webhook:
        return cast(Webhook, await self.client.request("GET", self._path(webhook_id)))

    async def create(self, webhook: NewWebhook | Mapping[str, Any]) -> WebhookWithSecret:
        """The endpoint with its signing secret (``whsec_...``, shown once)."""
        return cast(WebhookWithSecret, await self.client.request("POST", "/api/webhooks", json_body=dict(webhook)))

    async def update(self, webhook_id: str, patch: WebhookPatch | Mapping[str, Any]) -> Webhook:
        return cast(Webhook, await self.client.request("PATCH", self._path(webhook_id), json_body=dict(patch)))

    async def delete(self, webhook_id: str) -> None:
        await self.client.request("DELETE", self._path(webhook_id))

    async def rotate_secret(self, webhook_id: str) -> WebhookWithSecret:
        """A new secret (shown once); the old one keeps signing beside it for a while."""
        return cast(WebhookWithSecret, await self.client.request("POST", self._path(webhook_id, "/rotate-secret")))

    async def deliveries(self, webhook_id: str, *, limit: int = 50, after: str | None = None) -> WebhookDeliveryPage:
        return cast(WebhookDeliveryPage, await self.client.request(
            "GET", self._path(webhook_id, "/deliveries"), params={"limit": limit, "after": after}))

    async def retry(self, webhook_id: str, delivery_id: str | int) -> dict[str, Any]:
        return cast(dict[str, Any], await self.client.request(
            "POST", self._path(webhook_id, f"/deliveries/{segment(delivery_id)}/retry")))


class OidcClients:
    """The apps that use mfa-flow as their OpenID Provider. A client secret is shown once: in the
    answer that made it (creation, rotation, or a change to a method that uses one)."""

    def __init__(self, client: MfaFlowClient):
        self.client = client

    def _path(self, client_id: str, rest: str = "") -> str:
        return f"/api/oidc/clients/{segment(client_id)}{rest}"

    async def list(self) -> builtins.list[OidcClient]:
        page = cast(OidcClientList, await self.client.request("GET", "/api/oidc/clients"))
        return page["items"]

    async def get(self, client_id: str) -> OidcClient:
        return cast(OidcClient, await self.client.request("GET", self._path(client_id)))

    async def create(self, new: NewOidcClient | Mapping[str, Any]) -> OidcClientWithSecret:
        """The registered client with its ``client_secret`` (absent for ``private_key_jwt``)."""
        return cast(OidcClientWithSecret, await self.client.request("POST", "/api/oidc/clients", json_body=dict(new)))

    async def update(self, client_id: str, patch: OidcClientPatch | Mapping[str, Any]) -> OidcClientWithSecret:
        return cast(OidcClientWithSecret, await self.client.request(
            "PATCH", self._path(client_id), json_body=dict(patch)))

    async def delete(self, client_id: str) -> None:
        await self.client.request("DELETE", self._path(client_id))

    async def rotate_secret(self, client_id: str) -> OidcClientWithSecret:
        """A new secret (shown once); the previous one keeps working until
        ``previous_secret_expires_at``."""
        return cast(OidcClientWithSecret, await self.client.request("POST", self._path(client_id, "/rotate-secret")))
