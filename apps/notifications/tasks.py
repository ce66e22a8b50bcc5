"""Celery tasks of the notifications context: send one email; sweep up the stuck ones.

Delivery is at least once with de-duplication by claim (see ``services``): a task message
may arrive twice, or be re-sent by the sweep, and the claim makes every copy but one a
no-op. The retry budget lives on the row (``attempts``), not in the Celery message, so a
re-enqueued notification does not start a fresh budget.

An unreachable database is nobody's fault but the database's: the task retries itself with
a short backoff (1, 2, 4, 8, then every 10 seconds), spending none of the row's attempts, so
an email waits for the database only as long as the outage lasts.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError

from apps.notifications.services import (
    SendOutcome,
    notification_requeue_stuck,
    notification_send,
)

logger = logging.getLogger(__name__)

DATABASE_RETRY_MAX_SECONDS = 10
DATABASE_RETRIES = 360
"""Retries of one task message while the database is away (about an hour); then the sweep."""


def database_retry_delay(retries: int) -> int:
    """Seconds before trying again after ``retries`` earlier retries: 1, 2, 4, 8, then 10."""
    return get_exponential_backoff_interval(factor=1, retries=retries, maximum=DATABASE_RETRY_MAX_SECONDS)


@shared_task(
    bind=True,
    name="notifications.send_notification",
    max_retries=None,  # the row's attempts bound the mail-server retries
    acks_late=True,
    ignore_result=True,
)
def send_notification(self: Task, notification_id: str) -> str:
    """Send notification ``notification_id`` once; on mail-server trouble retry with backoff.

    Returns the outcome (``sent``, ``failed``, ``skipped``). Running it again for the same
    notification, or while another worker sends it, sends nothing (``skipped``).
    """
    try:
        result = notification_send(notification_id=notification_id)
    except (OperationalError, InterfaceError) as error:
        delay = database_retry_delay(self.request.retries)
        logger.warning("notification %s waits %ds for the database: %s", notification_id, delay, error)
        raise self.retry(exc=error, countdown=delay, max_retries=DATABASE_RETRIES) from error
    if result.outcome is SendOutcome.RETRY:
        raise self.retry(countdown=result.retry_in)
    return result.outcome.value


@shared_task(name="notifications.requeue_stuck", ignore_result=True)
def requeue_stuck_notifications() -> int:
    """Periodic (beat and the relay's sweeper, every minute): re-enqueue notifications stuck for five minutes."""
    return notification_requeue_stuck()
