"""The web pages: sign-in at ``/``, the account page at ``/account``, the console at ``/console``,
the API reference at ``/docs`` (the served OpenAPI document drawn by a vendored Swagger UI).

Static HTML, CSS and JavaScript from ``mfa_flow/web`` (no build step, nothing fetched from
elsewhere) over the public API. The HTML is rendered once per process with the product's name
and the address of its assets; the accent colour arrives as a small generated stylesheet
(``/theme.css``), since the Content-Security-Policy allows no inline style.

Caching: the assets live under ``/static/<digest>/`` where the digest covers every file of
``web/``, so they can be cached for a year (``immutable``): a new release has a new digest, and
the pages (``no-cache``, revalidated with their ETag) name it. A request for another digest (a
page from an older process during a rolling restart) still gets today's file, but ``no-cache``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..settings import Settings
from .keys import SETTINGS
from .problems import Handler, not_found

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = {"/": "index.html", "/account": "account.html", "/console": "console.html", "/docs": "docs.html"}
LOCALISED = ("/", "/account")  # the sign-in and account pages; the console is in English only
RIGHT_TO_LEFT = frozenset({"ar"})
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html",
               ".json": "application/json"}


def assets_digest(folder: Path = WEB) -> str:
    """A short digest of every file under ``folder`` (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def text_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (WCAG 2 contrast ratio)."""
    hex_digits = colour.lstrip("#")
    if len(hex_digits) == 3:
        hex_digits = "".join(c * 2 for c in hex_digits)

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(int(hex_digits[i:i + 2], 16)) for i in (0, 2, 4))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return "#ffffff" if on_white >= on_black else "#111111"


def translated(page: str, catalogue: dict[str, str], product: str) -> str:
    """``page`` with each ``{{t:key}}`` replaced by the catalogue's words (``{product}`` filled)."""
    return re.sub(r"\{\{t:([\w.-]+)\}\}",
                  lambda m: html.escape(catalogue[m.group(1)].replace("{product}", product)), page)


def fill(template: str, fills: dict[str, str]) -> str:
    for placeholder, value in fills.items():
        template = template.replace(placeholder, value)
    return template


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, text: str, content_type: str) -> "Rendered":
        body = text.encode()
        return cls(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:16] + '"')

    def response(self, request: web.Request, cache_control: str = REVALIDATE) -> web.Response:
        headers = {"ETag": self.etag, "Cache-Control": cache_control}
        if self.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.body, content_type=self.content_type, charset="utf-8", headers=headers)


class Site:
    """The pages and generated files of one process, rendered once from its settings."""

    def __init__(self, settings: Settings, folder: Path = WEB):
        self.folder = folder
        self.digest = assets_digest(folder)
        self.assets = f"/static/{self.digest}"
        # Whether the sign-in form offers "Create an account": it is shown before any flow
        # exists (the flow is created when the form is sent), so the page cannot ask one.
        fills = {"{{product}}": html.escape(settings.product_name), "{{assets}}": self.assets,
                 "{{sign_up}}": "on" if settings.sign_up else "off"}
        self.pages = {route: Rendered.of(fill((folder / name).read_text(), fills), "text/html")
                      for route, name in PAGES.items()}
        accent = settings.accent_color
        self.theme = Rendered.of(f":root {{ --accent: {accent}; --on-accent: {text_on(accent)}; }}\n", "text/css")
        self.favicon = Rendered.of((folder / "favicon.svg").read_text().replace("#0a66d8", accent), "image/svg+xml")
        # The pages in the user's language (issue 27): one catalogue per locale under web/i18n;
        # <html lang dir> is chosen here from Accept-Language (else MFA_FLOW_DEFAULT_LOCALE),
        # and the page's script may choose again (?lang=, ui_locales, the remembered choice).
        self.locales = tuple(sorted(p.stem for p in (folder / "i18n").glob("*.json")))
        self.default_locale = settings.default_locale if settings.default_locale in self.locales else "en"
        # The words a page shows before its script runs ({{t:key}}) come from the same catalogue.
        catalogues = {code: json.loads((folder / "i18n" / f"{code}.json").read_text(encoding="utf-8"))
                      for code in self.locales}

        def localised(page: str, code: str) -> str:
            return translated(page.replace(
                '<html lang="en">', f'<html lang="{code}" dir="{"rtl" if code in RIGHT_TO_LEFT else "ltr"}">', 1),
                catalogues[code], settings.product_name)

        self.localised = {(route, code): Rendered.of(localised(self.pages[route].body.decode(), code), "text/html")
                          for route in LOCALISED for code in self.locales}
        # The authorization endpoint's error page, per locale: filled with the error per request
        # (``oidc.error_page``).
        error_page = fill((folder / "oidc-error.html").read_text(), fills)
        self.oidc_errors = {code: localised(error_page, code) for code in self.locales}

    def locale_for(self, accept_language: str | None) -> str:
        return negotiate(accept_language, self.locales, self.default_locale)

    def file(self, relative: str) -> Path:
        """A file under the web folder, never outside it (no ``..``, no absolute paths)."""
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file() or path.suffix not in MEDIA_TYPES:
            raise not_found(f"file {relative}")
        return path


SITE = web.AppKey("site", Site)


def site(request: web.Request) -> Site:
    return request.app[SITE]


def page(route: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        current = site(request)
        if route not in LOCALISED:
            return current.pages[route].response(request)
        code = current.locale_for(request.headers.get("Accept-Language"))
        response = current.localised[(route, code)].response(request)
        response.headers["Vary"] = "Accept-Language"
        response.headers["Content-Language"] = code
        return response

    return handler


def negotiate(header: str | None, locales: tuple[str, ...], default: str) -> str:
    """The best of ``locales`` for an Accept-Language header (RFC 9110: quality values, a
    region falling back to its language), else ``default``."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        base = tag.split("-")[0]
        if base in locales:
            return base
    return default


async def theme(request: web.Request) -> web.Response:
    return site(request).theme.response(request)


async def favicon(request: web.Request) -> web.Response:
    return site(request).favicon.response(request, "public, max-age=86400")


async def static_file(request: web.Request) -> web.FileResponse:
    current = site(request)
    path = current.file(request.match_info["path"])
    cache = IMMUTABLE if request.match_info["digest"] == current.digest else REVALIDATE
    return web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": MEDIA_TYPES[path.suffix]})


def install(app: web.Application) -> None:
    app[SITE] = Site(app[SETTINGS])
    app.add_routes(
        [web.get(route, page(route)) for route in PAGES]
        + [
            web.get("/theme.css", theme),
            web.get("/favicon.svg", favicon),
            web.get("/favicon.ico", favicon),
            web.get("/static/{digest}/{path:.+}", static_file),
        ]
    )
