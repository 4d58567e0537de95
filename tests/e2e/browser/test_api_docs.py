"""The API reference at /docs in a real browser: the service's own OpenAPI document drawn by the
vendored Swagger UI under the pages' strict Content-Security-Policy (any violation is a console
error, which fails the test), reached from the console; /openapi.json readable cross-origin."""

from __future__ import annotations

import os
import re

from tests.e2e.browser.conftest import README_SHOTS, axe_violations
from tests.e2e.browser.steps import page_url
from tests.support.server import ADMIN_KEY


async def test_the_api_reference_renders_the_served_operations(server, page, shots, http):
    response = await page.goto(page_url(server, "/docs"))
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe" not in response.headers["content-security-policy"]
    await page.locator(".swagger-ui .opblock").first.wait_for()
    # Every operation of the served document is listed, by method and path.
    async with http.get(f"{server.base_url}/openapi.json") as answer:
        document = await answer.json()
    paths = document["paths"]
    count = sum(1 for item in paths.values() for method in item if method in ("get", "post", "put", "patch", "delete"))
    assert await page.locator(".swagger-ui .opblock").count() == count
    assert await page.get_by_text(document["info"]["title"]).first.is_visible()
    flows = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/flows$"))
    assert await flows.count() >= 1
    await shots.take(page, "api-reference")
    if os.environ.get("MFA_FLOW_UPDATE_SCREENSHOTS") == "1":  # the docs' picture: the top of the page only
        await page.screenshot(path=str(README_SHOTS / "api-reference.png"))

    # An operation opens with its parameters and responses.
    await flows.first.click()
    await page.locator(".opblock.is-open .responses-wrapper").first.wait_for()
    assert await page.locator(".opblock.is-open .response-col_status", has_text="201").count() >= 1
    await shots.take(page, "an-operation")
    # Swagger UI's own markup is its maintainers' (its server picker is an unlabelled select);
    # the page's frame around it passes the pages' accessibility scan.
    assert [v for v in await axe_violations(page, ("critical",)) if v["id"] != "select-name"] == []


async def test_the_console_links_to_the_api_reference(server, page):
    await page.goto(page_url(server, "/console"))
    await page.get_by_role("link", name="API reference").click()  # from the key prompt
    await page.wait_for_url(re.compile(r"/docs$"))
    await page.locator(".swagger-ui .opblock").first.wait_for()
    await page.goto(page_url(server, "/console"))
    await page.get_by_label("Admin or auditor key").fill(ADMIN_KEY)
    await page.get_by_role("button", name="Open the console").click()
    await page.locator("body[data-role=admin]").wait_for()
    assert await page.locator("#nav").get_by_role("link", name="API reference").get_attribute("href") == "/docs"


async def test_openapi_json_is_readable_from_another_origin(server, http):
    async with http.get(f"{server.base_url}/openapi.json", headers={"Origin": "https://viewer.example"}) as answer:
        assert answer.status == 200
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in answer.headers
