"""The browser SDK (clients/js) under Node's own test runner, against a real server and worker:
its tests (clients/js/test/*.test.js) drive flows, follow them over the WebSocket and by
long-polling, call the Management and audit APIs, and check webhooks and result tokens with the
SDK's Node checks. Run from here so that every test run covers them; the pages' browser tests
cover the same SDK in Chromium."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from tests.support.server import ADMIN_KEY, AUDITOR_KEY

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


async def test_the_sdk_passes_its_node_tests_against_a_real_server(service):
    server, _ = service
    node = shutil.which("node")
    assert node, "Node.js is missing: scripts/setup --test installs it"
    assert (JS / "node_modules").is_dir(), "clients/js has no node_modules: scripts/setup --test runs npm ci there"
    env = {
        **os.environ,
        "MFA_FLOW_TEST_URL": server.base_url,
        "MFA_FLOW_TEST_ADMIN_KEY": ADMIN_KEY,
        "MFA_FLOW_TEST_AUDITOR_KEY": AUDITOR_KEY,
        # What the key-rotation test needs to run `mfa-flow keys rotate` on the server's database.
        "MFA_FLOW_TEST_PYTHON": sys.executable,
        "MFA_FLOW_TEST_SERVER_ENV": "\n".join(f"{k}={v}" for k, v in server.env.items() if k.startswith(("MFA_FLOW_", "DATABASE_URL"))),
    }
    process = await asyncio.create_subprocess_exec(
        node, "--experimental-websocket", "--no-warnings", "--test", "--test-concurrency=1", "--test-reporter=spec",
        *sorted(str(p.relative_to(JS)) for p in (JS / "test").glob("*.test.js")),
        cwd=JS, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    report = output.decode(errors="replace")
    print(report)
    assert process.returncode == 0, f"the SDK's Node tests failed:\n{report[-6000:]}"
    assert "# fail 0" in report or "ℹ fail 0" in report
