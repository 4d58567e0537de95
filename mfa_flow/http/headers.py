"""Security headers on every response (the page, the API, errors, static files, streams)."""

from __future__ import annotations

from aiohttp import web

# The sign-in page loads its script from /static and talks to the API of its own origin
# (fetch, EventSource, WebSocket): nothing inline, nothing from elsewhere, never framed
# (it shows TOTP secrets and backup codes). The QR code is inline SVG markup, not an image.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith(("/api/", "/oidc/")):
        # Flows carry flow tokens, TOTP secrets, backup codes and result tokens, and the
        # management API secrets and codes, the OpenID Provider codes and tokens: no API
        # answer belongs in any cache.
        response.headers["Cache-Control"] = "no-store"


def install(app: web.Application) -> None:
    app.on_response_prepare.append(add_security_headers)
