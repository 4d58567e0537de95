"""`mfa-flow machine` prints the whole table; the README's diagram is its output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mfa_flow import logs
from mfa_flow.cli import main
from mfa_flow.factors.registry import default

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(autouse=True)
def logging_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` configures logging onto the stderr of the moment, which here is this test's
    capture: left so, every later in-process log line (tests/integration on the same xdist
    worker) would write to a closed file. The command runs without it."""
    monkeypatch.setattr(logs, "configure", lambda *args, **kwargs: None)


def test_the_text_table_has_every_row(capsys):
    assert main(["machine"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(default().machine.table)
    assert lines[0].split() == ["event", "from", "guard", "to"]


def test_the_diagram_has_every_state_and_edge(capsys):
    assert main(["machine", "--format", "mermaid"]) == 0
    diagram = capsys.readouterr().out
    machine = default().machine
    for state in machine.states:
        assert re.search(rf"\b{state}\b", diagram)
    for source, event, guard, dest in machine.edges():
        assert re.search(rf"^    {source} --> {dest}: .*{event} \[{guard}\]", diagram, re.M), (source, event, dest)


def test_the_readme_diagram_is_the_command_output(capsys):
    assert main(["machine", "--format", "mermaid"]) == 0
    printed = capsys.readouterr().out
    block = re.search(r"<!-- machine:begin -->\n```mermaid\n(.*?)```\n<!-- machine:end -->", README.read_text(), re.S)
    assert block is not None, "the README has no generated machine diagram"
    assert block.group(1) == printed


def test_graphviz_output_names_every_edge(capsys):
    assert main(["machine", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph flow {") and dot.count(" -> ") == len(list(default().machine.edges()))
