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
* once the SMTP server has accepted a message, a delivery receipt goes to the cache
  (Redis) before the row is marked SENT, and that idempotent update is retried for up to
  half the send lease while the database is away. A worker that claims a row later (its
  first worker died, or the database outlasted the retries) finds the receipt and records
  SENT without sending again;
* a row left SENDING by a worker that died is taken over once its claim is older than
  ``settings.NOTIFICATION_SEND_LEASE`` (by the redelivered task message, or the sweep).

One window remains: a worker killed between the server's "250 accepted" and the receipt
(one Redis write), or a receipt lost with Redis, gets that recipient the email twice. That
is the price of never losing an email; the Message-ID is derived from the row so mailboxes
that de-duplicate by it show one copy.
"""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import partial
from typing import Any

from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connections
from django.db.models import F, Q
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
RECEIPT_TTL_SECONDS = 7 * 24 * 3600
"""How long the cache remembers that the mail server accepted a notification."""

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


def _enqueue(notification_id: uuid.UUID | str) -> None:
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
    failed for good, or being sent by another worker right now, within its lease). A row
    whose message the mail server already accepted (a receipt in the cache) is recorded
    SENT without a second send. Mail-server and connection errors give RETRY with the
    delay to wait, or FAILED once the row has had :data:`MAX_ATTEMPTS`; a permanent
    rejection (5xx) is FAILED at once. Any other error is a bug: the row is FAILED with the
    error and the exception propagates.

    The database being unreachable raises :class:`django.db.OperationalError` (or
    ``InterfaceError``) before anything is sent, or, after the server accepted the message,
    once recording SENT has been retried for half the send lease; the caller retries the
    task later, and the receipt keeps that retry from sending again.
    """
    notification = _claim(notification_id)
    if notification is None:
        return SendResult(SendOutcome.SKIPPED)
    if _has_receipt(notification.pk):
        logger.info("notification %s was already accepted by the mail server; recording it", notification.pk)
        _record_sent(notification)
        return SendResult(SendOutcome.SENT)
    try:
        build_message(notification=notification).send(fail_silently=False)
    except (smtplib.SMTPException, OSError) as error:
        return _after_delivery_error(notification, error)
    except Exception as error:
        # A template or the stored context is broken: retrying cannot help, and the row must
        # not stay SENDING. The traceback goes to the worker's log.
        _mark_failed(notification, error)
        raise
    _write_receipt(notification.pk)
    _record_sent(notification)
    logger.info("sent %s notification %s", notification.kind, notification.pk)
    return SendResult(SendOutcome.SENT)


def _receipt_key(notification_id: uuid.UUID | str) -> str:
    return f"notifications:accepted:{notification_id}"


def _write_receipt(notification_id: uuid.UUID | str) -> None:
    """Remember, outside the database, that the mail server accepted this notification."""
    try:
        cache.set(_receipt_key(notification_id), 1, timeout=RECEIPT_TTL_SECONDS)
    except Exception:
        # Without the cache the row's SENT update is the only record; it is retried below.
        logger.warning(
            "could not store the delivery receipt of notification %s", notification_id, exc_info=True
        )


def _has_receipt(notification_id: uuid.UUID | str) -> bool:
    try:
        return bool(cache.get(_receipt_key(notification_id)))
    except Exception:
        # Cannot tell: send (at least once) rather than risk never sending.
        logger.warning(
            "could not read the delivery receipt of notification %s", notification_id, exc_info=True
        )
        return False


def _record_sent(notification: Notification) -> None:
    """Mark the row SENT, retrying while the database is unreachable (for half the send lease).

    The server accepted the message, so SENT is the truth even if the sweep or another
    worker took the row back meanwhile; the update is idempotent, and recording it stops
    any queued repeat. Raises the last database error when the retries run out.
    """
    deadline = time.monotonic() + settings.NOTIFICATION_SEND_LEASE.total_seconds() / 2
    pause = 0.25
    alias = _alias()
    while True:
        try:
            now = timezone.now()
            Notification.objects.filter(pk=notification.pk).exclude(status=NotificationStatus.SENT).update(
                status=NotificationStatus.SENT, sent_at=now, updated_at=now, version=F("version") + 1
            )
            return
        except (OperationalError, InterfaceError) as error:
            connections[alias].close_if_unusable_or_obsolete()
            if time.monotonic() + pause > deadline:
                logger.error(
                    "notification %s was sent but could not be recorded SENT: %s", notification.pk, error
                )
                raise
            logger.warning(
                "notification %s was sent; recording it again in %.2fs: %s", notification.pk, pause, error
            )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def _claim(notification_id: uuid.UUID | str) -> Notification | None:
    """Take the row for this worker (PENDING/RETRY -> SENDING), or ``None`` if someone else has it.

    A row SENDING for longer than the send lease is taken over: its worker died mid-send.
    """
    abandoned = Q(
        status=NotificationStatus.SENDING,
        updated_at__lt=timezone.now() - settings.NOTIFICATION_SEND_LEASE,
        attempts__lt=MAX_ATTEMPTS,  # out of attempts: the sweep fails it
    )
    notification = Notification.objects.filter(
        Q(status__in=CLAIMABLE) | abandoned, pk=notification_id
    ).first()
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
    if notification.status == NotificationStatus.SENDING:
        logger.warning(
            "took over notification %s from a worker that stopped while sending it", notification.pk
        )
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
