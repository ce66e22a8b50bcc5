"""Celery tasks of the notifications context: send one email; sweep up the stuck ones.

Delivery is at least once with de-duplication by claim (see ``services``): a task message
may arrive twice, or be re-sent by the sweep, and the claim makes every copy but one a
no-op. The retry budget lives on the row (``attempts``), not in the Celery message, so a
re-enqueued notification does not start a fresh budget.
"""

from __future__ import annotations

from celery import Task, shared_task

from apps.notifications.services import (
    MAX_ATTEMPTS,
    SendOutcome,
    notification_requeue_stuck,
    notification_send,
)


@shared_task(
    bind=True,
    name="notifications.send_notification",
    max_retries=MAX_ATTEMPTS - 1,
    acks_late=True,
    ignore_result=True,
)
def send_notification(self: Task, notification_id: str) -> str:
    """Send notification ``notification_id`` once; on mail-server trouble retry with backoff.

    Returns the outcome (``sent``, ``failed``, ``skipped``). Running it again for the same
    notification, or while another worker sends it, sends nothing (``skipped``).
    """
    result = notification_send(notification_id=notification_id)
    if result.outcome is SendOutcome.RETRY:
        raise self.retry(countdown=result.retry_in)
    return result.outcome.value


@shared_task(name="notifications.requeue_stuck", ignore_result=True)
def requeue_stuck_notifications() -> int:
    """Periodic (Celery beat, every minute): re-enqueue notifications stuck for over five minutes."""
    return notification_requeue_stuck()
