"""From an event to an email on a real SMTP server: once, retried, claimed, swept up."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import task_retry
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.utils import timezone

from apps.notifications.models import Notification, NotificationKind, NotificationStatus
from apps.notifications.services import MAX_ATTEMPTS, SendOutcome, notification_send
from apps.notifications.tasks import requeue_stuck_notifications, send_notification
from apps.notifications.tests import factories
from apps.notifications.tests.conftest import SENDER, MailServer
from relay.engine import Relay
from tests.support.envelopes import envelope
from ticketflow.messaging import dispatch
from ticketflow.messaging.handlers import consumer_group
from ticketflow.messaging.models import InboxMessage

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]

REFUSED = f"ConnectionRefusedError: [Errno {errno.ECONNREFUSED}] Connection refused"


@pytest.fixture
def retries(eager_retries: None) -> Iterator[list[dict[str, Any]]]:
    """Every retry the send task schedules, with the row's state at that moment."""
    seen: list[dict[str, Any]] = []

    def record(sender: Any, request: Any, reason: Any, **kwargs: Any) -> None:
        if sender.name == send_notification.name:
            row = Notification.objects.get(pk=request.args[0])
            seen.append({"countdown": reason.when, "status": row.status, "attempts": row.attempts})

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


def test_a_confirmed_booking_travels_from_the_outbox_to_the_mail_server(
    inprocess_relay: Relay, mail_server: MailServer
) -> None:
    payload = factories.tickets_issued()
    event = factories.publish(payload, aggregate_id=payload.booking_id)

    inprocess_relay.drain()

    [received] = mail_server.received
    assert (received.mail_from, received.rcpt_tos) == ("tickets@ticketflow.test", ["ada@example.com"])
    assert received.message["Subject"] == "Your tickets for Rock & Roll Night (TF-7Q2K9M)"
    assert received.message["From"] == SENDER
    row = Notification.objects.get()
    assert (row.kind, row.source_event_id, row.booking_id, row.user_id) == (
        NotificationKind.BOOKING_CONFIRMED,
        event.id,
        payload.booking_id,
        payload.customer.user_id,
    )
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 1, "")
    assert row.sent_at is not None
    assert received.message["X-TicketFlow-Notification"] == str(row.id)


def test_a_new_user_gets_a_welcome_email_through_the_kernel(
    inprocess_relay: Relay, mail_server: MailServer
) -> None:
    payload = factories.user_registered()
    factories.publish(payload, aggregate_id=payload.user_id)

    inprocess_relay.drain()

    assert [(m["To"], m["Subject"]) for m in mail_server.messages] == [
        ("grace@example.com", "Welcome to TicketFlow, Grace Hopper")
    ]
    assert Notification.objects.get().user_id == payload.user_id


def test_a_second_delivery_of_the_same_event_sends_nothing(mail_server: MailServer) -> None:
    event = envelope(factories.tickets_issued())

    first = dispatch.apply(event, "notifications")
    second = dispatch.apply(event, "notifications")

    assert (first, second) == (dispatch.Outcome.APPLIED, dispatch.Outcome.DUPLICATE)
    assert len(mail_server.messages) == 1
    assert Notification.objects.count() == 1


def test_a_replay_after_the_inbox_forgot_the_event_still_sends_nothing(mail_server: MailServer) -> None:
    event = envelope(factories.tickets_issued())
    dispatch.apply(event, "notifications")
    InboxMessage.objects.using("documents").filter(consumer=consumer_group("notifications")).delete()

    outcome = dispatch.apply(event, "notifications")

    assert outcome == dispatch.Outcome.APPLIED
    assert len(mail_server.messages) == 1
    assert Notification.objects.count() == 1


def test_a_refund_for_a_cancellation_sends_no_email_of_its_own(mail_server: MailServer) -> None:
    event = envelope(factories.payment_refunded(reason_code="booking_cancelled"))

    dispatch.apply(event, "notifications")

    assert mail_server.messages == []
    assert not Notification.objects.exists()


