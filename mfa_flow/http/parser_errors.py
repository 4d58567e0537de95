"""The answers aiohttp's HTTP parser gives on its own (a request it cannot parse, a handler
that failed outside every middleware), as every other error: RFC 9457 problem+json with the
security headers and ``Cache-Control: no-store``, and words that never repeat the bytes
received.

aiohttp answers such a request from ``RequestHandler.handle_error``, outside the application:
no middleware and no ``on_response_prepare`` run, so the answer lacked the security headers,
and its text/plain body was the parser's message, which quotes the offending bytes (a header
line, the request line, a method) back to the client. ``answer_as_problems`` replaces that
method on each connection's handler."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import http_exceptions as parser
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from .. import logs
from .headers import SECURITY_HEADERS

log = logs.get(__name__)

# What went wrong, by the parser's exception class (the most specific listed first), in words
# of our own.
_WORDS: tuple[tuple[type[BaseException], str, str], ...] = (
    (parser.LineTooLong, "line-too-long", "the request line or a header line is too long"),
    (parser.InvalidHeader, "invalid-header", "a header is malformed (its name or its value)"),
    (parser.BadHttpMethod, "invalid-method", "the request method is not a valid HTTP method"),
    (parser.BadStatusLine, "invalid-request-line", "the request line is malformed"),
    (parser.InvalidURLError, "invalid-target", "the request target is not a valid URL"),
    (parser.PayloadEncodingError, "invalid-body-framing",
     "the body's framing is malformed (Content-Length, Transfer-Encoding or chunks)"),
    (parser.BadHttpMessage, "invalid-http", "the request is not valid HTTP/1.1"),
)


def _problem(status: int, exc: BaseException | None) -> tuple[str, str]:
    """The problem type's slug and the detail: never the parser's message, which quotes input."""
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        return "internal-error", "the server failed; the error is logged"
    if status == HTTPStatus.GATEWAY_TIMEOUT:
        return "timeout", "the request took too long"
    for kind, slug, words in _WORDS:
        if isinstance(exc, kind):
            return slug, words
    return "invalid-http", "the request is not valid HTTP/1.1"


def problem_answer(request: Any, status: int = 500, exc: BaseException | None = None,
                   message: str | None = None) -> web.Response:
    """``RequestHandler.handle_error``'s answer, as a problem document. ``message`` (the
    parser's, quoting the input) is left out of the answer and of the log."""
    if request.writer.output_size > 0:  # part of an answer went out: the connection is broken
        raise ConnectionError("an answer was partly sent; no problem document can follow it")
    slug, detail = _problem(status, exc)
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        log.error("request failed outside the application", error=type(exc).__name__ if exc else None,
                  exc_info=exc)
    else:
        log.info("request refused by the HTTP parser", status=status, problem=slug,
                 error=type(exc).__name__ if exc else None)
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = json.dumps({"type": f"urn:mfa-flow:problem:{slug}", "title": title, "status": status,
                       "detail": detail}).encode()
    response = web.Response(status=status, body=body, headers={
        "Content-Type": "application/problem+json", "Cache-Control": "no-store", **SECURITY_HEADERS})
    response.force_close()
    return response


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering its own errors as problem documents."""

    __slots__ = ()  # RequestHandler's layout: an instance of it may become one of these

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.Response:
        return problem_answer(request, status, exc, message)


def answer_as_problems(handler: Any) -> Any:
    """The handler aiohttp's server made for a connection, answering its own errors as
    problems. It becomes a ``ProblemRequestHandler`` (the same slots, one method more), so the
    server's own settings (timeouts, lingering, logging) stay as it made them."""
    if type(handler) is RequestHandler:
        handler.__class__ = ProblemRequestHandler
    return handler
