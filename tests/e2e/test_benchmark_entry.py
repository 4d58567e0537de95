"""benchmarks/run: one entry for every benchmark, one table, JSON to compare runs. Only its
working is checked here (a quick run of the cheap ones), never a speed."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_quick_run_prints_progress_one_table_and_json(database_url, tmp_path):
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [str(ROOT / "benchmarks" / "run"), "--quick", "--only", "argon2,pgbench", "--seconds", "1", "--json", str(out)],
        env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "== argon2" in done.stderr and "== pgbench" in done.stderr  # progress, on stderr
    header, columns, rule, *rows = done.stdout.splitlines()
    assert header.startswith("mfa-flow ") and "load average" in header and "quick run" in header
    assert [c.strip() for c in columns.split(" | ")][:3] == ["measure", "mfa-flow", "ceiling, same run"]
    assert set(rule) <= {"-", "+"}
    assert [row.split(" | ")[0].strip()[:16] for row in rows] == ["raw argon2 verif", "pgbench, one tra"]

    figures = json.loads(out.read_text())
    assert figures["options"]["quick"] is True and figures["machine"]["cores"] == os.cpu_count()
    assert [f["bench"] for f in figures["figures"]] == ["argon2", "pgbench"]
    argon2, pgbench = figures["figures"]
    assert argon2["value"] > 0 and argon2["details"]["verify_ms"] > 0 and argon2["details"]["parameters"].startswith("argon2id")
    assert pgbench["unit"] == "/s" and pgbench["value"] > 0


def test_the_websocket_run_opens_more_sockets_from_one_address_than_the_service_lets_a_client(database_url):
    """The benchmark's clients all come from 127.0.0.1: its server must not apply the per-address
    connection cap (128 by default), or the 1,000-socket run is refused with 429."""
    done = subprocess.run(
        [str(ROOT / "benchmarks" / "run"), "--quick", "--only", "websocket", "--sockets", "200", "--seconds", "1"],
        env={**os.environ, "DATABASE_URL": database_url}, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "200 sockets open" in done.stdout, done.stdout


def test_help_lists_every_benchmark_and_an_unknown_one_is_refused():
    helped = subprocess.run([str(ROOT / "benchmarks" / "run"), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--quick" in helped.stdout and "--big" in helped.stdout
    for name in ("transitions", "pgbench", "sign-ins", "argon2", "passwords", "websocket", "stored"):
        assert f"{name}:" in helped.stdout
    refused = subprocess.run([str(ROOT / "benchmarks" / "run"), "--only", "speed"], capture_output=True, text=True,
                             timeout=60)
    assert refused.returncode == 2 and "unknown benchmark(s): speed" in refused.stderr
