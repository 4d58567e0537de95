"""OpenID Connect's tables: clients, pushed requests, authorizations (with their code and
access token) and the client assertions seen. Only digests of secrets, codes, request URIs
and access tokens are stored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..oidc.clients import Client
from ..oidc.grants import Authorization
from ..oidc.requests import AuthorizationRequest

_CLIENT = ("id, name, kind, redirect_uris, token_endpoint_auth_method, id_token_signed_response_alg, jwks,"
           " secret_digest, previous_secret_digest, previous_secret_expires_at, created_at, updated_at")
_AUTHORIZATION = ("a.flow_id::text AS flow_id, a.client_id, a.request, a.created_at, a.returned_at, a.code_expires_at,"
                  " a.code_used_at, a.access_token_expires_at, a.revoked_at")
# Pushed requests and assertions are kept this long after they expire, then swept.
KEEP_EXPIRED = timedelta(hours=1)


def _client(row: Any) -> Client:
    return Client(**{**row, "redirect_uris": list(row["redirect_uris"])})


def _authorization(row: Any) -> Authorization:
    return Authorization(**{**row, "request": AuthorizationRequest.from_json(row["request"])})


class OidcRepository:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    # --- clients ----------------------------------------------------------------------------

    async def add_client(self, client: Client) -> None:
        await self.conn.execute(
            f"INSERT INTO oidc_clients ({_CLIENT}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            client.id, client.name, client.kind, client.redirect_uris, client.token_endpoint_auth_method,
            client.id_token_signed_response_alg, client.jwks, client.secret_digest, client.previous_secret_digest,
            client.previous_secret_expires_at, client.created_at, client.updated_at,
        )

    async def save_client(self, client: Client) -> None:
        await self.conn.execute(
            "UPDATE oidc_clients SET name = $2, kind = $3, redirect_uris = $4, token_endpoint_auth_method = $5,"
            " id_token_signed_response_alg = $6, jwks = $7, secret_digest = $8, previous_secret_digest = $9,"
            " previous_secret_expires_at = $10, updated_at = $11 WHERE id = $1",
            client.id, client.name, client.kind, client.redirect_uris, client.token_endpoint_auth_method,
            client.id_token_signed_response_alg, client.jwks, client.secret_digest, client.previous_secret_digest,
            client.previous_secret_expires_at, client.updated_at,
        )

    async def client(self, client_id: str, lock: bool = False) -> Client | None:
        row = await self.conn.fetchrow(
            f"SELECT {_CLIENT} FROM oidc_clients WHERE id = $1" + (" FOR UPDATE" if lock else ""), client_id
        )
        return _client(row) if row else None

    async def clients(self) -> list[Client]:
        return [_client(r) for r in await self.conn.fetch(f"SELECT {_CLIENT} FROM oidc_clients ORDER BY created_at, id")]

    async def delete_client(self, client_id: str) -> bool:
        return bool(await self.conn.execute("DELETE FROM oidc_clients WHERE id = $1", client_id) == "DELETE 1")

    # --- pushed authorization requests --------------------------------------------------------

    async def push(self, digest: bytes, request: AuthorizationRequest, expires_at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO oidc_pushed_requests (digest, client_id, request, expires_at) VALUES ($1, $2, $3, $4)",
            digest, request.client_id, request.to_json(), expires_at,
        )

    async def take_pushed(self, digest: bytes, now: datetime) -> tuple[str, AuthorizationRequest, datetime,
                                                                       datetime | None] | None:
        """A pushed request, marked used by this call: (client id, request, expiry, when it was
        used before this call, if it was)."""
        row = await self.conn.fetchrow(
            "SELECT client_id, request, expires_at, used_at FROM oidc_pushed_requests WHERE digest = $1 FOR UPDATE",
            digest,
        )
        if row is None:
            return None
        if row["used_at"] is None:
            await self.conn.execute("UPDATE oidc_pushed_requests SET used_at = $2 WHERE digest = $1", digest, now)
        return row["client_id"], AuthorizationRequest.from_json(row["request"]), row["expires_at"], row["used_at"]

    # --- authorizations ---------------------------------------------------------------------

    async def add_authorization(self, flow_id: str, request: AuthorizationRequest, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO oidc_authorizations (flow_id, client_id, request, created_at) VALUES ($1::uuid, $2, $3, $4)",
            flow_id, request.client_id, request.to_json(), now,
        )

    async def authorization(self, flow_id: str, lock: bool = False) -> Authorization | None:
        row = await self.conn.fetchrow(
            f"SELECT {_AUTHORIZATION} FROM oidc_authorizations a WHERE a.flow_id = $1::uuid"
            + (" FOR UPDATE" if lock else ""),
            flow_id,
        )
        return _authorization(row) if row else None

    async def returned(self, flow_id: str, now: datetime, code_digest: bytes | None,
                       code_expires_at: datetime | None) -> None:
        """The browser is sent back, with a new code (which replaces an unused earlier one) or an error."""
        await self.conn.execute(
            "UPDATE oidc_authorizations SET returned_at = $2, code_digest = $3, code_expires_at = $4"
            " WHERE flow_id = $1::uuid",
            flow_id, now, code_digest, code_expires_at,
        )

    async def by_code(self, code_digest: bytes) -> Authorization | None:
        row = await self.conn.fetchrow(
            f"SELECT {_AUTHORIZATION} FROM oidc_authorizations a WHERE a.code_digest = $1 FOR UPDATE", code_digest
        )
        return _authorization(row) if row else None

    async def exchanged(self, flow_id: str, now: datetime, token_digest: bytes, token_expires_at: datetime) -> None:
        await self.conn.execute(
            "UPDATE oidc_authorizations SET code_used_at = $2, access_token_digest = $3, access_token_expires_at = $4"
            " WHERE flow_id = $1::uuid",
            flow_id, now, token_digest, token_expires_at,
        )

    async def revoke(self, flow_id: str, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE oidc_authorizations SET revoked_at = coalesce(revoked_at, $2) WHERE flow_id = $1::uuid", flow_id, now
        )

    async def by_access_token(self, token_digest: bytes) -> tuple[Authorization, str | None] | None:
        """The authorization an access token was issued for, and its flow's user."""
        row = await self.conn.fetchrow(
            f"SELECT {_AUTHORIZATION}, f.user_id"
            " FROM oidc_authorizations a LEFT JOIN flows f ON f.id = a.flow_id WHERE a.access_token_digest = $1",
            token_digest,
        )
        if row is None:
            return None
        fields = dict(row)
        user_id = fields.pop("user_id")
        return _authorization(fields), user_id

    # --- client assertions -------------------------------------------------------------------

    async def assertion_seen(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """Record an assertion's jti; False if it was seen before (a replay)."""
        status = await self.conn.execute(
            "INSERT INTO oidc_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING", client_id, jti, expires_at,
        )
        return bool(status == "INSERT 0 1")

    async def purge(self, now: datetime) -> int:
        """Pushed requests and assertions an hour past their expiry: nothing can use them any more."""
        before = now - KEEP_EXPIRED
        pushed = await self.conn.execute("DELETE FROM oidc_pushed_requests WHERE expires_at < $1", before)
        seen = await self.conn.execute("DELETE FROM oidc_client_assertions WHERE expires_at < $1", before)
        return int(pushed.split()[-1]) + int(seen.split()[-1])
