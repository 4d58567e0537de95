"""The command line explains itself: ``mfa-flow`` alone lists the commands, every command and
subcommand has a description, and ``mfa-flow machine`` fits the terminal it prints on."""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from mfa_flow.cli import build_parser, subcommands
from mfa_flow.factors.registry import default

ROOT = Path(__file__).resolve().parents[2]


def mfa_flow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mfa_flow.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def on_a_terminal(columns: int, *args: str) -> str:
    """What ``mfa-flow ARGS`` prints on a terminal ``columns`` wide (a pseudo-terminal)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([sys.executable, "-m", "mfa_flow.cli", *args], stdout=follower, stderr=subprocess.DEVNULL,
                               cwd=ROOT, env=env)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        out += chunk
    process.wait(60)
    os.close(leader)
    return out.decode().replace("\r\n", "\n")


def test_the_command_alone_lists_the_commands():
    done = mfa_flow()
    assert done.returncode == 0 and done.stderr == ""
    for command in ("serve", "migrate", "worker", "machine", "audit", "keys"):
        assert f"\n    {command} " in done.stdout, command
    assert "'mfa-flow COMMAND --help'" in done.stdout


def test_a_group_alone_lists_its_subcommands():
    done = mfa_flow("keys")
    assert done.returncode == 0
    for sub in ("list", "rotate", "remove"):
        assert f"\n    {sub} " in done.stdout
    assert "audit verify" not in done.stdout and "verify-bundle" in mfa_flow("audit").stdout


def test_every_command_and_subcommand_has_a_description_and_a_summary():
    def walk(parser, path):
        for name, sub in subcommands(parser).items():
            yield (*path, name), sub
            yield from walk(sub, (*path, name))

    found = dict(walk(build_parser(), ()))
    assert {("keys", "list"), ("keys", "rotate"), ("keys", "remove"), ("audit", "verify")} <= set(found)
    for path, parser in found.items():
        assert parser.description and len(parser.description) > 40, path
    for parser in [build_parser(), *found.values()]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):  # the one-line summaries in the lists
                for choice in action._choices_actions:
                    assert choice.help, (parser.prog, choice.dest)


def test_keys_help_describes_each_subcommand():
    for sub, words in (("list", "status"), ("rotate", "retired"), ("remove", "stops verifying")):
        done = mfa_flow("keys", sub, "--help")
        assert done.returncode == 0 and words in done.stdout, (sub, done.stdout)


def test_the_machine_fits_an_80_column_terminal():
    printed = on_a_terminal(80, "machine")
    lines = printed.splitlines()
    assert max(map(len, lines)) <= 80
    machine = default().machine
    for event, sources, guard, destinations in machine.table:
        assert f"{event} [{guard}]" in printed or event in printed
        for state in (*sources, *destinations):
            assert state in printed


def test_a_wide_terminal_gets_columns_with_the_lists_wrapped_inside():
    lines = on_a_terminal(140, "machine").splitlines()
    assert lines[0].split() == ["event", "from", "guard", "to"]
    assert max(map(len, lines)) <= 140
    assert any(line.startswith(" ") for line in lines), "a long list of states goes on in its column"


def test_wide_or_a_pipe_keeps_one_line_per_row():
    natural = default().machine.text()
    assert mfa_flow("machine").stdout == natural  # piped: one line per row, for scripts
    assert on_a_terminal(80, "machine", "--wide") == natural
    narrow = mfa_flow("machine", "--width", "60").stdout
    assert max(map(len, narrow.splitlines())) <= 60
