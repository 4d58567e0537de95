"""RFC 9457 problem details, raised anywhere and rendered by the HTTP layer."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str, headers: dict | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = {"type": f"urn:mfa-flow:problem:{self.slug}", "title": self.title, "status": self.status}
        body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def not_found(what: str) -> Problem:
    return Problem(404, "not-found", "Not found", f"{what} does not exist")


def invalid(detail: str, **extra) -> Problem:
    return Problem(400, "invalid-request", "Invalid request", detail, **extra)


def unprocessable(detail: str, **extra) -> Problem:
    return Problem(422, "unprocessable", "Request breaks a rule", detail, **extra)


def conflict(detail: str, slug: str = "conflict", **extra) -> Problem:
    return Problem(409, slug, "Conflict", detail, **extra)
