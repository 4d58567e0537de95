"""A PostgreSQL primary and a synchronous streaming standby, in temporary folders on free
ports, made with the Debian server package's own tools (initdb, pg_basebackup -R, pg_ctl).

initdb and postgres refuse to run as root: as root, the tools run as the ``postgres``
system user (the server package creates it) through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from .server import free_port

DB_USER = "postgres"


def server_bin() -> Path | None:
    """The newest Debian PostgreSQL server binaries (``/usr/lib/postgresql/<N>/bin``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class Cluster:
    """``primary`` on one port, ``standby`` streaming from it on another, with
    ``synchronous_standby_names = '*'`` on the primary: a commit returns only once the
    standby has its WAL, so a promotion loses no acknowledged transaction."""

    def __init__(self, database: str = "mfa"):
        self.bin = server_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="mfa-flow-replication-"))
        self.primary_dir = self.root / "primary"
        self.standby_dir = self.root / "standby"
        self.primary_port = free_port()
        self.standby_port = free_port()
        if os.geteuid() == 0:
            entry = pwd.getpwnam(DB_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.root.chmod(0o700)

    # --- running the server tools as the database user ----------------------------------

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", DB_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def _start(self, data_dir: Path, port: int, *settings: str) -> None:
        options = " ".join(
            [f"-p {port}", f"-k {self.root}", "-c listen_addresses=127.0.0.1", "-c fsync=off", *settings]
        )
        self.run("pg_ctl", "-D", str(data_dir), "-l", str(data_dir.with_suffix(".log")), "-o", options, "-w", "start")

    # --- the cluster's life ----------------------------------------------------------------

    def start(self) -> "Cluster":
        try:
            self._make()
        except BaseException:
            self.stop()
            raise
        return self

    def _make(self) -> None:
        self.run("initdb", "-D", str(self.primary_dir), "-A", "trust", "-U", DB_USER, "-E", "UTF8", "--no-sync")
        self._start(self.primary_dir, self.primary_port)
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", DB_USER, self.database)
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", DB_USER,
                 "-D", str(self.standby_dir), "-R", "-X", "stream", "--checkpoint=fast")
        self._start(self.standby_dir, self.standby_port)
        # Synchronous from now on: set after the base backup, so that the standby's copy of
        # the settings does not have it (once promoted it has no standby to wait for).
        self._psql(self.primary_port, "ALTER SYSTEM SET synchronous_standby_names = '*'")
        self._psql(self.primary_port, "SELECT pg_reload_conf()")
        self._wait_for_sync_standby()

    def _psql(self, port: int, sql: str, check: bool = True) -> str:
        return self.run("psql", "-h", "127.0.0.1", "-p", str(port), "-U", DB_USER, "-d", self.database,
                        "-Atc", sql, check=check).stdout.strip()

    def _wait_for_sync_standby(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self._psql(self.primary_port, "SELECT sync_state FROM pg_stat_replication", check=False)
            if state == "sync":
                return
            time.sleep(0.1)
        raise RuntimeError("the standby did not become a synchronous standby")

    def crash_primary(self) -> None:
        """The primary goes away at once (immediate shutdown: no checkpoint, no goodbye)."""
        self.run("pg_ctl", "-D", str(self.primary_dir), "-m", "immediate", "-w", "stop")

    def promote_standby(self) -> None:
        self.run("pg_ctl", "-D", str(self.standby_dir), "-w", "promote")

    def stop(self) -> None:
        for data_dir in (self.standby_dir, self.primary_dir):
            if (data_dir / "postmaster.pid").exists():
                self.run("pg_ctl", "-D", str(data_dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # --- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Both hosts; the client takes whichever accepts writes."""
        return (f"postgresql://{DB_USER}@127.0.0.1:{self.primary_port},127.0.0.1:{self.standby_port}"
                f"/{self.database}?target_session_attrs=read-write")

    @property
    def standby_url(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.standby_port}/{self.database}"

    async def connect_standby(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.standby_url)
