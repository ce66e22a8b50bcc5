"""Writes of the notifications context: record an email that is owed, send it, recover it.

Delivery is at least once, with de-duplication by claim:

* an event handler records a PENDING row in its own transaction and, only once that
  commits, enqueues the send task; a lost enqueue is found by the sweep;
* a worker sends only after it has *claimed* the row, a conditional update
  ``PENDING/RETRY -> SENDING`` on the row's version that exactly one worker can win, so
  duplicate task messages (a redelivered Celery message, the sweep re-enqueueing a slow
  row, an admin resend) never produce a second email;
* mail-server trouble moves the row to RETRY and the task retries with exponential
  backoff; after :data:`MAX_ATTEMPTS` the row is FAILED with the last error kept;
* a worker that dies between the SMTP server accepting the message and the row being
  marked SENT leaves the row SENDING; the sweep hands it out again after
  :data:`STUCK_AFTER`, so that recipient gets the email twice. That window (one database
  write) is the price of never losing an email; the Message-ID is derived from the row so
  mailboxes that de-duplicate by it show one copy.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from celery.utils.time import get_exponential_backoff_interval
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from apps.notifications.models import Notification, NotificationKind, NotificationStatus
from apps.notifications.rendering import build_message, render_subject
from apps.notifications.selectors import notification_list_stuck
from ticketflow import db

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
"""Claims a notification gets before it is FAILED: the first try and five retries."""
RETRY_BASE_SECONDS = 60
RETRY_MAX_SECONDS = 30 * 60
STUCK_AFTER = timedelta(minutes=5)
"""How long a row may sit untouched before the sweep re-enqueues it; far above a send's timeout."""
SWEEP_BATCH = 500

CLAIMABLE = (NotificationStatus.PENDING, NotificationStatus.RETRY)


class SendOutcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Another worker holds the row, it is already done, or it does not exist."""


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    retry_in: int | None = None
    """Seconds to wait before the next attempt (RETRY only)."""


def _alias() -> str:
    return db.alias_for("notifications")


def retry_delay(attempts: int) -> int:
    """Seconds before the next try after ``attempts`` failed ones: 60, 120, 240, 480, 960."""
    return get_exponential_backoff_interval(
        factor=RETRY_BASE_SECONDS, retries=attempts - 1, maximum=RETRY_MAX_SECONDS
    )


# --- recording ----------------------------------------------------------------------------------


def notification_record(
    *,
    kind: NotificationKind,
    source_event_id: uuid.UUID,
    recipient: str,
    user_id: str,
    booking_id: str = "",
    context: Mapping[str, Any],
) -> Notification:
    """Record that ``recipient`` is owed a ``kind`` email because of event ``source_event_id``.

    Joins the caller's transaction (an event handler's) and enqueues the send only after it
    commits, so no email leaves for a change that rolled back. Recording the same
    ``(kind, source_event_id)`` again returns the existing row and enqueues nothing.
    """
    alias = _alias()
    with db.atomic(alias):
        # The kernel's inbox already stops a redelivered event before it gets here; this
        # covers a replay after the inbox row was pruned. Concurrent copies of one event
        # cannot both pass it, because the inbox row written first in the same transaction
        # serializes them; the unique constraint is the backstop.
        existing = Notification.objects.filter(kind=kind, source_event_id=source_event_id).first()
        if existing is not None:
            return existing
        now = timezone.now()
        notification = Notification.objects.create(
            kind=kind,
            recipient=recipient,
            user_id=user_id,
            booking_id=booking_id,
            source_event_id=source_event_id,
            subject=render_subject(kind=kind, context=context),
            context=dict(context),
            created_at=now,
            updated_at=now,
        )
        db.on_commit(partial(_enqueue, notification.pk), using=alias)
    return notification


def _enqueue(notification_id: uuid.UUID) -> None:
    # Imported here because the task module imports this one.
    from apps.notifications.tasks import send_notification

    try:
        send_notification.delay(str(notification_id))
    except BrokerUnavailable:
        # The row is committed and PENDING: the sweep enqueues it once the broker is back.
        logger.exception(
            "could not enqueue notification %s; the stuck-notification sweep will", notification_id
        )


# --- sending ------------------------------------------------------------------------------------


def notification_send(*, notification_id: uuid.UUID | str) -> SendResult:
    """Claim notification ``notification_id``, send it over SMTP, and record the outcome.

    Returns SKIPPED without sending when the row is not PENDING or RETRY (already sent,
    failed for good, or being sent by another worker right now). Mail-server and
    connection errors give RETRY with the delay to wait, or FAILED once the row has had
    :data:`MAX_ATTEMPTS`; a permanent rejection (5xx) is FAILED at once. Any other error
    is a bug: the row is FAILED with the error and the exception propagates.
    """
    notification = _claim(notification_id)
    if notification is None:
        return SendResult(SendOutcome.SKIPPED)
    try:
        build_message(notification=notification).send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as error:
        return _after_delivery_error(notification, error)
    except Exception as error:
        # A template or the stored context is broken: retrying cannot help, and the row must
        # not stay SENDING. The traceback goes to the worker's log.
        _mark_failed(notification, error)
        raise
    # The server accepted the message, so SENT is the truth even if the sweep took the row
    # back during a very slow send; recording it stops any queued repeat.
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).exclude(status=NotificationStatus.SENT).update(
        status=NotificationStatus.SENT, sent_at=now, updated_at=now, version=F("version") + 1
    )
    logger.info("sent %s notification %s", notification.kind, notification.pk)
    return SendResult(SendOutcome.SENT)


def _claim(notification_id: uuid.UUID | str) -> Notification | None:
    """Take the row for this worker (PENDING/RETRY -> SENDING), or ``None`` if someone else has it."""
    notification = Notification.objects.filter(pk=notification_id, status__in=CLAIMABLE).first()
    if notification is None:
        return None
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification.pk, status=notification.status, version=notification.version
    ).update(
        status=NotificationStatus.SENDING,
        attempts=F("attempts") + 1,
        next_attempt_at=None,
        updated_at=now,
        version=F("version") + 1,
    )
    if claimed != 1:
        return None
    notification.status = NotificationStatus.SENDING
    notification.attempts += 1
    notification.next_attempt_at = None
    notification.updated_at = now
    notification.version += 1
    return notification


def _is_transient(error: Exception) -> bool:
    """Whether trying again later may succeed.

    A 5xx reply about this message (recipient unknown, content refused) is final. Anything
    about the server itself (unreachable, refusing the connection, rejecting our
    credentials) says nothing about the message and may be fixed meanwhile, as may a 4xx.
    """
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPAuthenticationError):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    return True


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def _release(notification: Notification, **changes: Any) -> bool:
    """Move the row on from the SENDING state this worker claimed; False if it was taken back."""
    moved = Notification.objects.filter(
        pk=notification.pk, status=NotificationStatus.SENDING, version=notification.version
    ).update(**{"updated_at": timezone.now(), **changes}, version=F("version") + 1)
    return moved == 1


def _after_delivery_error(notification: Notification, error: Exception) -> SendResult:
    if not _is_transient(error) or notification.attempts >= MAX_ATTEMPTS:
        _mark_failed(notification, error)
        return SendResult(SendOutcome.FAILED)
    delay = retry_delay(notification.attempts)
    now = timezone.now()
    waiting = _release(
        notification,
        status=NotificationStatus.RETRY,
        last_error=_describe(error),
        next_attempt_at=now + timedelta(seconds=delay),
        updated_at=now,
    )
    if not waiting:
        return SendResult(SendOutcome.SKIPPED)
    logger.warning(
        "notification %s not sent (attempt %d of %d, retrying in %ds): %s",
        notification.pk,
        notification.attempts,
        MAX_ATTEMPTS,
        delay,
        error,
    )
    return SendResult(SendOutcome.RETRY, retry_in=delay)


def _mark_failed(notification: Notification, error: BaseException) -> None:
    if _release(notification, status=NotificationStatus.FAILED, last_error=_describe(error)):
        logger.error(
            "notification %s failed after %d attempt(s): %s", notification.pk, notification.attempts, error
        )


# --- recovery -----------------------------------------------------------------------------------


def notification_requeue_stuck(*, older_than: timedelta = STUCK_AFTER, limit: int = SWEEP_BATCH) -> int:
    """Re-enqueue notifications that no worker has moved on for ``older_than``; returns how many.

    PENDING (the enqueue was lost) and RETRY (the scheduled retry was lost) rows are sent
    again as they are. SENDING rows belong to a worker that died mid-send: they go back to
    RETRY, or to FAILED when their attempts are used up. Each row is touched with a
    conditional update before it is enqueued, so concurrent sweeps enqueue it once and the
    next sweep leaves it alone for another ``older_than``.
    """
    now = timezone.now()
    requeued = 0
    for notification in notification_list_stuck(before=now - older_than, limit=limit):
        changes: dict[str, Any] = {"updated_at": now}
        if notification.status == NotificationStatus.SENDING:
            lost = "The worker stopped while sending; the email may or may not have gone out."
            exhausted = notification.attempts >= MAX_ATTEMPTS
            status = NotificationStatus.FAILED if exhausted else NotificationStatus.RETRY
            changes.update(status=status, last_error=lost, next_attempt_at=None if exhausted else now)
        elif notification.status == NotificationStatus.RETRY:
            changes["next_attempt_at"] = now
        touched = Notification.objects.filter(
            pk=notification.pk, status=notification.status, version=notification.version
        ).update(**changes, version=F("version") + 1)
        if touched and changes.get("status") != NotificationStatus.FAILED:
            _enqueue(notification.pk)
            requeued += 1
    if requeued:
        logger.warning("re-enqueued %d stuck notification(s)", requeued)
    return requeued


def notification_resend(*, notification_ids: Iterable[uuid.UUID | str]) -> int:
    """Give FAILED notifications among ``notification_ids`` a fresh round of attempts.

    Returns how many were re-queued; rows in any other state are left alone (a PENDING,
    RETRY or SENDING row is already on its way, a SENT one was delivered).
    """
    alias = _alias()
    resent = 0
    with db.atomic(alias):
        for notification_id in notification_ids:
            moved = Notification.objects.filter(pk=notification_id, status=NotificationStatus.FAILED).update(
                status=NotificationStatus.PENDING,
                attempts=0,
                next_attempt_at=None,
                updated_at=timezone.now(),
                version=F("version") + 1,
            )
            if moved:
                db.on_commit(partial(_enqueue, notification_id), using=alias)
                resent += 1
    return resent
