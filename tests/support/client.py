"""A small HTTP client for the API, speaking as the admin, the auditor or a flow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from .schemas import check_flow, check_transition
from .server import ADMIN_KEY, AUDITOR_KEY


@dataclass
class Reply:
    status: int
    body: Any
    headers: Any

    @property
    def problem(self) -> dict:
        assert self.headers.get("Content-Type", "").startswith("application/problem+json"), self
        return self.body


class Api:
    def __init__(self, base_url: str, session: aiohttp.ClientSession):
        self.base_url = base_url
        self.session = session

    async def call(self, method: str, path: str, key: str | None = None, json=None, data=None, headers=None) -> Reply:
        headers = dict(headers or {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if data is not None and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        async with self.session.request(method, self.base_url + path, json=json, data=data, headers=headers) as r:
            text = await r.text()
            ctype = r.headers.get("Content-Type", "")
            body = None
            if ("application/json" in ctype or "+json" in ctype) and text:  # not NDJSON: callers split it
                import json as _json

                body = _json.loads(text)
            else:
                body = text
            return Reply(r.status, body, r.headers)

    async def admin(self, method: str, path: str, json=None, **kw) -> Reply:
        return await self.call(method, path, ADMIN_KEY, json=json, **kw)

    async def auditor(self, method: str, path: str, json=None, **kw) -> Reply:
        return await self.call(method, path, AUDITOR_KEY, json=json, **kw)

    # --- conveniences that read like the product's vocabulary ---

    async def configure(self, factors: list[str], policy: str) -> None:
        reply = await self.admin("PUT", "/api/config/mfa", {"factors": factors, "policy": policy})
        assert reply.status == 200, reply

    async def new_user(self, username: str, password: str | None = "correct horse battery") -> dict:
        body = {"username": username}
        if password:
            body["password"] = password
        reply = await self.admin("POST", "/api/users", body)
        assert reply.status == 201, reply
        return reply.body

    async def start(self, user: dict | None = None) -> "FlowClient":
        if user is None:
            reply = await self.call("POST", "/api/flows", json={})
        else:
            reply = await self.admin("POST", "/api/flows", {"user": user})
        assert reply.status == 201, reply
        return FlowClient(self, check_flow(reply.body["flow"]), reply.body["flow_token"])

    async def transitions(self, flow_id: str) -> list[dict]:
        reply = await self.auditor("GET", f"/api/flows/{flow_id}/transitions")
        assert reply.status == 200, reply
        return [check_transition(row) for row in reply.body]


class FlowClient:
    """One sign-in, driven with its flow token."""

    def __init__(self, api: Api, flow: dict, token: str):
        self.api = api
        self.flow = flow
        self.token = token

    @property
    def id(self) -> str:
        return self.flow["id"]

    @property
    def state(self) -> str:
        return self.flow["state"]

    async def send(self, type_: str, **payload) -> Reply:
        reply = await self.api.call("POST", f"/api/flows/{self.id}/events", self.token, json={"type": type_, **payload})
        if reply.status == 200:
            self.flow = check_flow(reply.body)
        return reply

    async def ok(self, type_: str, **payload) -> dict:
        reply = await self.send(type_, **payload)
        assert reply.status == 200, reply
        return reply.body

    async def read(self) -> dict:
        reply = await self.api.call("GET", f"/api/flows/{self.id}", self.token)
        assert reply.status == 200, reply
        self.flow = check_flow(reply.body)
        return reply.body

    async def password(self, username: str, password: str = "correct horse battery") -> dict:
        return await self.ok("submit_password", username=username, password=password)
