"""``mfa-flow audit verify --file``: an export that holds is 0, one that does not is 1, and a
file that is no export is 2 with one line on stderr naming the file, the line and the fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mfa_flow.cli import build_parser
from tests.unit.audit.test_verify import SIGN_IN_WITH_TOTP, log_of


@pytest.fixture
def verify_file(capsys):
    """Run ``audit verify --file PATH`` in this process (fast); what a shell would see. Not
    through ``main``: that would point the process's log lines at this test's captured
    stderr, which is closed after it."""

    def run(path: Path, *extra: str) -> subprocess.CompletedProcess:
        args = build_parser().parse_args(["audit", "verify", "--file", str(path), *extra])
        code = args.run(args)
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess([], code, out, err)

    return run


def export_lines() -> list[str]:
    """A small export as ``audit export`` writes it: transitions, then flow rows."""
    rows, heads = log_of([SIGN_IN_WITH_TOTP, SIGN_IN_WITH_TOTP[:1]])
    return [json.dumps(r) for r in rows] + [json.dumps({"flow": h.__dict__}) for h in heads]


def one_line_refusal(outcome: subprocess.CompletedProcess, path: Path, detail: str) -> None:
    assert outcome.returncode == 2, (outcome.stdout, outcome.stderr)
    assert outcome.stdout == ""
    assert outcome.stderr.count("\n") == 1 and "Traceback" not in outcome.stderr, outcome.stderr
    assert outcome.stderr.startswith(f"mfa-flow audit verify: {path} "), outcome.stderr
    assert detail in outcome.stderr, outcome.stderr


def test_an_export_that_holds_verifies(verify_file, tmp_path):
    path = tmp_path / "log.ndjson"
    path.write_text("\n".join(export_lines()) + "\n")
    outcome = verify_file(path)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr


PROBLEM = json.dumps({"type": "urn:mfa-flow:problem:unauthorized", "title": "Unauthorized", "status": 401,
                      "detail": "this endpoint needs the admin or auditor key"})


@pytest.mark.parametrize("bad, detail", [
    (PROBLEM, "line 3: an error document (problem+json: 'Unauthorized'), not a transition"),
    ("Killed", "line 3: not JSON (Expecting value: line 1 column 1 (char 0))"),
    ('{"cursor": "12-1", "flow_id"', "line 3: not JSON"),
    ("[1, 2, 3]", "line 3: an array, not a JSON object"),
    ('"a string"', "line 3: a string, not a JSON object"),
    ("42", "line 3: a number, not a JSON object"),
    ("null", "line 3: null, not a JSON object"),
    ('{"hello": "world"}', "line 3: not a transition: it has no cursor, flow_id, seq"),
    ('{"cursor": "1-1", "flow_id": "f", "seq": "1", "event": "e", "from_state": "a", "to_state": "b",'
     ' "at": "t", "actor": "user", "data": {}, "prev_hash": "", "hash": "h"}', "line 3: not a transition: seq must be an integer"),
    ('{"cursor": "1-1", "flow_id": "f", "seq": true, "event": "e", "from_state": "a", "to_state": "b",'
     ' "at": "t", "actor": "user", "data": {}, "prev_hash": "", "hash": "h"}', "line 3: not a transition: seq must be an integer"),
    ('{"cursor": "1-1", "flow_id": "f", "seq": 1, "event": "e", "from_state": "a", "to_state": "b",'
     ' "at": "t", "actor": "user", "data": [], "prev_hash": null, "hash": "h"}', "line 3: not a transition: data must be an object"),
    ('{"flow": {"id": "f", "state": "done"}}', "line 3: not a flow line: it has no version, chain_head"),
    ('{"flow": {"id": "f", "state": "done", "version": 1, "chain_head": "", "x": 1}}', "unexpected field(s) x"),
    ('{"flow": [1]}', "line 3: not a flow line: flow must be an object"),
    ('{"checkpoint": {"id": 1}}', "line 3: not a checkpoint line: it has no cursor, rows, running_hash"),
    ('{"key": "not a JWK"}', "line 3: not a key line: key must be an object"),
    ("[" * 100_000, "line 3: JSON nested too deeply"),
])
def test_a_line_that_is_not_part_of_an_export_is_named(verify_file, tmp_path, bad, detail):
    lines = export_lines()
    lines.insert(2, bad)
    path = tmp_path / "log.ndjson"
    path.write_text("\n".join(lines) + "\n")
    one_line_refusal(verify_file(path), path, detail)


def test_a_line_that_is_not_utf8_is_named(verify_file, tmp_path):
    path = tmp_path / "log.ndjson"
    lines = [line.encode() for line in export_lines()]
    lines[1] = lines[1].replace(b'"user"', b'"us\xff\xfer"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    one_line_refusal(verify_file(path), path, "line 2: not UTF-8 text")


def test_an_empty_file_is_no_export(verify_file, tmp_path):
    path = tmp_path / "log.ndjson"
    path.write_text("\n\n")
    one_line_refusal(verify_file(path), path, "the file is empty")


def test_a_missing_file_is_said_in_one_line(verify_file, tmp_path):
    path = tmp_path / "nowhere.ndjson"
    outcome = verify_file(path)
    assert outcome.returncode == 2 and outcome.stderr.count("\n") == 1, outcome.stderr
    assert outcome.stderr == f"mfa-flow audit verify: cannot read {path}: No such file or directory\n"


def test_a_directory_is_said_in_one_line(verify_file, tmp_path):
    outcome = verify_file(tmp_path)
    assert outcome.returncode == 2 and outcome.stderr == f"mfa-flow audit verify: cannot read {tmp_path}: Is a directory\n"


@pytest.mark.parametrize("content, detail", [
    (None, "cannot read the key file"),
    ("{not json", "is not JSON"),
    ('{"keys": "none"}', "is not a JWKS"),
])
def test_a_key_file_that_is_no_jwks_is_said_in_one_line(verify_file, tmp_path, content, detail):
    export = tmp_path / "log.ndjson"
    export.write_text("\n".join(export_lines()) + "\n")
    keys = tmp_path / "keys.json"
    if content is not None:
        keys.write_text(content)
    outcome = verify_file(export, "--jwks", str(keys))
    assert outcome.returncode == 2 and outcome.stderr.count("\n") == 1, outcome.stderr
    assert outcome.stderr.startswith(f"mfa-flow audit verify: the key file {keys} ") or \
        outcome.stderr.startswith(f"mfa-flow audit verify: cannot read the key file {keys}")
    assert detail in outcome.stderr


def test_the_command_itself_prints_no_traceback(tmp_path):
    path = tmp_path / "log.ndjson"
    path.write_text(PROBLEM + "\n")
    outcome = subprocess.run([sys.executable, "-m", "mfa_flow.cli", "audit", "verify", "--file", str(path)],
                             capture_output=True, text=True, timeout=60)
    one_line_refusal(outcome, path, "line 1: an error document (problem+json: 'Unauthorized')")
