"""The whole product as it runs in production, started from a test: gunicorn, relay, consumers, Celery.

Real PostgreSQL, Redis, Kafka and an SMTP server; clients talk HTTP to gunicorn. Each stack
gets its own Kafka namespace and Celery queue. ``stack`` is the fixture; ``publish_event``
puts a small event on sale for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.utils import timezone

from apps.bookings.models import BookableEvent
from apps.catalog.layout import parse_layout_text
from apps.catalog.services import EventDetails, event_create, venue_create
from apps.inventory.models import Seat
from tests.support.processes import ManagedProcess, service_env, wait_until
from tests.support.smtp import SmtpServer, free_port
from ticketflow.messaging.schemas import iter_seats
from ticketflow.messaging.transports.kafka import KafkaTransport


class Stack:
    def __init__(self, tmp_path: Path, smtp: SmtpServer, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        namespace = self.namespace = f"fs{uuid.uuid4().hex[:8]}-"
        self.env = service_env(
            KAFKA_NAMESPACE=namespace,
            CELERY_QUEUE=f"{namespace}tasks",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp.port),
            PORT=str(self.port),
            WEB_CONCURRENCY="2",
            LOG_LEVEL="warning",
            **(extra_env or {}),
        )
        self.tmp_path = tmp_path
        self.processes: list[ManagedProcess] = []

    def start(self) -> None:
        for name, args in (
            ("web", ["gunicorn"]),
            ("relay", ["relay", "--poll-interval", "0.2"]),
            ("consumers", ["consume", "--all"]),
            ("worker", ["celery"]),
        ):
            self.processes.append(ManagedProcess(name, args, self.env, self.tmp_path))
        wait_until(self.healthy, timeout=60, interval=0.5, what="gunicorn to answer /health")

    def healthy(self) -> bool:
        try:
            return requests.get(f"{self.base}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        KafkaTransport({**settings.TICKETFLOW_EVENTS, "NAMESPACE": self.namespace}).delete_namespace()
        for process in self.processes:
            print(f"--- {process.name} ---\n{process.output()[-3000:]}")


@pytest.fixture
def stack_env() -> dict[str, str]:
    """More environment for the stack's processes; a test module overrides this fixture."""
    return {}


@pytest.fixture
def stack(tmp_path: Path, stack_env: dict[str, str]) -> Iterator[tuple[Stack, SmtpServer]]:
    with SmtpServer() as smtp:
        stack = Stack(tmp_path, smtp, stack_env)
        stack.start()
        try:
            yield stack, smtp
        finally:
            stack.stop()


def publish_event(
    seats_per_row: int, rows: str = "AB", *, max_active_seats_per_buyer: int | None = None
) -> tuple[str, list[str]]:
    layout = parse_layout_text("[Hall] standard\n" + "\n".join(f"{r}: 1-{seats_per_row}" for r in rows))
    venue = venue_create(name=f"Hall {uuid.uuid4().hex[:6]}", layout=layout)
    starts = timezone.now() + timedelta(days=5)
    event = event_create(
        details=EventDetails(
            venue_id=str(venue.pk), name="Full stack night", starts_at=starts, ends_at=starts + timedelta(hours=2),
            currency="EUR", prices={"standard": 3000}, max_seats_per_booking=4, hold_minutes=10,
            max_active_seats_per_buyer=max_active_seats_per_buyer,
        ),
        publish=True,
    )  # fmt: skip
    return str(event.pk), [seat.seat_id for seat in iter_seats(str(event.pk), layout)]


def seats_ready(event_id: str, count: int) -> bool:
    """Both contexts a booking needs know the event: inventory has its seats, bookings its copy."""
    return (
        Seat.objects.filter(event_id=event_id).count() == count
        and BookableEvent.objects.filter(event_id=event_id).exists()
    )
