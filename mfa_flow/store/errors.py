"""The store's errors: what a repository or a connection reports that the service layer must
decide about (a taken name becomes a ``Conflict``, a database that is not there a 503)."""

from __future__ import annotations


class StoreError(Exception):
    """The root of the store's errors."""


class UsernameTaken(StoreError):
    """A user with this username (or id: ``args[0]`` names the constraint) exists already."""


class OrganizationNameTaken(StoreError):
    """Another organisation has this name (in any case)."""


class CredentialTaken(StoreError):
    """A WebAuthn credential id is registered already (to anyone)."""
