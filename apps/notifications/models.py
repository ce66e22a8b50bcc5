"""The notification log: one row per email TicketFlow owes someone, and what became of it.

The row is written by an event handler in the handler's own transaction and is the unit of
delivery: the Celery task claims it, sends it and records the outcome on it. It lives on the
"documents" alias (MongoDB in production), so it uses a UUID key, plain-field indexes and no
relation to any other context; the other contexts' ids are stored as opaque strings.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class NotificationKind(models.TextChoices):
    WELCOME = "welcome", "Welcome"
    SIGN_UP_ATTEMPTED = "sign_up_attempted", "Sign-up with a registered address"
    BOOKING_CONFIRMED = "booking_confirmed", "Booking confirmed"
    BOOKING_FAILED = "booking_failed", "Booking failed"
    BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
    BOOKING_EXPIRED = "booking_expired", "Booking expired"
    SEATS_CANCELLED = "seats_cancelled", "Seats cancelled"
    LATE_PAYMENT_REFUND = "late_payment_refund", "Late payment refunded"
    TRANSFER_OFFERED = "transfer_offered", "Tickets offered to you"
    TRANSFER_RECEIVED = "transfer_received", "Transferred tickets"
    WAITLIST_OFFERED = "waitlist_offered", "Seats offered from the waiting list"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRY = "retry", "Waiting to retry"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """An email to one recipient, caused by one event.

    ``(kind, source_event_id)`` is unique, so however often an event is delivered it owes
    at most one email of each kind. ``version`` grows with every state change; transitions
    are conditional updates on ``(status, version)``, which is how two workers are kept from
    sending the same row.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    recipient = models.EmailField(max_length=254)
    user_id = models.CharField(max_length=64, help_text="The accounts context's user id.")
    booking_id = models.CharField(max_length=64, blank=True, default="")
    source_event_id = models.UUIDField(help_text="The id of the event that caused this email.")
    subject = models.CharField(max_length=255)
    context = models.JSONField(help_text="The event facts the templates are rendered from.")
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0, help_text="How many times a worker claimed it.")
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, help_text="When the status last changed.")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("kind", "source_event_id"), name="notification_once_per_event"),
        )
        indexes = (
            models.Index(fields=("user_id", "created_at"), name="notification_user_idx"),
            models.Index(fields=("status", "updated_at"), name="notification_status_idx"),
            models.Index(fields=("booking_id",), name="notification_booking_idx"),
        )

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"
