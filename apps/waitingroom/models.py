"""The waiting room's copy of each event's queue settings, projected from the catalog.

The queue itself (who waits, in which order, who is shopping) is not here: it lives in
Redis, or in a shared SQLite file on the embedded default (``apps.waitingroom.store``).
"""

from __future__ import annotations

from django.db import models


class QueuedEvent(models.Model):
    """An event's sale terms and waiting-room knobs, as the catalog last announced them."""

    event_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    ends_at = models.DateTimeField()
    sale_starts_at = models.DateTimeField(null=True, blank=True)
    sale_ends_at = models.DateTimeField(null=True, blank=True)
    queue_enabled = models.BooleanField(default=False)
    queue_opens_at = models.DateTimeField(null=True, blank=True)
    queue_paused = models.BooleanField(default=False)
    admit_per_minute = models.PositiveIntegerField(default=100)
    max_active_shoppers = models.PositiveIntegerField(default=500)
    shopping_window_minutes = models.PositiveSmallIntegerField(default=10)
    revision = models.PositiveIntegerField()

    class Meta:
        db_table = "waitingroom_queued_event"
        indexes = (models.Index(fields=("queue_enabled", "status"), name="waitingroom_enabled_idx"),)

    def __str__(self) -> str:
        return self.name
