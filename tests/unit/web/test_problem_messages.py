"""Every problem type the service can answer with has the pages' words in every catalogue (issue
27, "the pages' messages for every problem type are translated"): ``problem.<type>``.

The types are read from the source, where they are made: a domain error's ``default_kind`` or
``kind=``, an HTTP ``Problem(status, "<type>", ...)``, a literal ``urn:mfa-flow:problem:<type>``,
the slugs of aiohttp's own refusals and of the HTTP parser's. A ``kind=`` this reading cannot
resolve to literal strings fails the test: a new type must be visible here to get its words.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from mfa_flow.http import parser_errors, problems

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ROOT / "mfa_flow"
CATALOGUES = SOURCE / "web" / "i18n"
LOCALES = ("en", "de", "fr", "es", "ja", "ar")
URN = "urn:mfa-flow:problem:"
# OAuth errors (urn:mfa-flow:problem:oauth-*) answer apps at the token and PAR endpoints, and the
# authorization endpoint shows its own error page: the sign-in and account pages never get them.
NOT_FOR_PAGES = ("oauth-",)
# Where a type made elsewhere is passed on (read at its source instead).
RELAYS = {
    "mfa_flow/http/problems.py: Problem(..., error.kind)": "a domain error's kind (default_kind, kind=)",
    "mfa_flow/http/problems.py: Problem(..., slug)": "aiohttp's refusals (the_http_layers_own)",
}


def strings(node: ast.AST, module: ast.Module, scope: ast.AST | None) -> set[str] | None:
    """The literal strings an expression can be: a constant, either side of ``a if c else b``, or
    a name assigned such values in its function or its module. None when that cannot be told."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        body, other = strings(node.body, module, scope), strings(node.orelse, module, scope)
        return None if body is None or other is None else body | other
    if isinstance(node, ast.Name):
        values: set[str] = set()
        for where in (scope, module):
            for assign in ast.walk(where) if where is not None else ():
                if isinstance(assign, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in assign.targets):
                    found = strings(assign.value, module, None)
                    if found is None:
                        return None
                    values |= found
            if values:
                return values
    return None


def error_classes(modules: dict[Path, ast.Module]) -> set[str]:
    """The names of the domain error classes (DomainError and every class under it)."""
    names = {"DomainError"}
    grew = True
    while grew:
        grew = False
        for module in modules.values():
            for node in ast.walk(module):
                if isinstance(node, ast.ClassDef) and node.name not in names and any(
                        (b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else None) in names
                        for b in node.bases):
                    names.add(node.name)
                    grew = True
    return names


def emitted(source: Path = SOURCE) -> tuple[set[str], list[str]]:
    """The problem types made in ``source``'s Python files, and the sites whose type is unclear."""
    modules = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(source.rglob("*.py"))}
    classes = error_classes(modules)
    found: set[str] = set()
    unclear: list[str] = []
    for path, module in modules.items():
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        functions = [n for n in ast.walk(module) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        scope_of = {id(inner): f for f in functions for inner in ast.walk(f)}
        for node in ast.walk(module):
            where = f"{shown}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "default_kind" for t in node.targets):
                found |= strings(node.value, module, None) or set()
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "default_kind":
                found |= strings(node.value, module, None) if node.value else set()
            elif isinstance(node, ast.Call):
                callee = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(
                    node.func, ast.Attribute) else None
                if callee in classes:
                    for keyword in node.keywords:
                        if keyword.arg == "kind":
                            values = strings(keyword.value, module, scope_of.get(id(node)))
                            if values is None:
                                unclear.append(f"{where}: kind={ast.unparse(keyword.value)}")
                            else:
                                found |= values
                elif callee == "Problem" and len(node.args) >= 2:
                    values = strings(node.args[1], module, scope_of.get(id(node)))
                    relay = f"{shown}: Problem(..., {ast.unparse(node.args[1])})"
                    if values is None and relay not in RELAYS:
                        unclear.append(f"{where}: Problem(..., {ast.unparse(node.args[1])})")
                    elif values is not None:
                        found |= values
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(URN):
                found.add(node.value.removeprefix(URN))
    return {f for f in found if f and not f.startswith(NOT_FOR_PAGES)}, unclear


def the_http_layers_own() -> set[str]:
    """aiohttp's refusals (``_AIOHTTP_SLUGS``, else ``http-error``) and the HTTP parser's."""
    parser = {slug for _, slug, _ in parser_errors._WORDS}
    parser |= {parser_errors._problem(status, None)[0] for status in (400, 500, 504)}
    return set(problems._AIOHTTP_SLUGS.values()) | {"http-error"} | parser


def all_types() -> set[str]:
    found, _ = emitted()
    return found | the_http_layers_own()


def load(code: str) -> dict[str, str]:
    return json.loads((CATALOGUES / f"{code}.json").read_text(encoding="utf-8"))


def test_the_reading_finds_each_way_a_type_is_made():
    found, unclear = emitted()
    assert unclear == []
    assert {"wrong-proof", "not-found", "factor-exists", "number-type-refused", "subject-token-too-old",
            "invalid-subject-token", "too-many-connections", "request-timeout", "upgrade-required",
            "database-unavailable"} <= found
    assert {"line-too-long", "timeout", "method-not-allowed", "http-error"} <= the_http_layers_own()


@pytest.mark.parametrize("code", LOCALES)
def test_every_problem_type_has_the_pages_words_in_every_locale(code):
    catalogue = load(code)
    assert sorted(t for t in all_types() if f"problem.{t}" not in catalogue) == []
    assert "problem.unknown" in catalogue  # a type from a newer server than the page


def test_the_check_fails_for_a_type_without_words_and_for_a_type_it_cannot_read(tmp_path):
    (tmp_path / "errors.py").write_text(
        "class DomainError(Exception):\n    default_kind = 'invalid-request'\n"
        "class Refused(DomainError):\n    default_kind = 'brand-new-type'\n"
        "def refuse(why):\n    raise Refused('no', kind=why.kind)\n", encoding="utf-8")
    found, unclear = emitted(tmp_path)
    assert "problem.brand-new-type" not in load("en") and "brand-new-type" in found
    assert [u.split(": ", 1)[1] for u in unclear] == ["kind=why.kind"]