def test_while_smtp_is_down_the_row_waits_to_retry_and_the_retry_sends_it_once(
    inprocess_relay: Relay, mail_server_down: MailServer, retries: list[dict[str, Any]]
) -> None:
    factories.publish(factories.tickets_issued())
    # The server comes back while the first retry waits.
    task_retry.connect(lambda **kwargs: mail_server_down.start(), weak=False, dispatch_uid="smtp-back")
    try:
        inprocess_relay.drain()
    finally:
        task_retry.disconnect(dispatch_uid="smtp-back")

    assert retries == [{"countdown": 60, "status": NotificationStatus.RETRY, "attempts": 1}]
    assert len(mail_server_down.messages) == 1
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.last_error) == (NotificationStatus.SENT, 2, REFUSED)


def test_the_error_is_recorded_while_the_row_waits_to_retry(mail_server_down: MailServer) -> None:
    row = factories.notification()

    result = notification_send(notification_id=row.pk)

    row.refresh_from_db()
    assert (result.outcome, result.retry_in) == (SendOutcome.RETRY, 60)
    assert (row.status, row.attempts, row.last_error, row.version) == (
        NotificationStatus.RETRY,
        1,
        REFUSED,
        3,
    )
    assert row.next_attempt_at == row.updated_at + timedelta(seconds=60)


def test_after_the_retry_budget_the_row_is_failed_with_the_error_kept(
    mail_server_down: MailServer, retries: list[dict[str, Any]]
) -> None:
    dispatch.apply(envelope(factories.tickets_issued()), "notifications")

    assert [retry["countdown"] for retry in retries] == [60, 120, 240, 480, 960]
    row = Notification.objects.get()
    assert (row.status, row.attempts, row.last_error, row.sent_at) == (
        NotificationStatus.FAILED,
        MAX_ATTEMPTS,
        REFUSED,
        None,
    )


def test_a_recipient_the_server_refuses_fails_at_once(
    mail_server: MailServer, retries: list[dict[str, Any]]
) -> None:
    mail_server.reject.add("ada@example.com")

    dispatch.apply(envelope(factories.tickets_issued()), "notifications")

    row = Notification.objects.get()
    assert retries == []
    assert (row.status, row.attempts) == (NotificationStatus.FAILED, 1)
    assert row.last_error.startswith(
        "SMTPRecipientsRefused: {'ada@example.com': (550, b'5.1.1 No such mailbox"
    )


def test_a_temporary_refusal_is_retried_not_failed(mail_server: MailServer) -> None:
    mail_server.data_reply = "451 4.7.1 Greylisted, try again later"
    row = factories.notification()

    result = notification_send(notification_id=row.pk)

    row.refresh_from_db()
    assert (result.outcome, result.retry_in) == (SendOutcome.RETRY, 60)
    assert (row.status, row.last_error) == (
        NotificationStatus.RETRY,
        "SMTPDataError: (451, b'4.7.1 Greylisted, try again later')",
    )


def test_running_the_task_twice_for_one_notification_sends_once(mail_server: MailServer) -> None:
    row = factories.notification()

    first = send_notification.delay(str(row.pk)).get()
    second = send_notification.delay(str(row.pk)).get()

    assert (first, second) == ("sent", "skipped")
    assert len(mail_server.messages) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 1)


def test_a_row_another_worker_is_sending_is_left_alone(mail_server: MailServer) -> None:
    row = factories.notification(status=NotificationStatus.SENDING, attempts=1)

    outcome = send_notification.delay(str(row.pk)).get()

    assert outcome == "skipped"
    assert mail_server.messages == []
    row.refresh_from_db()
    assert (row.status, row.attempts, row.version) == (NotificationStatus.SENDING, 1, 1)


def test_workers_racing_for_one_notification_send_it_once(mail_server: MailServer) -> None:
    row = factories.notification()
    start = threading.Barrier(4)

    def worker() -> SendOutcome:
        try:
            start.wait()
            return notification_send(notification_id=row.pk).outcome
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(lambda _: worker(), range(4)))

    assert outcomes == [SendOutcome.SENT, SendOutcome.SKIPPED, SendOutcome.SKIPPED, SendOutcome.SKIPPED]
    assert len(mail_server.messages) == 1


