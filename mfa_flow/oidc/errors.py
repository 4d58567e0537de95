"""OAuth errors (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6). Pure."""

from __future__ import annotations


class OAuthError(Exception):
    """An error answered in OAuth's words: ``error`` (a registered code) and a description
    fit for the developer of the client (never a secret, a code or a password).

    ``redirect``: whether it may go back to the client's redirect URI (the client and the
    redirect URI are known good); if not, the authorization endpoint shows an error page."""

    def __init__(self, error: str, description: str, *, status: int = 400, redirect: bool = True) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.redirect = redirect


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def page_error(description: str) -> OAuthError:
    """A request whose client or redirect URI cannot be trusted: no redirect, an error page."""
    return OAuthError("invalid_request", description, redirect=False)
