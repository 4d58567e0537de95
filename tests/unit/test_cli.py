"""Every command explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

COMMANDS = [[], ["serve"], ["worker"], ["migrate"], ["audit"], ["audit", "verify"], ["audit", "replay"],
            ["audit", "export"], ["keys"], ["keys", "rotate"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mfa-flow")
def test_help_describes_the_command(command):
    result = subprocess.run([sys.executable, "-m", "mfa_flow.cli", *command, "--help"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: mfa-flow")
    assert len(result.stdout.splitlines()) > 3


def test_an_unknown_command_says_what_exists():
    result = subprocess.run([sys.executable, "-m", "mfa_flow.cli", "launch"], capture_output=True, text=True)
    assert result.returncode == 2 and "invalid choice: 'launch'" in result.stderr and "serve" in result.stderr
