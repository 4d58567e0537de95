"""The shape of the code: no import cycle between modules nor between packages, and the layers'
rules (read with grimp, which counts every import statement: lazy ones inside functions and
TYPE_CHECKING ones too)."""

from __future__ import annotations

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("mfa_flow", include_external_packages=True, cache_dir=None)


def importers(graph: grimp.ImportGraph, module: str) -> set[str]:
    return set(graph.find_modules_that_directly_import(module))


def ours(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == "mfa_flow" or m.startswith("mfa_flow."))


def module_edges(graph: grimp.ImportGraph) -> dict[str, list[str]]:
    modules = set(ours(graph))
    return {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in modules) for m in sorted(modules)}


def package_of(module: str) -> str:
    """``mfa_flow.store.flows`` is in ``mfa_flow.store``; a module at the top (``mfa_flow.live``)
    is a package of its own."""
    return ".".join(module.split(".")[:2])


def package_edges(graph: grimp.ImportGraph) -> dict[str, list[str]]:
    edges: dict[str, set[str]] = {}
    for module, imported in module_edges(graph).items():
        if module == "mfa_flow":
            continue  # the root package's __init__ imports nothing of ours, and is no layer
        edges.setdefault(package_of(module), set()).update(
            package_of(n) for n in imported if n != "mfa_flow" and package_of(n) != package_of(module))
    return {p: sorted(targets) for p, targets in sorted(edges.items())}


def cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (or a node importing itself)."""
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

    for node in edges:
        if node not in index:
            visit(node)
    return found


def imports_between(graph: grimp.ImportGraph, importer: str, imported: str) -> list[str]:
    """Where a module of package ``importer`` imports one of package ``imported``, as file:line."""
    found = []
    for module in ours(graph):
        if package_of(module) != importer or module == "mfa_flow":
            continue
        for target in graph.find_modules_directly_imported_by(module):
            if target != "mfa_flow" and target.startswith("mfa_flow.") and package_of(target) == imported:
                for detail in graph.get_import_details(importer=module, imported=target):
                    found.append(f"{module}:{detail['line_number']} imports {target}")
    return sorted(found)


def test_the_import_graph_has_no_cycle(graph):
    assert cycles(module_edges(graph)) == []


def test_no_two_packages_import_each_other_even_through_others(graph):
    """A package cycle (store → audit → store, or through a third) means neither package can be
    understood, tested or moved without the other: the lower one must not know the upper one."""
    edges = package_edges(graph)
    problems = []
    for cycle in cycles(edges):
        inside = set(cycle)
        lines = [line for a in cycle for b in edges[a] if b in inside for line in imports_between(graph, a, b)]
        problems.append(f"packages {' <-> '.join(cycle)} import each other:\n  " + "\n  ".join(lines))
    assert not problems, "\n".join(problems)


def test_the_package_check_finds_a_cycle_and_names_it():
    """The check above can fail: two packages importing each other, through a third, form one."""
    edges = {"mfa_flow.audit": ["mfa_flow.keyring"], "mfa_flow.keyring": ["mfa_flow.store"],
             "mfa_flow.store": ["mfa_flow.audit", "mfa_flow.domain"], "mfa_flow.domain": []}
    assert cycles(edges) == [["mfa_flow.audit", "mfa_flow.keyring", "mfa_flow.store"]]
    assert package_of("mfa_flow.store.flows") == "mfa_flow.store" and package_of("mfa_flow.live") == "mfa_flow.live"


def test_only_the_store_speaks_to_the_database_driver(graph):
    """asyncpg (its connections, its errors, its LISTEN) is imported under mfa_flow/store/ only:
    the change feed's listening connection is ``store/notifications.py``, the first connection's
    one-line failures ``store/first_connection.py``."""
    outside = {m for m in importers(graph, "asyncpg") if not m.startswith("mfa_flow.store.")}
    assert outside == set()


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


def test_the_audit_package_is_the_pure_verifier(graph):
    """``audit/`` checks chains, trees and signed notes from rows it is given; reading and writing
    them (the feed, checkpoints, the transparency log) is the service layer's (``app/``), so the
    store can use the audit's types without a cycle."""
    audit = {m for m in graph.modules if m.startswith("mfa_flow.audit")}
    imported = {n for m in audit for n in graph.find_modules_directly_imported_by(m)}
    assert {n for n in imported if n.split(".")[0] in ("asyncpg", "aiohttp")} == set()
    assert {n for n in imported if package_of(n) in ("mfa_flow.store", "mfa_flow.keyring", "mfa_flow.app")} == set()


def test_the_http_layer_reads_the_application_through_typed_keys():
    """``app[FLOWS]`` (an ``AppKey`` of ``http/keys.py``, or beside the class of its value) is a
    ``FlowService`` to mypy; ``app["flows"]`` was ``Any``, and a misspelling a KeyError at run time."""
    import re
    from pathlib import Path

    import mfa_flow.http

    string_keyed = re.compile(r"""\b(app|request|config_dict)(\[|\.get\()\s*["']""")
    found = [f"{path.name}:{number}" for path in sorted(Path(mfa_flow.http.__file__).parent.glob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1) if string_keyed.search(line)]
    assert found == []


def exception_roots() -> dict[str, type[BaseException]]:
    """Each package's one root: its every exception class derives from it."""
    from mfa_flow.audit.errors import AuditError
    from mfa_flow.domain.errors import DomainError
    from mfa_flow.http.problems import HttpError
    from mfa_flow.mail import MailUnavailable
    from mfa_flow.oidc.errors import OAuthError
    from mfa_flow.passwords.digests import DigestError
    from mfa_flow.startup import StartupFailure
    from mfa_flow.store.errors import StoreError
    from mfa_flow.tokens import TokenError
    from mfa_flow.webhooks.addresses import UnsafeUrl

    return {
        "mfa_flow.domain": DomainError, "mfa_flow.app": DomainError, "mfa_flow.factors": DomainError,
        "mfa_flow.store": StoreError, "mfa_flow.http": HttpError, "mfa_flow.audit": AuditError,
        "mfa_flow.oidc": OAuthError, "mfa_flow.passwords": DigestError, "mfa_flow.tokens": TokenError,
        "mfa_flow.mail": MailUnavailable, "mfa_flow.webhooks": UnsafeUrl, "mfa_flow.startup": StartupFailure,
    }


def test_each_layer_has_one_exception_root(graph):
    """An exception class derives from its package's root (``DomainError`` for the domain, the
    services and the factors; ``StoreError``, ``HttpError``, ...), so that one ``except`` can
    stand for a layer. A new class takes its package's root; a package with none yet gets one
    here (a refusal a client causes is a ``DomainError``, whatever the package)."""
    import importlib
    import inspect

    roots = exception_roots()
    strays = []
    for name in ours(graph):
        module = importlib.import_module(name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and issubclass(cls, BaseException) and cls.__module__ == name:
                root = roots.get(package_of(name))
                if root is None or not issubclass(cls, root):
                    strays.append(f"{name}.{cls.__name__} (root: {root.__name__ if root else 'none'})")
    assert strays == []
