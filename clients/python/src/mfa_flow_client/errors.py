"""What the client raises. Every refusal of the service is an RFC 9457 problem document: the
exception carries it whole (``problem``), with its status, its type's last word (``kind``:
``wrong-proof``, ``rate-limited``, ``version-mismatch`` …) and ``retry_after`` when the service
gave one. The class says the status, so a caller may catch the one it means::

    try:
        flow = await session.send({"type": "submit_totp", "code": code})
    except WrongProof as refused:            # 422
        print(refused.detail, refused.problem.get("attempts_left"))
    except TooManyRequests as refused:       # 429
        await asyncio.sleep(refused.retry_after or 1)
"""

from __future__ import annotations

from typing import Any


class MfaFlowError(Exception):
    """Anything this client raises."""


class ApiError(MfaFlowError):
    """The service answered with a problem document (any status that is not 2xx or 304)."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: int | None = None):
        self.status = status
        self.problem = problem
        self.retry_after = retry_after
        super().__init__(f"{status} {self.kind or 'error'}: {self.detail}")

    @property
    def kind(self) -> str:
        """The last word of the problem's type URI (``urn:mfa-flow:problem:wrong-proof`` → ``wrong-proof``)."""
        return str(self.problem.get("type") or "").replace("/", ":").rsplit(":", 1)[-1]

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}")


class BadRequest(ApiError):
    """400: the request was malformed (the detail names the field)."""


class Unauthorized(ApiError):
    """401: no key or token, or not a valid one."""


class Forbidden(ApiError):
    """403: the key or token may not do this."""


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409: the flow is in another state, has finished, or moved past ``expected_version``."""


class Gone(ApiError):
    """410: the flow expired."""


class WrongProof(ApiError):
    """422: a wrong code or passkey (``problem["attempts_left"]``), or another refused value."""


class TooManyRequests(ApiError):
    """429: a lockout or a rate limit; ``retry_after`` says when to try again."""


class ServerError(ApiError):
    """5xx: the service could not answer (503 ``busy`` carries ``retry_after``)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone,
    422: WrongProof, 429: TooManyRequests,
}


def error_for(status: int, problem: dict[str, Any], retry_after: int | None = None) -> ApiError:
    """The exception of the class that matches the status."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(status, problem, retry_after)


class StreamClosed(MfaFlowError):
    """A flow's live stream ended before the flow did and could not be reopened."""


class WebhookVerificationError(MfaFlowError):
    """A webhook's signature, id or timestamp does not hold (or a header is missing)."""


class TokenVerificationError(MfaFlowError):
    """A result token does not verify: its signature, key, issuer, audience or lifetime."""


class ProofError(MfaFlowError, ValueError):
    """An audit proof, a signed tree head or a proof bundle does not hold; the message says what."""
