"""The catalog context's documents: venues with their seat layouts, and events.

Stored on the "documents" alias (MongoDB in production), so: UUID keys, the layout as a
JSON document, and state changes by conditional update on ``version`` instead of row locks.
"""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.timezone import now


class Venue(models.Model):
    """A place with a fixed seating plan (sections -> rows -> seats, each in a price category)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    address = models.CharField(max_length=255, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA time zone, e.g. Europe/Berlin.")
    layout = models.JSONField(help_text="The seating plan; see ticketflow.messaging.schemas.SeatLayout.")
    capacity = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ("name",)
        indexes = (models.Index(fields=("name",), name="catalog_venue_name_idx"),)

    def __str__(self) -> str:
        return self.name


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ON_SALE = "on_sale", "On sale"
    SOLD_OUT = "sold_out", "Sold out"
    CANCELLED = "cancelled", "Cancelled"


class Event(models.Model):
    """Something people buy tickets for, held at a venue.

    Publishing freezes a copy of the venue's layout into the event (``layout``), so later
    edits to the venue never move seats people already hold. ``revision`` counts the
    snapshots announced to other contexts; they apply only newer ones.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="events")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.DRAFT)
    currency = models.CharField(max_length=3, default="EUR")
    prices = models.JSONField(default=dict, help_text='Price in cents per category, e.g. {"standard": 4500}.')
    sale_starts_at = models.DateTimeField(null=True, blank=True)
    sale_ends_at = models.DateTimeField(null=True, blank=True)
    max_seats_per_booking = models.PositiveSmallIntegerField(default=10)
    max_active_seats_per_buyer = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=(
            "The most seats one buyer may have at once for this event (pending, held or bought). "
            "Leave empty for twice the seats per booking."
        ),
    )
    hold_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="How long seats stay held while the buyer pays."
    )
    # The virtual waiting room (docs/waiting-room.md).
    queue_enabled = models.BooleanField(
        default=False, help_text="Buyers wait in a queue and book only with an admission token."
    )
    queue_opens_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The pre-queue opens: everyone in it gets a random place at the sale's start.",
    )
    queue_paused = models.BooleanField(default=False, help_text="Nobody more is let in while paused.")
    admit_per_minute = models.PositiveIntegerField(default=100, help_text="Buyers let in per minute.")
    max_active_shoppers = models.PositiveIntegerField(
        default=500, help_text="Buyers shopping at once, at most."
    )
    shopping_window_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="How long an admitted buyer may shop before the place goes to the next."
    )
    # Ticket transfers: whether buyers may hand their tickets to someone else.
    transfers_allowed = models.BooleanField(
        default=True, help_text="Buyers may transfer their tickets to another person."
    )
    # The waiting list: how long a buyer at its head has to book the seats offered to them.
    waitlist_offer_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="Minutes a waiting-list offer stays open before the seats pass to the next buyer.",
    )
    # Refunds on cancellation (ticketflow/messaging/refund_policy.py); empty: in full until the start.
    refund_policy = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            'Refund steps, earliest deadline first: [{"hours_before": 168, "percent": 100}, '
            '{"hours_before": 48, "percent": 50}] refunds everything until 7 days before the start, '
            "half until 48 hours before, then nothing. Empty: a full refund until the event starts."
        ),
    )
    layout = models.JSONField(null=True, blank=True, editable=False)
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    revision = models.PositiveIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ("starts_at", "name")
        indexes = (
            models.Index(fields=("status", "starts_at"), name="catalog_event_status_idx"),
            models.Index(fields=("venue", "starts_at"), name="catalog_event_venue_idx"),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_at:%Y-%m-%d})"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None
