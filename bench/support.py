"""Shared set-up: a dedicated pair of benchmark databases, migrated, and Django configured for them."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"


def setup_django(namespace: str) -> None:
    """Point Django at fresh ``*_bench`` databases and a private Kafka namespace, then migrate.

    The databases are dropped and created again on every run, so one run's leftovers (and
    their dead tuples) never slow the next one down.
    """
    if not os.environ.get("POSTGRES_HOST") or not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        sys.exit("benchmarks need the real services: deploy/local/up.sh && source deploy/local/env.sh")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="ticketflow.settings",
        POSTGRES_DB="ticketflow_bench",
        POSTGRES_DOCUMENTS_DB="ticketflow_bench_documents",
        KAFKA_NAMESPACE=namespace,
        LOG_LEVEL="warning",
        TICKETFLOW_ENV=os.environ.get("TICKETFLOW_ENV", "development"),
    )
    _create_databases(("ticketflow_bench", "ticketflow_bench_documents"))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("migrate", database="documents", verbosity=0)


def _create_databases(names: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(
        host=os.environ["POSTGRES_HOST"],
        port=os.environ.get("POSTGRES_PORT", "5432"),
        user=os.environ.get("POSTGRES_USER", "ticketflow"),
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname="postgres",
        autocommit=True,
    ) as connection:
        for name in names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0..1) of ``values``, by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[
        max(0, min(998, round(fraction * 1000) - 1))
    ]


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def stop_processes(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then SIGKILL any still running after 30 s (they stop their own children)."""
    running = list(processes)
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
