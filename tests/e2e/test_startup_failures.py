"""Every foreseeable start-up failure is one line on stderr that names the fix, and a non-zero
exit: no traceback (unless ``--debug``). Each case runs the real ``mfa-flow`` command."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.fake_postgres import fake_postgres
from tests.support.server import ADMIN_KEY, AUDITOR_KEY, SECRET_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]
REFUSED = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"  # nothing listens there


def run(*args: str, prefix: tuple[str, ...] = (), timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MFA_FLOW_") and k != "DATABASE_URL"}
    data_dir = env.pop("MFA_FLOW_DATA_DIR", None) or tempfile.mkdtemp(prefix="mfa-flow-startup-")
    environment = {**base, "MFA_FLOW_DATA_DIR": data_dir, "MFA_FLOW_ADMIN_KEY": ADMIN_KEY,
                   "MFA_FLOW_AUDITOR_KEY": AUDITOR_KEY, "MFA_FLOW_SECRET_KEY": SECRET_KEY, **env}
    return subprocess.run([*prefix, sys.executable, "-m", "mfa_flow.cli", *args], env=environment, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def one_line(done: subprocess.CompletedProcess, *fix: str) -> str:
    """The failure's single stderr line (it must name each of ``fix``), a non-zero exit, no traceback."""
    assert done.returncode != 0, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "Error:" not in lines[0].split(": ", 1)[0], done.stderr
    for words in fix:
        assert words in lines[0], (words, lines[0])
    return lines[0]


COMMANDS = [("serve",), ("migrate",), ("worker",), ("keys", "list"), ("keys", "rotate"), ("audit", "verify"),
            ("audit", "checkpoint"), ("audit", "export")]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_database_that_refuses_connections_is_one_line_for_every_command(command):
    line = one_line(run(*command, DATABASE_URL=REFUSED), "connection refused", "DATABASE_URL")
    assert line.startswith(f"mfa-flow {' '.join(command)}: cannot reach PostgreSQL at 127.0.0.1:")


def test_debug_adds_the_traceback_of_the_cause():
    done = run("--debug", "migrate", DATABASE_URL=REFUSED)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ConnectionRefusedError" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("mfa-flow migrate: cannot reach PostgreSQL")
    assert "Traceback" in run("migrate", "--debug", DATABASE_URL=REFUSED).stderr  # after the command too


def test_an_unknown_database_host():
    one_line(run("serve", DATABASE_URL="postgresql://postgres@no-such-host.invalid:5432/postgres"),
             "no-such-host.invalid", "check the host name in DATABASE_URL")


def test_a_wrong_password():
    with fake_postgres("password") as port:
        line = one_line(run("migrate", DATABASE_URL=f"postgresql://postgres:wrong-pw@127.0.0.1:{port}/postgres"),
                        "refused the password of user 'postgres'", "DATABASE_URL")
    assert "wrong-pw" not in line


def test_a_user_the_server_does_not_know(database_url):
    url = database_url.replace("postgres@", "nobody_here@", 1)
    one_line(run("worker", DATABASE_URL=url), "refused user 'nobody_here'", "check the user in DATABASE_URL")


def test_a_database_that_does_not_exist(database_url):
    url = database_url.rsplit("/", 1)[0] + "/no_such_database"
    one_line(run("keys", "list", DATABASE_URL=url), "no database 'no_such_database'", "createdb no_such_database")


def test_a_url_of_another_database_system():
    line = one_line(run("serve", DATABASE_URL="mysql://root:secret-pw@localhost:3306/mfa"),
                    "DATABASE_URL must be a PostgreSQL URL", "not a mysql:// URL")
    assert "secret-pw" not in line


@pytest.mark.parametrize("url", ["postgresql://postgres:secret-pw@localhost:fivefourthreetwo/mfa",
                                 "postgresql://postgres@localhost:99999/mfa",
                                 "postgresql://postgres@localhost/mfa?sslmode=sometimes"])
