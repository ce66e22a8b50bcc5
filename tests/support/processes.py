"""Run TicketFlow's own processes from tests, and kill them the hard way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]


def service_env(**overrides: str) -> dict[str, str]:
    """The environment of this test session, pointed at the test databases pytest created."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.process_settings",
        TICKETFLOW_ENV="test",
        LOG_FORMAT="console",
        PYTHONUNBUFFERED="1",
    )
    default = connections["default"].settings_dict
    documents = connections["documents"].settings_dict
    if default["ENGINE"].endswith("postgresql"):
        env.update(POSTGRES_DB=default["NAME"], POSTGRES_DOCUMENTS_DB=documents["NAME"])
    env["TICKETFLOW_VAR"] = str(settings.VAR_DIR)
    env.update(overrides)
    return env


BIN = Path(sys.executable).parent
PROGRAMS = {
    "gunicorn": [str(BIN / "gunicorn"), "ticketflow.asgi:application", "--config", "deploy/gunicorn.conf.py"],
    "celery": [str(BIN / "celery"), "-A", "ticketflow", "worker", "--pool", "threads", "--concurrency", "4"],
}


class ManagedProcess:
    """A ``manage.py`` command (or gunicorn / a celery worker) in its own process group.

    ``args`` starting with "gunicorn" or "celery" run that program the way production does;
    anything else is a ``manage.py`` command. Output goes to a log file.
    """

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        argv = PROGRAMS[args[0]] + args[1:] if args[0] in PROGRAMS else [sys.executable, "manage.py", *args]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, no commit -- a crash."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait for a clean exit."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    """Poll ``condition`` until it holds; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or condition}")
