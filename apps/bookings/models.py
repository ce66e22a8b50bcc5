"""The bookings context: the booking aggregate and what it knows about the events it sells.

A booking moves PENDING -> SEATS_LOCKED -> CONFIRMED, or ends FAILED, EXPIRED or
CANCELLED. Every transition happens with the booking's row locked, bumps ``version``, and
appends a :class:`BookingStep` to its timeline -- in the same transaction as the events
it emits.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class BookableEvent(models.Model):
    """The booking rules of an event, projected from the catalog's snapshots.

    Bookings validates requests synchronously against this copy (is it on sale, how many
    seats per booking, do the seats belong to it) without asking another context.
    """

    event_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    venue_name = models.CharField(max_length=120)
    status = models.CharField(max_length=16)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    sale_starts_at = models.DateTimeField(null=True, blank=True)
    sale_ends_at = models.DateTimeField(null=True, blank=True)
    currency = models.CharField(max_length=3)
    max_seats_per_booking = models.PositiveSmallIntegerField()
    max_active_seats_per_buyer = models.PositiveIntegerField(
        null=True, blank=True, help_text="As the organiser set it; empty for the default."
    )
    hold_minutes = models.PositiveSmallIntegerField()
    layout = models.JSONField()
    revision = models.PositiveIntegerField()
    queue_enabled = models.BooleanField(
        default=False, help_text="Bookings need the waiting room's admission token (X-Queue-Token)."
    )
    transfers_allowed = models.BooleanField(default=True, help_text="Owners may transfer their tickets.")

    refund_policy = models.JSONField(
        default=list,
        blank=True,
        help_text="The event's refund steps as announced (ticketflow/messaging/refund_policy.py).",
    )

    class Meta:
        db_table = "bookings_bookable_event"

    def __str__(self) -> str:
        return self.name

    @property
    def active_seats_limit(self) -> int:
        """The most seats one buyer may have at once: the organiser's, or two bookings' worth."""
        return self.max_active_seats_per_buyer or self.max_seats_per_booking * 2


class BookingStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SEATS_LOCKED = "SEATS_LOCKED", "Seats held"
    CONFIRMED = "CONFIRMED", "Confirmed"
    FAILED = "FAILED", "Failed"
    EXPIRED = "EXPIRED", "Expired"
    CANCELLED = "CANCELLED", "Cancelled"


TERMINAL = frozenset({BookingStatus.FAILED, BookingStatus.EXPIRED, BookingStatus.CANCELLED})
UNPAID = frozenset({BookingStatus.PENDING, BookingStatus.SEATS_LOCKED})
"""Bookings that keep seats from others without having paid for them."""
ACTIVE = UNPAID | {BookingStatus.CONFIRMED}
"""Bookings whose seats count against the buyer's purchase limit."""


class RefundState(models.TextChoices):
    """A refund asked of payments, then made; blank while none is asked for."""

    REQUESTED = "REQUESTED", "Requested"
    REFUNDED = "REFUNDED", "Refunded"


class Booking(models.Model):
    """One attempt by one buyer to buy some seats of one event.

    A partial cancellation takes seats out of ``seat_ids``, ``seats`` and ``total_cents``
    (its :class:`BookingCancellation` keeps them): they always say what the booking holds now.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=16, unique=True, help_text="What the buyer quotes, e.g. TF-7Q2K-9MRX."
    )
    user_id = models.UUIDField()
    customer_email = models.EmailField()
    customer_name = models.CharField(max_length=150)
    event_id = models.UUIDField()
    event_name = models.CharField(max_length=200)
    event_starts_at = models.DateTimeField()
    venue_name = models.CharField(max_length=120)
    seat_ids = models.JSONField(help_text="The seats asked for, as the buyer chose them, less any cancelled.")
    seats = models.JSONField(
        default=list, help_text="The held seats with their prices (from inventory), less any cancelled."
    )
    payment_method = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.PENDING)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_reason = models.TextField(blank=True)
    total_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="The price of the seats held, less any cancelled."
    )
    currency = models.CharField(max_length=3)
    hold_id = models.UUIDField(null=True, blank=True)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    payment_attempt = models.PositiveSmallIntegerField(default=0)
    payment_id = models.CharField(max_length=64, blank=True)
    paid = models.BooleanField(default=False, help_text="A payment for this booking succeeded.")
    refund_state = models.CharField(
        max_length=16,
        blank=True,
        choices=RefundState.choices,
        help_text="REQUESTED while a refund asked for is under way; REFUNDED once every one went through.",
    )
    refund_cents = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="What the cancellations refund under the event's refund policy, in all (partial ones add up).",
    )
    # NULL, not "": bookings without a key stay out of the unique constraint.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=("user_id", "idempotency_key"),
                condition=models.Q(idempotency_key__isnull=False),
                name="bookings_one_booking_per_idempotency_key",
            ),
        )
        indexes = (
            models.Index(fields=("user_id", "created_at"), name="bookings_user_idx"),
            models.Index(fields=("status", "hold_expires_at"), name="bookings_expiry_idx"),
            models.Index(fields=("event_id", "status"), name="bookings_event_idx"),
        )

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class BookingCancellation(models.Model):
    """One cancellation of a booking: some of its seats (partial) or all that were left.

    Its ``id`` travels in its events (``booking.seats-cancelled``) and names its refund
    request (``payment.refund-requested``'s ``refund_request_id``), so a repeat is known.
    The refund state is kept per cancellation: a booking may have several refunds under way,
    and the booking's ``refund_state`` sums them up.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="cancellations")
    partial = models.BooleanField(help_text="Some seats only: the booking goes on with the others.")
    seat_ids = models.JSONField(help_text="The seats cancelled.")
    seats = models.JSONField(
        default=list, help_text="The seats cancelled with their prices; empty if never held."
    )
    by_staff = models.BooleanField(default=False)
    refund_percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The refund policy's share at the time; empty if nothing was paid."
    )
    refund_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="What this cancellation refunds; empty if nothing was paid."
    )
    refund_state = models.CharField(max_length=16, blank=True, choices=RefundState.choices)
    refunded_cents = models.PositiveIntegerField(default=0, help_text="Refunded so far, as payments said.")
    refund_ids = models.JSONField(default=list, help_text="The provider's refunds noted, once each.")
    created_at = models.DateTimeField(default=timezone.now)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "bookings_cancellation"
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        kind = "partial" if self.partial else "full"
        return f"{kind} cancellation of {len(self.seat_ids)} seat(s)"


