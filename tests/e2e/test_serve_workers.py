"""``serve --workers N``: N serve processes share one port; each answers, each sees the others'
changes (the database and its change feed are shared), and SIGTERM stops them all."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.support.server import ServerProcess


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def holder(connection: http.client.HTTPConnection, server_port: int, pids: list[int]) -> int:
    """The worker process that accepted this client connection: the socket's inode (from
    /proc/net/tcp, by its two ports) among the workers' open files."""
    client_port = connection.sock.getsockname()[1]
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def request(connection: http.client.HTTPConnection, method: str, path: str, body: dict | None = None,
            token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"null")


@pytest.fixture
def two_workers(database_url):
    server = ServerProcess(database_url, MFA_FLOW_WORKERS="2").start()
    try:
        yield server
    finally:
        server.stop()


def test_two_workers_answer_on_one_port_and_see_each_others_changes(two_workers):
    server = two_workers
    workers = children(server.process.pid)
    assert len(workers) == 2, workers

    # The kernel spreads new connections over the workers: open some until each has answered one.
    by_worker: dict[int, http.client.HTTPConnection] = {}
    deadline = time.monotonic() + 30
    while len(by_worker) < 2:
        assert time.monotonic() < deadline, f"only {list(by_worker)} answered"
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        status, _ = request(connection, "GET", "/readyz")
        pid = holder(connection, server.port, workers)
        if status == 200 and pid not in by_worker:
            by_worker[pid] = connection
        else:
            connection.close()
    first, second = by_worker.values()

    status, created = request(first, "POST", "/api/flows", {})
    assert status == 201
    flow_id, token = created["flow"]["id"], created["flow_token"]

    # A long-poll on the second worker wakes for a change made through the first.
    waited: dict = {}
    poll = threading.Thread(target=lambda: waited.update(
        answer=request(second, "GET", f"/api/flows/{flow_id}?wait=10", token=token)))
    poll.start()
    time.sleep(0.5)
    status, cancelled = request(first, "POST", f"/api/flows/{flow_id}/events", {"type": "cancel"}, token)
    assert status == 200 and cancelled["state"] == "cancelled"
    poll.join(15)
    status, seen = waited["answer"]
    assert status == 200 and seen["state"] == "cancelled" and seen["version"] == cancelled["version"]

    for connection in by_worker.values():
        connection.close()
    assert server.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text(), pid
