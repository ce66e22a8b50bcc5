"""A PostgreSQL and a Redis of a test's own, to stop and start without touching the shared ones.

Fault-injection tests must never stop the services every engineer's tests use (ports 55432,
56379, 59092). These start a private server on a free port with its data in a temporary
directory, and remove it afterwards. PostgreSQL uses Debian's server binaries (the ones
``deploy/local/postgres.sh`` installs) and, as root, runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.smtp import free_port

USER = "ticketflow"
PASSWORD = "throwaway-secret"


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (deploy/local/up.sh)")
    return candidates[-1].parent


class ThrowawayPostgres:
    """``with ThrowawayPostgres(["a", "b"]) as pg:`` a running server with databases a and b."""

    def __init__(self, databases: list[str]) -> None:
        self.databases = databases
        self.port = free_port()
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="tf-throwaway-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(arg) for arg in argv]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, cwd="/", capture_output=True, text=True, timeout=120, check=check)

    def __enter__(self) -> ThrowawayPostgres:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        password_file = self.root / "password"
        password_file.write_text(PASSWORD)
        if self._as_postgres:
            shutil.chown(password_file, "postgres")
        self._run(
            self.bin / "initdb", "-D", self.data, "-U", USER, "--pwfile", password_file,
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        self.start()
        for name in self.databases:
            self._run(self.bin / "createdb", "-h", self.root, "-p", str(self.port), "-U", USER, name)
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as in a restart or a failover."""
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """Environment variables pointing TicketFlow at this server (databases in the given order)."""
        default, documents = self.databases
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": USER,
            "POSTGRES_PASSWORD": PASSWORD,
            "POSTGRES_DB": default,
            "POSTGRES_DOCUMENTS_DB": documents,
        }

    def query(self, database: str, sql: str) -> list[tuple[str, ...]]:
        """Rows of ``sql`` through psql, as text."""
        result = self._run(
            self.bin / "psql", "-X", "-A", "-t", "-F", "\t", "-h", self.root, "-p", str(self.port),
            "-U", USER, "-d", database, "-c", sql,
        )  # fmt: skip
        return [tuple(line.split("\t")) for line in result.stdout.splitlines() if line]


class ThrowawayRedis:
    """``with ThrowawayRedis() as redis:`` a Redis of its own, without persistence.

    It has a password, and :attr:`url` carries it: TicketFlow fills ``REDIS_PASSWORD`` into a
    URL without one.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tf-throwaway-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    def __enter__(self) -> ThrowawayRedis:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root), "--requirepass", PASSWORD],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
