"""The event loop: uvloop whenever it is installed, asyncio's own when asked or when it is not."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from mfa_flow import loops
from mfa_flow.settings import Settings


async def running_loop() -> type:
    return type(asyncio.get_running_loop())


def test_auto_runs_on_uvloop_when_it_is_installed():
    assert loops.chosen("auto") == "uvloop"
    assert loops.run(running_loop(), "auto") is uvloop.Loop


def test_asyncio_runs_on_the_standard_loop_even_with_uvloop_installed():
    assert loops.chosen("asyncio") == "asyncio"
    assert loops.run(running_loop(), "asyncio") is not uvloop.Loop


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an install without the "fast" extra sees
    assert loops.chosen("auto") == "asyncio"
    with pytest.raises(SystemExit, match=r"uvloop is not installed \(pip install 'mfa-flow\[fast\]'\)"):
        loops.chosen("uvloop")


def test_the_setting_and_the_number_of_workers_are_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("MFA_FLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MFA_FLOW_EVENT_LOOP", "trio")
    with pytest.raises(SystemExit, match="MFA_FLOW_EVENT_LOOP must be auto, uvloop or asyncio, not 'trio'"):
        Settings.from_env()
    monkeypatch.setenv("MFA_FLOW_EVENT_LOOP", "asyncio")
    monkeypatch.setenv("MFA_FLOW_WORKERS", "0")
    with pytest.raises(SystemExit, match="must be at least 1, not 0"):
        Settings.from_env()
    assert Settings.from_env(workers=3).workers == 3
