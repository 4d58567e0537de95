"""Nothing in mfa_flow/web/ talks to the API except through the SDK: the pages' own modules make
no request, open no socket or stream and run no WebAuthn ceremony of their own, and name no API
address; the SDK (the served copy of clients/js, under web/vendor/) does all of that. So the
pages' browser tests test the SDK, and a change to the API's use is made once, in the SDK."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[3] / "mfa_flow" / "web"
SDK = WEB / "vendor" / "mfa-flow-client"

# Ways a browser script reaches a server, or an authenticator.
FORBIDDEN_CALLS = {
    "fetch": re.compile(r"(?<![\w.])fetch\s*\("),
    "XMLHttpRequest": re.compile(r"\bXMLHttpRequest\b"),
    "WebSocket": re.compile(r"\bnew\s+WebSocket\b"),
    "EventSource": re.compile(r"\bEventSource\b"),
    "sendBeacon": re.compile(r"\bsendBeacon\b"),
    "navigator.credentials": re.compile(r"\bnavigator\s*\.\s*credentials\b"),
    "a dynamic import": re.compile(r"\bimport\s*\("),
}
# An API address in a string or a template literal.
API_ADDRESS = re.compile(r"""["'`][^"'`\n]*(/api/|/openapi\.json|/\.well-known/|/oidc/)""")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def page_modules() -> list[Path]:
    return sorted(p for p in WEB.rglob("*.js") if not p.is_relative_to(WEB / "vendor"))


def code_of(path: Path) -> str:
    """The module without its comments (which may say which endpoint a call reaches)."""
    return COMMENT.sub("", re.sub(r"(^|\s)//[^\n]*", r"\1", path.read_text()))


def test_the_pages_have_modules_and_the_sdk_is_served_beside_them():
    assert {p.name for p in page_modules()} >= {"signin.js", "account.js", "console.js", "flow-ui.js", "common.js"}
    assert (SDK / "index.js").is_file()


@pytest.mark.parametrize("module", page_modules(), ids=lambda p: str(p.relative_to(WEB)))
def test_a_page_module_reaches_the_service_only_through_the_sdk(module):
    code = code_of(module)
    used = [name for name, pattern in FORBIDDEN_CALLS.items() if pattern.search(code)]
    assert used == [], f"{module.name} uses {', '.join(used)}: call the SDK (clients/js) instead"
    addresses = [m.group(0) for m in API_ADDRESS.finditer(code)]
    assert addresses == [], f"{module.name} names API addresses {addresses}: the SDK knows them"


@pytest.mark.parametrize("module", page_modules(), ids=lambda p: str(p.relative_to(WEB)))
def test_a_page_module_imports_only_the_pages_and_the_sdk(module):
    imports = re.findall(r"""\bfrom\s+["']([^"']+)["']""", module.read_text())
    for name in imports:
        target = (module.parent / name).resolve()
        assert name.startswith("./") and target.is_file(), f"{module.name} imports {name}, which is not served beside it"
        assert target.is_relative_to(WEB)


def test_the_checks_catch_a_page_that_calls_the_api_itself(tmp_path):
    rogue = tmp_path / "rogue.js"
    rogue.write_text('// fetch("/api/flows") in a comment is fine\nconst r = await fetch(`/api/flows/${id}`);\n')
    code = code_of(rogue)
    assert FORBIDDEN_CALLS["fetch"].search(code) and API_ADDRESS.search(code)
    assert not FORBIDDEN_CALLS["fetch"].search(code_of(tmp_path.joinpath("rogue.js")).split("\n")[0])
