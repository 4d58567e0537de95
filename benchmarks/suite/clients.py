"""What the benchmarks do through the public HTTP API, as a client of the service would."""

from __future__ import annotations

import asyncio

import aiohttp
import pyotp

ADMIN_KEY = "adm_bench_admin_key_0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


class ApiError(RuntimeError):
    pass


async def call(http: aiohttp.ClientSession, method: str, url: str, body: object = None,
               headers: dict[str, str] | None = None, expect: int = 200) -> dict:
    async with http.request(method, url, json=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        if response.status != expect:
            raise ApiError(f"{method} {url}: {response.status} {answer}")
        return answer


async def configure(http: aiohttp.ClientSession, base: str, factors: list[str], policy: str = "mandatory") -> None:
    await call(http, "PUT", f"{base}/api/config/mfa", {"factors": factors, "policy": policy}, ADMIN)


async def make_users(http: aiohttp.ClientSession, base: str, prefix: str, count: int, factors: tuple[str, ...],
                     password: str | None = None, concurrency: int = 8) -> list[tuple[str, pyotp.TOTP | None]]:
    """``count`` users with the given factors enrolled by the admin; returns (id, TOTP of its secret)."""
    limit = asyncio.Semaphore(concurrency)

    async def one(n: int) -> tuple[str, pyotp.TOTP | None]:
        async with limit:
            body = {"username": f"{prefix}-{n}", **({"password": password} if password else {})}
            user = await call(http, "POST", f"{base}/api/users", body, ADMIN, expect=201)
            totp = None
            for factor in factors:
                added = await call(http, "POST", f"{base}/api/users/{user['id']}/mfa-verifications",
                                   {"type": factor}, ADMIN, expect=201)
                if factor == "totp":
                    totp = pyotp.TOTP(added["secret"])
            return user["id"], totp

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def asserted_flow(http: aiohttp.ClientSession, base: str, user_id: str) -> tuple[str, dict[str, str], dict]:
    """A flow whose first factor the backend asserts: (flow id, the flow token's headers, the flow)."""
    created = await call(http, "POST", f"{base}/api/flows", {"user": {"id": user_id}}, ADMIN, expect=201)
    return created["flow"]["id"], {"Authorization": f"Bearer {created['flow_token']}"}, created["flow"]


class Switching:
    """One client of the transitions benchmarks: each request is one transition of its own flow,
    between the factor selection and the TOTP check (no proof, no limit on how often), so the
    figure is the engine's cost per transition and nothing else. It follows the state each answer
    gives, so it can be driven again later."""

    def __init__(self, http: aiohttp.ClientSession, url: str, headers: dict[str, str], state: str):
        self.http, self.url, self.headers, self.state = http, url, headers, state

    async def step(self) -> int:
        selecting = self.state == "factor_selection"
        event = {"type": "select_factor", "factor": "totp"} if selecting else {"type": "switch_factor"}
        async with self.http.post(self.url, json=event, headers=self.headers) as response:
            body = await response.read()
            if response.status != 200:
                raise ApiError(f"POST {self.url}: {response.status} {body[:300]!r}")
        self.state = "totp_verify" if self.state == "factor_selection" else "factor_selection"
        return 1
