"""The inventory context: every seat of every event on sale, and who holds it.

The database decides who gets a seat: a seat moves AVAILABLE -> LOCKED (held for a
booking, until ``hold_expires_at``) -> RESERVED (sold) under a row lock, and every change
bumps its ``version``. A seat that comes back while buyers wait for the event is OFFERED
to the head of the waiting list instead (``hold_id`` is the offer, ``booking_id`` the
booking it may become, ``hold_expires_at`` the offer's end) and only that booking may hold it.
The door's seat claims (``ticketflow.seat_claims``) only turn away obvious losers early.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from ticketflow.messaging.sale import is_on_sale


class SaleEvent(models.Model):
    """What inventory needs to know about an event, projected from the catalog's snapshots."""

    event_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    sale_starts_at = models.DateTimeField(null=True, blank=True)
    sale_ends_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    max_seats_per_booking = models.PositiveSmallIntegerField()
    hold_minutes = models.PositiveSmallIntegerField()
    capacity = models.PositiveIntegerField()
    waitlist_offer_minutes = models.PositiveSmallIntegerField(default=30)
    revision = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "inventory_sale_event"

    def __str__(self) -> str:
        return self.name

    def on_sale_at(self, moment: datetime) -> bool:
        """True when tickets can be bought at ``moment`` (the contract's rule, ``is_on_sale``)."""
        return is_on_sale(self, at=moment)


class SeatStatus(models.TextChoices):
    AVAILABLE = "AVAILABLE", "Available"
    LOCKED = "LOCKED", "Held"
    RESERVED = "RESERVED", "Sold"
    OFFERED = "OFFERED", "Offered to the waiting list"


class SeatQuerySet(models.QuerySet["Seat"]):
    def free(self) -> int:
        """Put these seats back on sale, for nobody (call it on rows the caller has locked)."""
        return self.update(
            status=SeatStatus.AVAILABLE,
            booking_id=None,
            hold_id=None,
            hold_expires_at=None,
            version=models.F("version") + 1,
            updated_at=timezone.now(),
        )


class Seat(models.Model):
    """One seat of one event. ``id`` is the seat id every context derives from the layout."""

    id = models.UUIDField(primary_key=True)
    event_id = models.UUIDField()
    section = models.CharField(max_length=64)
    row = models.CharField(max_length=16)
    number = models.PositiveIntegerField()
    category = models.CharField(max_length=32)
    price_cents = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=SeatStatus.choices, default=SeatStatus.AVAILABLE)
    booking_id = models.UUIDField(null=True, blank=True)
    hold_id = models.UUIDField(null=True, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = SeatQuerySet.as_manager()

    class Meta:
        db_table = "inventory_seat"
        constraints = (
            models.UniqueConstraint(
                fields=("event_id", "section", "row", "number"), name="inventory_seat_place"
            ),
        )
        indexes = (
            models.Index(fields=("event_id", "status"), name="inventory_seat_status_idx"),
            models.Index(fields=("booking_id",), name="inventory_seat_booking_idx"),
            # The lapsed-hold sweep reads only held seats, by expiry: a small partial index.
            models.Index(
                fields=("hold_expires_at",),
                name="inventory_seat_held_idx",
                condition=models.Q(status="LOCKED"),
            ),
            # And the waiting-list sweep reads only offered seats, by the offer's end.
            models.Index(
                fields=("hold_expires_at",),
                name="inventory_seat_offered_idx",
                condition=models.Q(status="OFFERED"),
            ),
        )

    def __str__(self) -> str:
        return f"{self.section} {self.row}{self.number} ({self.status})"


class CancelledBooking(models.Model):
    """A booking that was cancelled: its seats are free and none of them may be sold to it.

    Events of one booking travel on different topics, so a cancellation can overtake the
    confirmation it makes obsolete; this record lets that late confirmation be recognised
    and ignored. (A hold request overtaken by its cancellation is not checked against it:
    bookings answers seats held for a cancelled booking with a release.)
    """

    booking_id = models.UUIDField(primary_key=True)
    cancelled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "inventory_cancelled_booking"

    def __str__(self) -> str:
        return str(self.booking_id)


class WaitlistStatus(models.TextChoices):
    WAITING = "WAITING", "Waiting"
    OFFERED = "OFFERED", "Offered seats"
    BOOKED = "BOOKED", "Booked the offer"
    LAPSED = "LAPSED", "Offer lapsed"
    LEFT = "LEFT", "Left the list"


class WaitlistEntry(models.Model):
    """A buyer waiting for ``quantity`` seats of a sold-out event (or of one of its sections).

    Entries are served first come, first served among those that fit the seats coming back.
    An entry gets one offer: the seats, OFFERED to it until ``offer_expires_at``, and the id
    of the booking that may take them (``offer_booking_id``, carried in a signed token).
    Unanswered, the offer lapses and its seats pass to the next entry.
    """

    id = models.UUIDField(primary_key=True)
    event_id = models.UUIDField()
    section = models.CharField(max_length=64, blank=True, default="", help_text="Empty: any section.")
    user_id = models.UUIDField()
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True, default="")
    quantity = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=8, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING)
    joined_at = models.DateTimeField(default=timezone.now)
    offer_id = models.UUIDField(null=True, blank=True)
    offer_booking_id = models.UUIDField(null=True, blank=True)
    offer_seat_ids = models.JSONField(default=list, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "inventory_waitlist_entry"
        verbose_name_plural = "waitlist entries"
        constraints = (
            # One place in the list per account and event while it is still in play.
            models.UniqueConstraint(
                fields=("event_id", "user_id"),
                name="inventory_waitlist_one_active",
                condition=models.Q(status__in=("WAITING", "OFFERED")),
            ),
        )
        indexes = (
            models.Index(fields=("event_id", "status", "joined_at"), name="inventory_waitlist_queue_idx"),
            models.Index(fields=("offer_booking_id",), name="inventory_waitlist_booking_idx"),
        )

    def __str__(self) -> str:
        return f"{self.email} x{self.quantity} ({self.status})"
