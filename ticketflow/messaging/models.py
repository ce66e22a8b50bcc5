"""The event kernel's tables: outbox, inbox and (for the in-process transport) dead letters.

They exist on every database alias (see ``ticketflow.routers.KernelRouter``), so a context
writes its events and its inbox rows in the same transaction as its own state. Only the
kernel reads or writes them; contexts call :func:`ticketflow.messaging.emit`.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """An event committed with the state change it announces, waiting to be published."""

    id = models.UUIDField(primary_key=True, help_text="The event id (the envelope's id).")
    topic = models.CharField(max_length=128)
    aggregate_id = models.CharField(max_length=64, help_text="Kafka key: one aggregate, one partition.")
    body = models.TextField(help_text="The serialised envelope, published byte for byte.")
    position = models.BigIntegerField(
        help_text="Strictly increasing within the emitting process; the relay publishes in this order."
    )
    created_at = models.DateTimeField()
    pending = models.BooleanField(default=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        db_table = "ticketflow_outbox"
        ordering = ("position",)
        # Only pending rows are indexed for the relay's hot path: marking a batch sent then
        # adds no entries to these indexes. Sent rows are reached by time through a BRIN
        # index on created_at (PostgreSQL; migration 0002), which replay and pruning use.
        indexes = (
            models.Index(fields=("position",), name="outbox_pending_idx", condition=models.Q(pending=True)),
            models.Index(
                fields=("aggregate_id", "position"),
                name="outbox_aggregate_idx",
                condition=models.Q(pending=True),
            ),
        )

    def __str__(self) -> str:
        return f"{self.topic} {self.id} ({'pending' if self.pending else 'sent'})"


class InboxMessage(models.Model):
    """Proof that a consumer applied an event: written in the handler's own transaction."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consumer = models.CharField(max_length=128)
    event_id = models.UUIDField()
    topic = models.CharField(max_length=128)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "ticketflow_inbox"
        constraints = (
            models.UniqueConstraint(fields=("consumer", "event_id"), name="inbox_once_per_consumer"),
        )
        indexes = (models.Index(fields=("processed_at",), name="inbox_processed_idx"),)

    def __str__(self) -> str:
        return f"{self.consumer} applied {self.topic} {self.event_id}"


class DeadLetter(models.Model):
    """A message the in-process transport could not deliver within the retry budget.

    With Kafka, dead letters go to ``<topic>.DLT`` instead; ``manage.py replay`` re-drives both.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consumer = models.CharField(max_length=128)
    topic = models.CharField(max_length=128)
    event_id = models.CharField(max_length=64, blank=True, default="")
    body = models.TextField()
    error = models.TextField()
    attempts = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    redriven_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ticketflow_dead_letter"
        ordering = ("created_at",)
        indexes = (models.Index(fields=("consumer", "created_at"), name="dead_letter_consumer_idx"),)

    def __str__(self) -> str:
        return f"{self.consumer}: {self.topic} {self.event_id}"
