"""mfa-flow-client: the typed async Python client of an mfa-flow service.

    from mfa_flow_client import MfaFlowClient

    async with MfaFlowClient("https://id.example.com", key=ADMIN_KEY) as client:
        session = await client.flows.start({"user": {"id": "u-42"}})
        async for flow in session.stream():
            ...

Flows (``client.flows``), the Management API (``client.config``, ``client.users``,
``client.webhooks``), the audit API (``client.audit``); webhook and result-token checks
(:func:`verify_webhook`, :class:`ResultTokenVerifier`); offline proof checks
(:mod:`mfa_flow_client.proofs`, which needs neither the service nor a network). The API's types
(:mod:`mfa_flow_client.models`) are generated from the service's OpenAPI document.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .client import MfaFlowClient
from .embedding import ResultTokenVerifier, verify_result_token, verify_webhook
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    MfaFlowError,
    NotFound,
    ProofError,
    ServerError,
    StreamClosed,
    TokenVerificationError,
    TooManyRequests,
    Unauthorized,
    WebhookVerificationError,
    WrongProof,
)
from .flows import FlowSession, is_terminal
from .proofs import BundleReport, TreeHead, verify_bundle

try:
    __version__ = version("mfa-flow-client")
except PackageNotFoundError:  # run from a source tree
    __version__ = "0+unknown"

__all__ = [
    "ApiError", "BadRequest", "BundleReport", "Conflict", "FlowSession", "Forbidden", "Gone", "MfaFlowClient",
    "MfaFlowError", "NotFound", "ProofError", "ResultTokenVerifier", "ServerError", "StreamClosed",
    "TokenVerificationError", "TooManyRequests", "TreeHead", "Unauthorized", "WebhookVerificationError", "WrongProof",
    "is_terminal", "verify_bundle", "verify_result_token", "verify_webhook",
]
