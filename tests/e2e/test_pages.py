"""The web pages as HTTP resources: served from the package, branded from the settings,
cached the way each deserves, never framed."""

from __future__ import annotations

import re

import pytest

from tests.support.client import Api

PAGES = ["/", "/account", "/console"]


def asset_links(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[0-9a-f]{12}/[\w.-]+)"', html)


@pytest.mark.parametrize("path", PAGES)
async def test_each_page_is_html_that_loads_only_its_own_assets_and_is_never_framed(api: Api, path):
    reply = await api.call("GET", path)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/html")
    policy = reply.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "style-src 'self'" in policy
    assert reply.headers["Cache-Control"] == "no-cache"
    assert "<script>" not in reply.body and " style=" not in reply.body  # nothing inline
    assert '<link rel="icon" href="/favicon.svg"' in reply.body
    links = asset_links(reply.body)
    assert links, reply.body
    for link in links:
        asset = await api.call("GET", link)
        assert asset.status == 200, link
        assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"


async def test_a_page_is_revalidated_with_its_etag(api: Api):
    first = await api.call("GET", "/")
    again = await api.call("GET", "/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304


async def test_assets_of_another_release_are_served_but_not_kept(api: Api):
    link = asset_links((await api.call("GET", "/")).body)[0]
    other = re.sub(r"/static/[0-9a-f]{12}/", "/static/000000000000/", link)
    reply = await api.call("GET", other)
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("path", ["/static/x/../../settings.py", "/static/x/%2e%2e/http/pages.py", "/static/x/nothing.js",
                                  "/static/x/index.html.bak"])
async def test_nothing_outside_the_web_folder_is_served(api: Api, path):
    reply = await api.call("GET", path)
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("application/problem+json")


async def test_the_favicon_is_an_svg_that_browsers_may_keep_for_a_day(api: Api):
    for path in ("/favicon.svg", "/favicon.ico"):
        reply = await api.call("GET", path)
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("image/svg+xml")
        assert reply.headers["Cache-Control"] == "public, max-age=86400"


async def test_the_product_name_and_accent_colour_come_from_the_settings(start_server, http):
    server = await start_server.started(MFA_FLOW_PRODUCT_NAME="Acme <Cloud> & Co", MFA_FLOW_ACCENT_COLOR="#FFCC00")
    api = Api(server.base_url, http)
    for path in PAGES:
        page = (await api.call("GET", path)).body
        assert "Acme &lt;Cloud&gt; &amp; Co" in page and "<Cloud>" not in page
    theme = await api.call("GET", "/theme.css")
    assert theme.headers["Content-Type"].startswith("text/css")
    # A light accent gets dark text on it (WCAG contrast), a dark one white text.
    assert theme.body == ":root { --accent: #ffcc00; --on-accent: #111111; }\n"
    assert 'fill="#ffcc00"' in (await api.call("GET", "/favicon.svg")).body
