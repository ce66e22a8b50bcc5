"""The checkin context: the events it admits people to, their tickets, and every scan.

Checkin learns which tickets exist from the booking saga's events alone (confirmed,
cancelled, refunded); it stores other contexts' ids as plain values. A ticket's status
changes only with its row locked, and each scan is one row whose ``nonce`` is unique, so a
retried scan is recognised instead of counted twice.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class CheckinEvent(models.Model):
    """An event with tickets, and the Ed25519 key pair that signs them.

    The private key is stored sealed (AES-GCM under a key derived from the server's secret,
    see ``apps.checkin.signing``) and never leaves the server; the public key is what
    scanners verify secrets and snapshots with, offline.
    """

    event_id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    venue_name = models.CharField(max_length=120)
    starts_at = models.DateTimeField()
    public_key = models.CharField(max_length=64, help_text="Raw Ed25519 public key, base64url.")
    sealed_private_key = models.TextField(help_text="The private key, AES-GCM sealed; server side only.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "checkin_event"
        ordering = ("starts_at",)

    def __str__(self) -> str:
        return self.name


class TicketStatus(models.TextChoices):
    VALID = "valid", "Valid"
    CHECKED_IN = "checked_in", "Checked in"
    REVOKED = "revoked", "Revoked"


class Ticket(models.Model):
    """One seat of one confirmed booking: what a person shows at the door."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(CheckinEvent, on_delete=models.PROTECT, related_name="tickets")
    booking_id = models.UUIDField()
    booking_reference = models.CharField(max_length=16)
    seat_id = models.CharField(max_length=64)
    seat_label = models.CharField(max_length=120)
    secret = models.CharField(max_length=256, unique=True)
    fingerprint = models.CharField(
        max_length=32, unique=True, help_text="SHA-256 of the secret (hex, truncated): what snapshots list."
    )
    status = models.CharField(max_length=16, choices=TicketStatus.choices, default=TicketStatus.VALID)
    first_scan_at = models.DateTimeField(null=True, blank=True)
    admitted_by = models.OneToOneField(
        "Scan", null=True, blank=True, on_delete=models.SET_NULL, related_name="admitted"
    )
    revoked_reason = models.CharField(max_length=32, blank=True)
    transferred_from = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="transferred_to",
        help_text="The ticket this one replaced when it was transferred (revoked then).",
    )
    holder_email = models.EmailField(blank=True, help_text="Who it was transferred to; empty for the buyer.")
    version = models.PositiveIntegerField(default=1)
    issued_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("issued_at", "seat_label")
        constraints = (
            # A transfer issues a seat's ticket again (a new id, so a new secret); the original
            # stays unique per seat and each ticket is replaced at most once (one-to-one).
            models.UniqueConstraint(
                fields=("booking_id", "seat_id"),
                condition=models.Q(transferred_from__isnull=True),
                name="checkin_one_ticket_per_seat",
            ),
        )
        indexes = (
            models.Index(fields=("event", "updated_at"), name="checkin_ticket_changes_idx"),
            models.Index(fields=("event", "status"), name="checkin_ticket_status_idx"),
            models.Index(fields=("booking_id",), name="checkin_ticket_booking_idx"),
        )

    def __str__(self) -> str:
        return f"{self.booking_reference} {self.seat_label} ({self.status})"


class ScanType(models.TextChoices):
    ENTRY = "entry", "Entry"
    EXIT = "exit", "Exit"


class ScanResult(models.TextChoices):
    OK = "ok", "OK"
    ALREADY_REDEEMED = "already_redeemed", "Already redeemed"
    REVOKED = "revoked", "Revoked"
    UNKNOWN = "unknown", "Unknown"
    WRONG_EVENT = "wrong_event", "Wrong event"


class Scan(models.Model):
    """One scan at the door, as answered: accepted or refused, online or uploaded later.

    ``result`` is the answer the scanner was given and never changes, so a retry with the
    same nonce gets the same answer. ``accepted`` says whether this scan is the one that
    admitted the ticket now: an earlier offline scan uploaded later takes that over.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    nonce = models.CharField(max_length=64, unique=True, help_text="Chosen by the scanner; one per scan.")
    event_id = models.UUIDField()
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.PROTECT, related_name="scans")
    secret_fingerprint = models.CharField(max_length=32)
    type = models.CharField(max_length=8, choices=ScanType.choices)
    result = models.CharField(max_length=16, choices=ScanResult.choices)
    accepted = models.BooleanField(default=False)
    forced = models.BooleanField(default=False, help_text="Uploaded after an offline scan.")
    reason = models.CharField(max_length=200, blank=True)
    first_scan_at = models.DateTimeField(
        null=True, blank=True, help_text="The ticket's first entry, as answered."
    )
    scanned_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    user_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("scanned_at", "received_at")
        permissions = (("scan_tickets", "Can scan tickets at the door"),)
        indexes = (
            models.Index(fields=("event_id", "received_at"), name="checkin_scan_event_idx"),
            models.Index(fields=("ticket", "scanned_at"), name="checkin_scan_ticket_idx"),
        )

    def __str__(self) -> str:
        return f"{self.type} {self.result} at {self.scanned_at:%H:%M:%S}"


class WithdrawnBooking(models.Model):
    """A booking cancelled or refunded, remembered in case its confirmation arrives afterwards.

    Topics are ordered only one by one, so ``booking.cancelled`` may be applied before the
    same booking's ``booking.confirmed``; that late confirmation then issues no tickets.
    """

    booking_id = models.UUIDField(primary_key=True)
    reason_code = models.CharField(max_length=32)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "checkin_withdrawn_booking"

    def __str__(self) -> str:
        return f"{self.booking_id} ({self.reason_code})"


class WithdrawnSeat(models.Model):
    """A seat cancelled from a booking that goes on, remembered like :class:`WithdrawnBooking`.

    A partial cancellation (``booking.seats-cancelled``) may be applied before the booking's
    ``booking.confirmed``; that late confirmation then issues no ticket for this seat.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    booking_id = models.UUIDField()
    seat_id = models.CharField(max_length=64)
    reason_code = models.CharField(max_length=32)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "checkin_withdrawn_seat"
        constraints = (
            models.UniqueConstraint(fields=("booking_id", "seat_id"), name="checkin_withdrawn_seat_once"),
        )

    def __str__(self) -> str:
        return f"{self.booking_id} {self.seat_id} ({self.reason_code})"


class TicketTransfer(models.Model):
    """Checkin's answer to one accepted transfer, so a second delivery answers nothing new."""

    transfer_id = models.UUIDField(primary_key=True)
    booking_id = models.UUIDField()
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "checkin_ticket_transfer"

    def __str__(self) -> str:
        return f"{self.transfer_id} ({self.outcome})"
