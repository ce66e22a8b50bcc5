"""Email while the database comes and goes: retried soon, recorded, never sent twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import task_retry
from django.db import OperationalError
from django.db.models import QuerySet
from django.utils import timezone

from apps.notifications import services
from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.services import notification_requeue_stuck, notification_send
from apps.notifications.tasks import send_notification
from apps.notifications.tests import factories
from apps.notifications.tests.conftest import MailServer

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]

DOWN = "connection to server at 127.0.0.1, port 55432 failed: Connection refused"


@pytest.fixture
def countdowns(eager_retries: None) -> Iterator[list[float]]:
    seen: list[float] = []

    def record(sender: Any, request: Any, reason: Any, **kwargs: Any) -> None:
        if sender.name == send_notification.name:
            seen.append(reason.when)

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


@pytest.fixture
def sent_update_fails(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """While the list's first item is above zero, marking a row SENT fails as if the database were down.

    Each failure counts the item down; set it to -1 to fail until reset.
    """
    budget = [1]
    real = QuerySet.update

    def update(self: QuerySet, **kwargs: Any) -> int:
        if self.model is Notification and kwargs.get("status") == NotificationStatus.SENT and budget[0] != 0:
            budget[0] = budget[0] - 1 if budget[0] > 0 else -1
            raise OperationalError(DOWN)
        return real(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", update)
    return budget


def test_a_database_error_before_sending_is_retried_within_seconds_and_spends_no_attempt(
    mail_server: MailServer, countdowns: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    row = factories.notification()
    real = services._claim
    outage = [2]

    def claim(notification_id: Any) -> Notification | None:
        if outage[0]:
            outage[0] -= 1
            raise OperationalError(DOWN)
        return real(notification_id)

    monkeypatch.setattr(services, "_claim", claim)

    send_notification.delay(str(row.pk))

    assert countdowns == [1, 2]
    assert len(mail_server.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


def test_recording_sent_is_retried_while_the_database_is_away_and_the_email_goes_once(
    mail_server: MailServer, sent_update_fails: list[int]
) -> None:
    row = factories.notification()
    sent_update_fails[0] = 2

    outcome = send_notification.delay(str(row.pk)).get()
    requeued = notification_requeue_stuck(older_than=timedelta(0))

    assert (outcome, requeued) == ("sent", 0)
    assert len(mail_server.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at is not None) == (NotificationStatus.SENT, 1, True)


def test_an_email_the_server_accepted_is_recorded_not_sent_again_by_the_worker_that_takes_over(
    mail_server: MailServer, sent_update_fails: list[int], settings
) -> None:
    settings.NOTIFICATION_SEND_LEASE = timedelta(seconds=0.4)
    row = factories.notification()
    sent_update_fails[0] = -1

    # Given the server accepted the email but the database stayed away past the retries
    with pytest.raises(OperationalError):
        notification_send(notification_id=row.pk)
    assert len(mail_server.messages) == 1
    assert Notification.objects.get(pk=row.pk).status == NotificationStatus.SENDING

    # When the database is back and, after the lease, the task message is delivered again
    sent_update_fails[0] = 0
    time.sleep(0.45)
    outcome = send_notification.delay(str(row.pk)).get()

    # Then the row is SENT and nobody got a second copy
    assert outcome == "sent"
    assert len(mail_server.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 2)


def test_a_row_sending_past_its_lease_is_taken_over_and_sent_within_it_is_left_alone(
    mail_server: MailServer, settings
) -> None:
    settings.NOTIFICATION_SEND_LEASE = timedelta(seconds=30)
    abandoned = factories.notification(
        recipient="crash@example.com",
        status=NotificationStatus.SENDING,
        attempts=1,
        updated_at=timezone.now() - timedelta(seconds=31),
    )
    busy = factories.notification(
        recipient="busy@example.com",
        status=NotificationStatus.SENDING,
        attempts=1,
        updated_at=timezone.now() - timedelta(seconds=20),
    )

    outcomes = [send_notification.delay(str(row.pk)).get() for row in (abandoned, busy)]

    assert outcomes == ["sent", "skipped"]
    assert [message["To"] for message in mail_server.messages] == ["crash@example.com"]
    assert Notification.objects.get(pk=abandoned.pk).attempts == 2
    assert Notification.objects.get(pk=busy.pk).status == NotificationStatus.SENDING
