"""Reads of the waiting room."""

from __future__ import annotations

import time

from django.utils import timezone

from apps.waitingroom.models import QueuedEvent
from apps.waitingroom.store import get_store


def queue_counts() -> list[tuple[str, int, int]]:
    """``(event id, waiting, shopping)`` for every event whose queue is on."""
    store = get_store()
    now = time.time()
    events = QueuedEvent.objects.filter(queue_enabled=True, status="on_sale", ends_at__gt=timezone.now())
    return [(str(e.event_id), *store.counts(str(e.event_id), now=now)) for e in events.only("event_id")]