def test_a_malformed_database_url(url):
    line = one_line(run("migrate", DATABASE_URL=url), "DATABASE_URL cannot be used as it is",
                    "postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
    assert "secret-pw" not in line


def test_a_server_that_is_not_postgresql():
    with fake_postgres("http") as port:
        one_line(run("migrate", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/postgres"),
                 f"127.0.0.1:{port} does not answer as PostgreSQL", "DATABASE_URL must point to PostgreSQL 13")


def test_a_postgresql_too_old():
    with fake_postgres("old") as port:
        one_line(run("serve", DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/postgres"),
                 "is version 9.6; mfa-flow needs 13 or newer", "DATABASE_URL")


def test_a_port_in_use(database_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line(run("serve", "--port", str(port), DATABASE_URL=database_url),
                 f"port {port} on 127.0.0.1 is already in use", "--port")


def test_a_data_folder_where_a_file_is():
    with tempfile.NamedTemporaryFile() as file:
        one_line(run("serve", MFA_FLOW_DATA_DIR=f"{file.name}/data", MFA_FLOW_ADMIN_KEY="", DATABASE_URL=REFUSED),
                 "cannot use the data folder", "MFA_FLOW_DATA_DIR")


def test_a_data_folder_this_user_cannot_read():
    folder = Path(tempfile.mkdtemp(prefix="mfa-flow-startup-")) / "data"
    folder.mkdir(mode=0o000)  # the keys are generated in it: it must be readable and writable
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads everything: run the command without the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("run as root, and no setpriv (util-linux) to drop the file capabilities")
        as_user = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    try:
        one_line(run("serve", prefix=as_user, MFA_FLOW_DATA_DIR=str(folder), MFA_FLOW_ADMIN_KEY="",
                     DATABASE_URL=REFUSED),
                 f"cannot use the data folder {folder} (MFA_FLOW_DATA_DIR): Permission denied", "MFA_FLOW_DATA_DIR")
    finally:
        folder.chmod(0o700)


def test_a_key_file_that_cannot_be_read():
    folder = Path(tempfile.mkdtemp(prefix="mfa-flow-startup-"))
    (folder / "admin.key").mkdir()  # where the generated admin key is kept, something else
    one_line(run("keys", "list", MFA_FLOW_DATA_DIR=str(folder), MFA_FLOW_ADMIN_KEY="", DATABASE_URL=REFUSED),
             "cannot use the data folder", "Is a directory", "admin.key", "MFA_FLOW_DATA_DIR")


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("MFA_FLOW_PORT", "eighty", "MFA_FLOW_PORT must be a whole number, not 'eighty'"),
    ("MFA_FLOW_PORT", "70000", "must be from 1 to 65535, not 70000"),
    ("MFA_FLOW_FLOW_TTL", "10m", "MFA_FLOW_FLOW_TTL must be a whole number, not '10m'"),
    ("MFA_FLOW_FLOW_TTL", "-5", "MFA_FLOW_FLOW_TTL must be a whole number of seconds, at least 1, not -5"),
    ("MFA_FLOW_MAX_ATTEMPTS", "0", "MFA_FLOW_MAX_ATTEMPTS must be a whole number, at least 1, not 0"),
    ("MFA_FLOW_SWEEP_INTERVAL", "0", "MFA_FLOW_SWEEP_INTERVAL must be a positive number of seconds, not 0"),
    ("MFA_FLOW_ORIGIN", "login.example.com", "MFA_FLOW_ORIGIN must be comma-separated origins such as"),
    ("MFA_FLOW_RP_ID", "127.0.0.1", "MFA_FLOW_RP_ID must be a host name"),
    ("MFA_FLOW_RP_ID", "example.org", "MFA_FLOW_RP_ID ('example.org') fits none of MFA_FLOW_ORIGIN"),
    ("MFA_FLOW_LOG_FORMAT", "xml", "MFA_FLOW_LOG_FORMAT must be one of console, json, not 'xml'"),
    ("MFA_FLOW_LOG_LEVEL", "verbose", "MFA_FLOW_LOG_LEVEL must be one of debug, info, warning, error"),
    ("MFA_FLOW_EVENT_LOOP", "trio", "MFA_FLOW_EVENT_LOOP must be auto, uvloop or asyncio, not 'trio'"),
    ("MFA_FLOW_TOKEN_ALG", "HS256", "MFA_FLOW_TOKEN_ALG must be one of ES256"),
    ("MFA_FLOW_ACCENT_COLOR", "blue", "MFA_FLOW_ACCENT_COLOR must be a hex colour"),
    ("MFA_FLOW_TRUSTED_PROXIES", "10.0.0.0/33", "MFA_FLOW_TRUSTED_PROXIES must be comma-separated CIDRs"),
])
def test_a_bad_setting_names_the_setting_the_value_and_what_is_allowed(setting, value, says):
    one_line(run("serve", DATABASE_URL=REFUSED, **{setting: value}), says)


def test_a_bad_port_on_the_command_line():
    one_line(run("serve", "--port", "0", DATABASE_URL=REFUSED), "the port (MFA_FLOW_PORT, --port) must be from 1")


def test_a_bad_worker_metrics_port():
    one_line(run("worker", DATABASE_URL=REFUSED, MFA_FLOW_WORKER_METRICS_PORT="nine"),
             "MFA_FLOW_WORKER_METRICS_PORT must be a port number from 1 to 65535", "not 'nine'")
