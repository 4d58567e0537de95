"""The shape of the code: no import cycle, and the layers' rules (read with grimp, which counts
every import statement: lazy ones inside functions and TYPE_CHECKING ones too)."""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("mfa_flow", include_external_packages=True, cache_dir=None)


def importers(graph: grimp.ImportGraph, module: str) -> set[str]:
    return set(graph.find_modules_that_directly_import(module))


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    ours = sorted(m for m in graph.modules if m == "mfa_flow" or m.startswith("mfa_flow."))
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in ours) for m in ours}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for module in ours:
        if module not in index:
            visit(module)
    return found


def test_the_import_graph_has_no_cycle(graph):
    assert cycles(graph) == []


def test_only_the_http_layer_speaks_aiohttp(graph):
    outside = {m for m in importers(graph, "aiohttp") if not m.startswith("mfa_flow.http.")}
    assert outside == set()


def test_only_the_http_layer_knows_http_problems(graph):
    outside = {m for m in importers(graph, "mfa_flow.http.problems") if not m.startswith("mfa_flow.http.")}
    assert outside == set()


def test_the_domain_does_no_io_and_depends_on_nothing_above_it(graph):
    domain = {m for m in graph.modules if m.startswith("mfa_flow.domain")}
    imported = {n for m in domain for n in graph.find_modules_directly_imported_by(m)}
    assert not {n for n in imported if n.split(".")[0] in ("asyncpg", "aiohttp", "structlog", "prometheus_client")}
    assert {n for n in imported if n.startswith("mfa_flow.") and not n.startswith("mfa_flow.domain")} == set()


def test_factors_and_the_service_layer_stay_below_the_entrypoints(graph):
    lower = {m for m in graph.modules if m.startswith(("mfa_flow.factors", "mfa_flow.app", "mfa_flow.store",
                                                        "mfa_flow.webhooks", "mfa_flow.audit"))}
    imported = {n for m in lower for n in graph.find_modules_directly_imported_by(m)}
    assert {n for n in imported if n.startswith(("mfa_flow.http", "mfa_flow.cli", "mfa_flow.bootstrap"))} == set()
