"""Periodic housekeeping of the event kernel's tables."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from ticketflow.messaging.models import InboxMessage
from ticketflow.messaging.outbox import OutboxStore

logger = logging.getLogger(__name__)


@shared_task(name="messaging.prune", ignore_result=True)
def prune() -> dict[str, int]:
    """Delete published outbox rows and inbox rows past their retention, on every alias.

    Published events are kept ``OUTBOX_RETENTION_DAYS`` for ``manage.py replay``. Inbox rows
    are kept ``INBOX_RETENTION_DAYS``, longer than Kafka keeps messages, so a message can
    never be redelivered after the proof that it was applied is gone.
    """
    options = settings.TICKETFLOW_EVENTS
    now = timezone.now()
    deleted: dict[str, int] = {}
    for alias in settings.DATABASES:
        sent = OutboxStore(alias, locking=False).prune(now - timedelta(days=options["OUTBOX_RETENTION_DAYS"]))
        applied, _ = (
            InboxMessage.objects.using(alias)
            .filter(processed_at__lt=now - timedelta(days=options["INBOX_RETENTION_DAYS"]))
            .delete()
        )
        deleted[alias] = sent + applied
        logger.info("pruned %d outbox and %d inbox rows on %s", sent, applied, alias)
    return deleted