def test_the_sweep_re_enqueues_stuck_notifications_and_leaves_the_rest(mail_server: MailServer) -> None:
    long_ago = timezone.now() - timedelta(minutes=10)
    lost_enqueue = factories.notification(recipient="lost@example.com", updated_at=long_ago)
    lost_retry = factories.notification(
        recipient="retry@example.com", status=NotificationStatus.RETRY, attempts=1, next_attempt_at=long_ago
    )
    dead_worker = factories.notification(
        recipient="crash@example.com", status=NotificationStatus.SENDING, attempts=2, updated_at=long_ago
    )
    out_of_attempts = factories.notification(
        recipient="doomed@example.com",
        status=NotificationStatus.SENDING,
        attempts=MAX_ATTEMPTS,
        updated_at=long_ago,
    )
    fresh = factories.notification(recipient="fresh@example.com")
    retry_later = factories.notification(
        recipient="later@example.com",
        status=NotificationStatus.RETRY,
        attempts=1,
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )

    requeued = requeue_stuck_notifications.delay().get()

    assert requeued == 3
    assert sorted(m["To"] for m in mail_server.messages) == [
        "crash@example.com",
        "lost@example.com",
        "retry@example.com",
    ]
    states = {
        row.recipient: (row.status, row.attempts)
        for row in Notification.objects.filter(
            pk__in=[
                lost_enqueue.pk,
                lost_retry.pk,
                dead_worker.pk,
                out_of_attempts.pk,
                fresh.pk,
                retry_later.pk,
            ]
        )
    }
    assert states == {
        "lost@example.com": (NotificationStatus.SENT, 1),
        "retry@example.com": (NotificationStatus.SENT, 2),
        "crash@example.com": (NotificationStatus.SENT, 3),
        "doomed@example.com": (NotificationStatus.FAILED, MAX_ATTEMPTS),
        "fresh@example.com": (NotificationStatus.PENDING, 0),
        "later@example.com": (NotificationStatus.RETRY, 1),
    }
    lost = "The worker stopped while sending; the email may or may not have gone out."
    assert Notification.objects.get(pk=dead_worker.pk).last_error == lost
    assert Notification.objects.get(pk=out_of_attempts.pk).last_error == lost


def test_the_admin_resends_failed_notifications_only(mail_server: MailServer, client: Client) -> None:
    staff = get_user_model().objects.create_superuser(
        email="ops@example.com", password="pw-1234567", name="Ops"
    )
    client.force_login(staff)
    failed = factories.notification(
        recipient="failed@example.com",
        status=NotificationStatus.FAILED,
        attempts=MAX_ATTEMPTS,
        last_error=REFUSED,
    )
    sent = factories.notification(recipient="sent@example.com", status=NotificationStatus.SENT, attempts=1)

    response = client.post(
        "/admin/notifications/notification/",
        {"action": "resend", "_selected_action": [str(failed.pk), str(sent.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "Queued 1 failed notification(s) to be sent again.",
        "Left 1 alone: only failed notifications are resent.",
    ]
    assert [m["To"] for m in mail_server.messages] == ["failed@example.com"]
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (NotificationStatus.SENT, 1, REFUSED)
    assert Notification.objects.get(pk=sent.pk).status == NotificationStatus.SENT


def test_the_admin_lists_and_filters_the_log(client: Client) -> None:
    staff = get_user_model().objects.create_superuser(
        email="ops@example.com", password="pw-1234567", name="Ops"
    )
    client.force_login(staff)
    failed = factories.notification(recipient="failed@example.com", status=NotificationStatus.FAILED)
    factories.notification(recipient="sent@example.com", status=NotificationStatus.SENT)

    by_status = client.get("/admin/notifications/notification/", {"status__exact": "failed"})
    by_recipient = client.get("/admin/notifications/notification/", {"q": "FAILED@example.com"})
    detail = client.get(f"/admin/notifications/notification/{failed.pk}/change/")

    assert [row.pk for row in by_status.context["cl"].result_list] == [failed.pk]
    assert [row.pk for row in by_recipient.context["cl"].result_list] == [failed.pk]
    assert detail.status_code == 200
