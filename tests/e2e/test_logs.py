"""Logs for people and for machines: readable lines on a terminal, JSON otherwise
(MFA_FLOW_LOG_FORMAT overrides), MFA_FLOW_LOG_LEVEL; a line with the pages' addresses when
``serve`` is ready, and one when it stops (Ctrl-C included, exiting cleanly)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time

from tests.support.server import ServerProcess


def interrupted(process: ServerProcess) -> int:
    """Ctrl-C: SIGINT, then the exit code."""
    process.process.send_signal(signal.SIGINT)
    code = process.process.wait(20)
    process._log.close()
    return code


def test_json_when_not_a_terminal_with_the_addresses_and_a_line_at_the_stop(database_url):
    server = ServerProcess(database_url)
    server.env.pop("MFA_FLOW_ORIGIN")  # the default: the pages at http://localhost:<port>
    server.start()
    assert interrupted(server) == 0
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    ready = next(line for line in lines if "ready at" in line["event"])
    base = f"http://localhost:{server.port}"
    assert ready["url"] == base + "/" and ready["event"].startswith("mfa-flow ")
    assert (ready["console"], ready["account"], ready["docs"]) == (base + "/console", base + "/account", base + "/docs")
    assert ready["level"] == "info" and ready["listening"] == f"127.0.0.1:{server.port}"
    assert lines[-1]["event"] == "mfa-flow stopped"
    assert "Traceback" not in server.log()


def test_console_format_and_a_level(database_url):
    server = ServerProcess(database_url, MFA_FLOW_LOG_FORMAT="console").start()
    assert interrupted(server) == 0
    log = server.log()
    ready = next(line for line in log.splitlines() if "ready at" in line)
    assert not ready.startswith("{") and "[info" in ready and f"http://localhost:{server.port}/" in ready
    assert "mfa-flow stopped" in log

    quiet = ServerProcess(database_url, MFA_FLOW_LOG_LEVEL="warning").start()
    assert interrupted(quiet) == 0
    assert "ready at" not in quiet.log() and "stopped" not in quiet.log()


def test_a_terminal_gets_readable_lines(database_url):
    """On a terminal (a pseudo-terminal here), with no MFA_FLOW_LOG_FORMAT: lines for a person."""
    server = ServerProcess(database_url)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {**server.env, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "mfa_flow.cli", "serve"], env=env, stdin=follower,
                               stdout=follower, stderr=follower)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while b"ready at" not in out and time.monotonic() < deadline and process.poll() is None:
            out += os.read(leader, 65536)
        process.send_signal(signal.SIGINT)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        code = process.wait(20)
        os.close(leader)
    text = out.decode(errors="replace")
    assert code == 0, text
    ready = next(line for line in text.splitlines() if "ready at" in line)
    assert not ready.lstrip().startswith("{") and f"ready at http://localhost:{server.port}/" in ready
    assert "\x1b[" not in text, "NO_COLOR: no colours"
    assert "mfa-flow stopped" in text and "Traceback" not in text
