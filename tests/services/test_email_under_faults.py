"""Email under faults: the Celery worker is SIGKILLed and PostgreSQL restarted mid-send.

A real Celery worker sends through a real SMTP server, on a PostgreSQL and a Redis broker of
this test's own (tests/support/throwaway.py): the shared services are never stopped. The
worker runs with production's timeouts (broker visibility 40 s, send lease 30 s). Every
notification must arrive exactly once, all of them within 60 s of the database coming back.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.support.processes import ManagedProcess, service_env, wait_until
from tests.support.smtp import Mailbox, free_port
from tests.support.throwaway import ThrowawayPostgres, ThrowawayRedis

pytestmark = [pytest.mark.services, pytest.mark.chaos, pytest.mark.timeout(300)]

EMAILS = 40
DATABASES = ["tf_email_faults", "tf_email_faults_docs"]

RECORD = """
import uuid
from apps.notifications.models import NotificationKind
from apps.notifications.services import notification_record
from ticketflow import db

with db.atomic(db.alias_for("notifications")):
    for i in range({count}):
        email = f"fan{{i}}@example.com"
        notification_record(
            kind=NotificationKind.WELCOME,
            source_event_id=uuid.uuid4(),
            recipient=email,
            user_id=str(uuid.uuid4()),
            context={{"user_id": str(uuid.uuid4()), "email": email, "name": f"Fan {{i}}"}},
        )
"""


class SlowMailbox(Mailbox):
    """Takes a moment over each recipient, as a real server does, so sends are in flight when
    the faults strike; the message is kept when the server accepts it (a 250 to DATA)."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await asyncio.sleep(0.3)
        envelope.rcpt_tos.append(address)
        return "250 OK"


def run_manage(env: dict[str, str], tmp_path: Path, name: str, *args: str) -> None:
    process = ManagedProcess(name, list(args), env, tmp_path)
    code = process.process.wait(timeout=180)
    assert code == 0, process.output()[-3000:]


def test_a_killed_worker_and_a_restarted_database_send_every_email_exactly_once(tmp_path: Path) -> None:
    mailbox = SlowMailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    workers: list[ManagedProcess] = []
    try:
        with ThrowawayPostgres(DATABASES) as postgres, ThrowawayRedis() as redis:
            env = service_env(
                **postgres.env(),
                REDIS_URL=redis.url,
                CELERY_QUEUE=f"email-faults-{uuid.uuid4().hex[:8]}",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(smtp.port),
                LOG_LEVEL="info",
            )
            run_manage(env, tmp_path, "migrate-default", "migrate", "--database", "default", "-v", "0")
            run_manage(env, tmp_path, "migrate-documents", "migrate", "--database", "documents", "-v", "0")
            workers.append(ManagedProcess("worker-1", ["celery", "--loglevel", "INFO"], env, tmp_path))
            wait_until(lambda: "ready" in workers[0].output(), timeout=60, what="the first worker")

            # Given 40 emails on their way
            run_manage(env, tmp_path, "record", "shell", "-c", RECORD.format(count=EMAILS))
            wait_until(lambda: len(mailbox.messages) >= 6, timeout=60, what="the first emails")

            # When PostgreSQL stops mid-send, the worker is SIGKILLed, another starts, and
            # PostgreSQL comes back
            postgres.stop()
            time.sleep(2)
            workers[0].kill()
            workers.append(ManagedProcess("worker-2", ["celery", "--loglevel", "INFO"], env, tmp_path))
            time.sleep(3)
            postgres.start()
            recovered = time.monotonic()

            # Then every email is sent within 60 s of the recovery, each exactly once
            def all_sent() -> bool:
                rows = postgres.query(
                    DATABASES[1], "SELECT count(*) FROM notifications_notification WHERE status = 'sent'"
                )
                return int(rows[0][0]) == EMAILS

            wait_until(all_sent, timeout=90, interval=0.5, what="every notification to be SENT")
            settled = time.monotonic() - recovered
            time.sleep(2)  # anything still in flight would land now
            received = Counter(message["To"] for message in mailbox.messages)
            assert received == Counter({f"fan{i}@example.com": 1 for i in range(EMAILS)}), [
                address for address, count in received.items() if count > 1
            ]
            assert settled < 60
            states = postgres.query(
                DATABASES[1], "SELECT status, count(*) FROM notifications_notification GROUP BY status"
            )
            assert states == [("sent", str(EMAILS))]
            taken_over = workers[1].output().count("took over notification")
            print(f"all sent {settled:.1f}s after the database came back; {taken_over} taken over")
    finally:
        for worker in workers:
            worker.kill()
            print(f"--- {worker.name} ---\n{worker.output()[-4000:]}")
        smtp.stop()
