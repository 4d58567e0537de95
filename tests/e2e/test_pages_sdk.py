"""Every module a page loads — its own and the SDK's, served from web/vendor/ — comes from the
service itself, as JavaScript, cached under the release's digest: the pages' strict
Content-Security-Policy (script-src 'self', no import map) allows nothing else."""

from __future__ import annotations

import posixpath
import re

import pytest

from tests.support.client import Api

IMPORT = re.compile(r"""(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']""")


async def modules_of(api: Api, page: str) -> dict[str, str]:
    """The page's script and every module it imports, transitively: path -> source."""
    html = (await api.call("GET", page)).body
    pending = re.findall(r'<script type="module" src="(/static/[0-9a-f]{12}/[\w.-]+\.js)"', html)
    assert pending, html
    found: dict[str, str] = {}
    while pending:
        path = pending.pop()
        if path in found:
            continue
        reply = await api.call("GET", path)
        assert reply.status == 200, path
        # JSON modules (the message catalogues, imported `with { type: "json" }`) are JSON.
        media = "application/json" if path.endswith(".json") else "text/javascript"
        assert reply.headers["Content-Type"].startswith(media), path
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable", path
        if path.endswith(".json"):
            continue
        found[path] = reply.body
        for name in IMPORT.findall(reply.body):
            assert name.startswith("./") or name.startswith("../"), f"{path} imports {name}: not from this service"
            pending.append(posixpath.normpath(posixpath.join(posixpath.dirname(path), name)))
    return found


@pytest.mark.parametrize("page", ["/", "/account", "/console"])
async def test_a_page_loads_the_sdk_from_the_service_itself(api: Api, page):
    modules = await modules_of(api, page)
    assert any(path.endswith("/vendor/mfa-flow-client/index.js") for path in modules)
    assert any(path.endswith("/vendor/mfa-flow-client/flow.js") for path in modules)
    assert not any(path.endswith("/node.js") for path in modules)  # the Node checks stay out of the browser
