"""`mfa-flow machine` prints the whole table (tests/docs keeps the documented diagram equal to it)."""

from __future__ import annotations

import re

import pytest

from mfa_flow import logs
from mfa_flow.cli import main
from mfa_flow.factors.registry import default


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


def test_graphviz_output_names_every_edge(capsys):
    assert main(["machine", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph flow {") and dot.count(" -> ") == len(list(default().machine.edges()))


def test_the_text_table_reads_each_row_back_in_aligned_columns(capsys):
    assert main(["machine"]) == 0
    lines = capsys.readouterr().out.splitlines()
    machine = default().machine
    expected = [("event", "from", "guard", "to")] + [
        (event, ", ".join(sources), guard, ", ".join(destinations)) for event, sources, guard, destinations in machine.table
    ]
    # Columns are two spaces apart and padded to the longest cell, so each starts at one offset.
    widths = [max(len(row[i]) for row in expected) for i in range(3)]
    starts = [0, widths[0] + 2, widths[0] + widths[1] + 4, widths[0] + widths[1] + widths[2] + 6]
    for line, row in zip(lines, expected, strict=True):
        cells = [line[starts[i]:starts[i + 1]].rstrip() if i < 3 else line[starts[i]:] for i in range(4)]
        assert tuple(cells) == row, line
        assert line == line.rstrip()


def test_the_graphviz_picture_is_one_digraph_with_every_edge(capsys):
    assert main(["machine", "--format", "dot"]) == 0
    picture = capsys.readouterr().out
    machine = default().machine
    lines = picture.splitlines()
    assert lines[:3] == ["digraph flow {", "    rankdir=LR;", "    node [shape=box, style=rounded];"]
    assert lines[-1] == "}" and picture.endswith("}\n")
    for state in ("done", "failed", "expired", "cancelled"):
        assert f"    {state} [shape=doublecircle];" in lines
    for source, event, guard, dest in machine.edges():
        assert f'    {source} -> {dest} [label="{event} [{guard}]"];' in lines
