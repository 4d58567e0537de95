"""The state machine's diagram in the documentation is `mfa-flow machine --format mermaid`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mfa_flow import logs
from mfa_flow.cli import main

PAGE = Path(__file__).resolve().parents[2] / "docs" / "concepts" / "machine.md"


@pytest.fixture(autouse=True)
def logging_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` configures logging onto the stderr of the moment (this test's capture)."""
    monkeypatch.setattr(logs, "configure", lambda *args, **kwargs: None)


def test_the_documented_diagram_is_the_command_output(capsys):
    assert main(["machine", "--format", "mermaid"]) == 0
    printed = capsys.readouterr().out
    block = re.search(r"<!-- machine:begin -->\n```mermaid\n(.*?)```\n<!-- machine:end -->", PAGE.read_text(), re.S)
    assert block is not None, f"{PAGE} has no generated machine diagram"
    assert block.group(1) == printed, "the diagram is stale: run scripts/docs generate"
