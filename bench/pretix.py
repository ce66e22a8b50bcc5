"""pretix, installed and run as its own docs say, on the same local PostgreSQL and Redis as TicketFlow.

What :class:`Pretix` does, and where in pretix's docs each step comes from:

1. Install (doc/admin/installation/manual_smallscale.rst, "Install pretix from PyPI"):
   ``pretix==2026.8.0`` and gunicorn from PyPI into their own venv, ``var/bench/pretix-venv``,
   next to TicketFlow's, never mixed with it. Skipped when that venv already holds this
   version (a stamp file). Every dependency installs from wheels on Debian 12 / Python 3.11,
   so none of the Debian build packages the guide lists is needed; if pip fails anyway, the
   script installs those packages with apt-get (root only) and tries once more.
2. Configure (doc/admin/config.rst): ``var/bench/pretix/etc/pretix.cfg`` names its own database
   ``pretix_bench`` on TicketFlow's PostgreSQL, and its own Redis databases on TicketFlow's
   Redis: 10 for cache, locks and sessions, 11 for Celery results, 12 for the Celery broker.
   ECB exchange rates are off (no internet). Mail points at localhost:25; the benchmark's
   orders send none (``send_email`` is false, the API's default).
3. ``python -m pretix migrate`` and ``python -m pretix rebuild``, as the guide says. Migrating
   an empty database takes a minute of CPU, so it is done once per pretix version into
   ``pretix_bench_template``; each benchmark run drops ``pretix_bench``, clones it from that
   template, and still runs ``migrate`` (a no-op) before starting. Redis databases 10-12 are
   flushed too, so no cache entry outlives the database it described. The database is left
   after a run, for inspection; the next run resets it.
4. Start (the guide's systemd units): ``gunicorn pretix.wsgi --name pretix --workers 5
   --max-requests 1200 --max-requests-jitter 50 --log-level=info`` bound to 127.0.0.1 on a
   free port, and ``celery -A pretix.celery_app worker -l info``. Like TicketFlow's background
   processes in bench/flash_sale.py, the Celery worker runs at ``nice 10``: background work
   yields to web on both sides. The cron job (``runperiodic``) is not run: it expires old
   pending orders and sends reminders, nothing a sale of a few minutes needs.

Set-up inside pretix (organizer, API token, events, one product and quota of 1 per seat) is
``bench/pretix_setup.py``, run with pretix's interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.flash_sale import free_port, process_tree_cpu
from bench.support import RESULTS, ROOT, stop_processes

if TYPE_CHECKING:
    import psycopg

VERSION = "2026.8.0"
VENV = RESULTS / "pretix-venv"
HOME = RESULTS / "pretix"
DATABASE = "pretix_bench"
TEMPLATE = "pretix_bench_template"
# Not in pretix's working directory: a pretix.cfg there would override PRETIX_CONFIG_FILE.
CONFIG = HOME / "etc" / "pretix.cfg"
REDIS_DATABASES = (10, 11, 12)  # cache+locks+sessions, Celery results, Celery broker
# The guide's Debian packages, with today's names; only installed when pip cannot build pretix.
DEBIAN_BUILD_PACKAGES = (
    *("git", "build-essential", "python3-dev", "python3-venv", "libxml2-dev", "libxslt1-dev", "libffi-dev"),
    *("zlib1g-dev", "libssl-dev", "gettext", "libpq-dev", "libjpeg-dev", "libopenjp2-7-dev"),
)


@dataclass
class PretixSale:
    """One pretix event on sale: its slug and the product (item) id of each seat."""

    slug: str
    items: list[int]


@dataclass
class Pretix:
    """A running pretix: web (gunicorn) and a Celery worker, with an organizer and an API token."""

    organizer: str = "bench"
    port: int = field(default_factory=free_port)
    token: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    sales: dict[str, PretixSale] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def python(self) -> Path:
        return VENV / "bin" / "python"

    def env(self) -> dict[str, str]:
        """pretix's environment: its venv first on PATH, its config file, nothing of TicketFlow's Django."""
        env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
        env.update(
            VIRTUAL_ENV=str(VENV),
            PATH=f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
            PRETIX_CONFIG_FILE=str(CONFIG),
            DJANGO_SETTINGS_MODULE="pretix.settings",
        )
        return env

    # --- install, configure, migrate ---------------------------------------------------------

    def install(self) -> None:
        """pretix and gunicorn in their own venv (idempotent), then pretix's ``rebuild``."""
        stamp = VENV / f".pretix-{VERSION}"
        if not stamp.exists():
            print(f"installing pretix {VERSION} into {VENV.relative_to(ROOT)} (once) ...", flush=True)
            if not self.python.exists():
                subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
            pip = [str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, "--upgrade", "pip", "setuptools", "wheel"], check=True)
            wanted = [*pip, f"pretix=={VERSION}", "gunicorn"]
            if subprocess.run(wanted).returncode != 0:
                self._install_build_packages()
                subprocess.run(wanted, check=True)
            stamp.touch()
        self.write_config()
        rebuilt = VENV / f".rebuilt-{VERSION}"
        if not rebuilt.exists():
            # Compiles static files and translations into the venv; independent of the database.
            self._pretix("rebuild")
            rebuilt.touch()

    @staticmethod
    def _install_build_packages() -> None:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SystemExit(
                "pip could not install pretix; install its build packages first:\n"
                f"  apt-get install {' '.join(DEBIAN_BUILD_PACKAGES)}"
            )
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *DEBIAN_BUILD_PACKAGES], check=True)

    def write_config(self) -> None:
        """pretix.cfg (doc/admin/config.rst) for this port, database and Redis databases."""
        (HOME / "data" / "media").mkdir(parents=True, exist_ok=True)
        CONFIG.parent.mkdir(parents=True, exist_ok=True)
        password = os.environ.get("REDIS_PASSWORD", "")
        redis = f"redis://:{password}@127.0.0.1:{os.environ.get('REDIS_PORT', '6379')}"
        cache, results, broker = REDIS_DATABASES
        config = f"""\
[pretix]
instance_name=TicketFlow benchmark pretix
url={self.base}
currency=EUR
datadir={HOME / "data"}
ecb_rates=off

[database]
backend=postgresql
name={DATABASE}
user={os.environ.get("POSTGRES_USER", "ticketflow")}
password={os.environ.get("POSTGRES_PASSWORD", "")}
host=127.0.0.1
port={os.environ.get("POSTGRES_PORT", "5432")}

[mail]
from=tickets@localhost
host=127.0.0.1

[redis]
location={redis}/{cache}
sessions=true

[celery]
backend={redis}/{results}
broker={redis}/{broker}
"""
        path = CONFIG
        path.write_text(config)
        path.chmod(0o600)  # it holds the database password, as the guide's chmod 0600 says

    def reset_database(self) -> None:
        """A fresh ``pretix_bench`` (cloned from the migrated template), and empty Redis databases."""
        import psycopg
        import redis

        with _postgres() as connection:
            have_template = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [TEMPLATE]
            ).fetchone()
            stamp = HOME / f".template-{VERSION}"
            if not have_template or not stamp.exists():
                print("migrating pretix's template database (once per pretix version) ...", flush=True)
                connection.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{TEMPLATE}"')
                self._pretix("migrate", database=TEMPLATE)
                stamp.touch()
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            for attempt in range(20):
                try:
                    connection.execute(f'CREATE DATABASE "{DATABASE}" TEMPLATE "{TEMPLATE}"')
                    break
                except psycopg.errors.ObjectInUse:  # a lingering session on the template
                    if attempt == 19:
                        raise
                    time.sleep(0.5)
        for number in REDIS_DATABASES:
            client = redis.Redis(
                host="127.0.0.1",
                port=int(os.environ.get("REDIS_PORT", "6379")),
                password=os.environ.get("REDIS_PASSWORD") or None,
                db=number,
            )
            client.flushdb()
            client.close()
        self._pretix("migrate")  # as the guide says; against the clone it has nothing left to do

    def _pretix(self, *command: str, database: str = DATABASE) -> None:
        config = CONFIG
        if database != DATABASE:
            text = config.read_text().replace(f"name={DATABASE}\n", f"name={database}\n")
            config = CONFIG.with_name(f"pretix-{database}.cfg")
            config.write_text(text)
        log = HOME / "logs"
        log.mkdir(exist_ok=True)
        with (log / f"{command[0]}.log").open("ab") as out:
            subprocess.run(
                [str(self.python), "-m", "pretix", *command],
                cwd=HOME,
                env={**self.env(), "PRETIX_CONFIG_FILE": str(config)},
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=900,
            )

    # --- run ---------------------------------------------------------------------------------

    def start(self, events: dict[str, int]) -> None:
        """Reset, start web and worker, then create the organizer, the token and ``events`` (slug -> seats)."""
        self.install()
        self.reset_database()
        logs = HOME / "logs"
        commands = {
            "pretix-web": [
                str(VENV / "bin" / "gunicorn"), "pretix.wsgi", "--name", "pretix", "--workers", "5",
                "--max-requests", "1200", "--max-requests-jitter", "50", "--log-level=info",
                f"--bind=127.0.0.1:{self.port}",
            ],
            "pretix-worker": [
                "nice", "-n", "10", str(VENV / "bin" / "celery"), "-A", "pretix.celery_app", "worker", "-l", "info",
            ],
        }  # fmt: skip
        for name, command in commands.items():
            self.processes[name] = subprocess.Popen(
                command,
                cwd=HOME,
                env=self.env(),
                stdout=(logs / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        spec = HOME / "spec.json"
        spec.write_text(json.dumps({"organizer": self.organizer, "events": events}))
        made = subprocess.run(
            # -P: without the script's folder on sys.path, since bench/pretix.py would shadow pretix.
            [str(self.python), "-P", str(ROOT / "bench" / "pretix_setup.py"), str(spec)],
            cwd=HOME,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if made.returncode != 0:
            raise SystemExit(f"pretix set-up failed:\n{made.stderr[-3000:]}")
        created = json.loads(made.stdout.strip().splitlines()[-1])
        self.token = created["token"]
        self.sales = {slug: PretixSale(slug, items) for slug, items in created["events"].items()}
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        import requests

        deadline = time.monotonic() + 120
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited with {process.returncode}; see var/bench/pretix/logs")
            try:
                if requests.get(f"{self.base}/healthcheck/", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("pretix did not become healthy; see var/bench/pretix/logs")
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM web and worker (SIGKILL after 30 s); gunicorn and Celery stop their own children."""
        stop_processes(self.processes.values())

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds used so far by each process tree (gunicorn master and workers, Celery)."""
        return {name: process_tree_cpu(process.pid) for name, process in self.processes.items()}

    def orders_url(self, sale: PretixSale) -> str:
        return f"{self.base}/api/v1/organizers/{self.organizer}/events/{sale.slug}/orders/"

    def oversold(self, sale: PretixSale) -> dict[str, int]:
        """Positions beyond the first per product among pending and paid orders, straight from SQL."""
        with _postgres(DATABASE) as connection:
            rows = connection.execute(
                """
                SELECT p.item_id, count(*) FROM pretixbase_orderposition p
                JOIN pretixbase_order o ON o.id = p.order_id
                JOIN pretixbase_event e ON e.id = o.event_id
                WHERE e.slug = %s AND o.status IN ('n', 'p') AND NOT p.canceled
                GROUP BY p.item_id
                """,
                [sale.slug],
            ).fetchall()
        return {
            "orders_pending_or_paid": sum(count for _, count in rows),
            "oversold": sum(count - 1 for _, count in rows if count > 1),
        }


def _postgres(database: str = "postgres") -> psycopg.Connection:
    import psycopg

    return psycopg.connect(
        host=os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        port=os.environ.get("POSTGRES_PORT", "5432"),
        user=os.environ.get("POSTGRES_USER", "ticketflow"),
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname=database,
        autocommit=True,
    )