class BuyerAdmission(models.Model):
    """One row per buyer, locked while a booking of theirs is admitted.

    Counting a buyer's active seats and then inserting their booking is check-then-act
    unless one buyer's requests take turns. They queue on this row (an upsert locks it for
    the rest of the transaction), so two of them never count at once, while different
    buyers never wait for each other.
    """

    user_id = models.UUIDField(primary_key=True)
    last_admitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_buyer_admission"

    def __str__(self) -> str:
        return str(self.user_id)


class TimelineStep(models.TextChoices):
    """What a :class:`BookingStep` records: mostly the event that moved the booking, by its name."""

    REQUESTED = "requested", "Booking requested"
    SEATS_LOCKED = "seats.locked", "Seats held"
    SEATS_LOCK_FAILED = "seats.lock-failed", "Seats not held"
    PAYMENT_PROCESSED = "payment.processed", "Payment processed"
    PAYMENT_REFUNDED = "payment.refunded", "Refunded"
    BOOKING_CONFIRMED = "booking.confirmed", "Booking confirmed"
    BOOKING_CANCELLED = "booking.cancelled", "Booking cancelled"
    BOOKING_SEATS_CANCELLED = "booking.seats-cancelled", "Seats cancelled"
    BOOKING_TIMED_OUT = "booking.timed-out", "Timed out"
    HOLD_EXPIRED = "hold.expired", "Hold expired"
    TICKETS_ISSUED = "tickets.issued", "Tickets issued"
    TICKETS_REVOKED = "tickets.revoked", "Tickets revoked"
    TICKET_SCANNED = "ticket.scanned", "Ticket scanned"
    TICKET_TRANSFER_REQUESTED = "ticket.transfer-requested", "Transfer offered"
    TICKET_TRANSFER_ACCEPTED = "ticket.transfer-accepted", "Transfer accepted"
    TICKET_TRANSFER_CANCELLED = "ticket.transfer-cancelled", "Transfer cancelled"
    TICKET_TRANSFER_REFUSED = "ticket.transfer-refused", "Transfer refused"
    TICKETS_TRANSFERRED = "tickets.transferred", "Tickets transferred"


class BookingStep(models.Model):
    """One step of a booking's saga, for its timeline (API, pages, admin)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="steps")
    step = models.CharField(
        max_length=64, choices=TimelineStep.choices, help_text="The event type, or what happened."
    )
    status = models.CharField(max_length=16, help_text="The booking's status after this step.")
    detail = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at", "id")
        indexes = (models.Index(fields=("booking", "at"), name="bookings_step_idx"),)

    def __str__(self) -> str:
        return f"{self.step} -> {self.status}"


class BookingTicket(models.Model):
    """A ticket of a confirmed booking, projected from checkin's events for its owner to show.

    Checkin issues, revokes and scans tickets; this copy (fed by ``tickets.issued``,
    ``tickets.revoked`` and ``ticket.scanned``) lets the booking API and pages list them
    without asking checkin. The door is authoritative: this status may lag it briefly. A
    revocation or scan that overtakes ``tickets.issued`` leaves a copy without a secret,
    which the owner is not shown until the secret arrives.
    """

    class Status(models.TextChoices):
        VALID = "valid", "Valid"
        CHECKED_IN = "checked_in", "Checked in"
        REVOKED = "revoked", "Revoked"
        TRANSFERRED = "transferred", "Transferred"

    id = models.UUIDField(primary_key=True, help_text="The ticket id checkin gave it.")
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="tickets")
    seat_id = models.CharField(max_length=64)
    secret = models.CharField(
        max_length=256, blank=True, help_text="What the ticket's QR code encodes; empty until issued."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.VALID)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_ticket"
        ordering = ("booking", "seat_id")

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class TicketTransfer(models.Model):
    """An owner's offer of some of a booking's tickets to another person, by email address.

    PENDING until the recipient, signed in with that address, accepts (ACCEPTED) and checkin
    has issued their new tickets (COMPLETED, ``tickets`` holds them with their secrets), or
    refused to because a ticket changed meanwhile (REFUSED). The owner may cancel a PENDING
    transfer (CANCELLED). Changes happen with the booking's row locked.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING", "Pending"
        ACCEPTED = "ACCEPTED", "Accepted"
        COMPLETED = "COMPLETED", "Completed"
        REFUSED = "REFUSED", "Refused"
        CANCELLED = "CANCELLED", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="transfers")
    ticket_ids = models.JSONField(help_text="The owner's tickets being transferred.")
    recipient_email = models.EmailField()
    recipient_user_id = models.UUIDField(null=True, blank=True)
    recipient_name = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=200, blank=True)
    tickets = models.JSONField(
        default=list,
        help_text="The recipient's new tickets (ticket_id, replaces, seat_id, seat_label, secret).",
    )
    expires_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bookings_ticket_transfer"
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("recipient_user_id", "created_at"), name="bookings_transfer_to_idx"),)

    def __str__(self) -> str:
        return f"{self.recipient_email} ({self.status})"
