"""The payments context's data: one row per payment attempt, and the Stripe events seen.

Lives on the "documents" alias (MongoDB in production), so: UUID keys, no relations to
other contexts (bookings and users are referred to by their ids), no check constraints,
and state changes by conditional update on ``version`` rather than row locks.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class PaymentStatus(models.TextChoices):
    """Where an attempt stands; the two final outcomes are the values ``payment.processed`` carries.

    After a success: PARTIALLY_REFUNDED once seats of its booking were cancelled and refunded
    while the booking goes on; REFUNDED once the booking's refund is made (a cancellation of
    what was left, whatever share its refund policy gave back, or a late payment), or every
    cent was refunded. ``refunded_cents`` says how much went back.
    """

    PENDING = "PENDING", "Pending (the customer or the bank still has to act)"
    SUCCEEDED = "SUCCEEDED", "Succeeded"
    FAILED = "FAILED", "Failed"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED", "Partially refunded"
    REFUNDED = "REFUNDED", "Refunded"


REFUNDABLE = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)
"""Payments holding money that may still be refunded."""


class Payment(models.Model):
    """One charge attempt for one booking: at most one row per ``(booking_id, attempt)``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    booking_id = models.CharField(max_length=64)
    attempt = models.PositiveIntegerField()
    user_id = models.CharField(max_length=64, help_text="The paying customer (an accounts user id).")
    customer_email = models.CharField(max_length=254)
    customer_name = models.CharField(max_length=255, blank=True, default="")
    description = models.TextField(blank=True, default="")
    amount_cents = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    payment_method = models.CharField(
        max_length=255, help_text="The provider's payment method id the customer chose (not a secret)."
    )
    provider = models.CharField(max_length=32)
    provider_reference = models.CharField(
        max_length=255, blank=True, default="", help_text="The provider's charge id (a Stripe PaymentIntent)."
    )
    provider_status = models.CharField(
        max_length=64, blank=True, default="", help_text="The provider's own status, e.g. requires_action."
    )
    client_secret = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="While the customer must act (3-D Secure): what their browser finishes the charge with.",
    )
    next_action_type = models.CharField(
        max_length=64, blank=True, default="", help_text="The provider's next action, e.g. use_stripe_sdk."
    )
    next_action_url = models.CharField(
        max_length=2048,
        blank=True,
        default="",
        help_text="Where a redirect_to_url action sends the customer.",
    )
    idempotency_key = models.CharField(max_length=255)
    status = models.CharField(max_length=24, choices=PaymentStatus.choices)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")
    decline_code = models.CharField(
        max_length=64, blank=True, default="", help_text="The issuer's raw decline code (staff only)."
    )
    refund_id = models.CharField(
        max_length=255, blank=True, default="", help_text="The provider's latest refund of this payment."
    )
    refund_reason_code = models.CharField(max_length=32, blank=True, default="")
    refunded_at = models.DateTimeField(null=True, blank=True)
    refunded_cents = models.PositiveBigIntegerField(
        default=0, help_text="Refunded so far, in all (never more than amount_cents)."
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the outcome (succeeded or failed) became known."
    )
    submitted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the charge was first sent to the provider; committed before the call is made.",
    )
    booking_ended_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the booking expired or was cancelled: an unfinished charge must then be cancelled.",
    )

    class Meta:
        ordering = ("-created_at",)
        constraints = (
            models.UniqueConstraint(fields=("booking_id", "attempt"), name="payments_one_per_attempt"),
        )
        indexes = (
            models.Index(fields=("provider", "provider_reference"), name="payments_reference_idx"),
            models.Index(fields=("status", "created_at"), name="payments_status_created_idx"),
        )

    def __str__(self) -> str:
        return f"{self.booking_id}#{self.attempt} {self.status}"


class Refund(models.Model):
    """One refund of one payment, made for one refund request: a request is refunded once.

    ``request_id`` is the ``refund_request_id`` of ``payment.refund-requested`` (a booking's
    cancellation), or blank for a request that names none (the booking's one refund, as
    before requests had ids). The provider's idempotency key derives from the same pair, so
    a redelivered request, or a rolled-back transaction retried, refunds nothing more. Refers
    to its payment by id: the documents alias runs on MongoDB, where nothing joins.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment_id = models.UUIDField()
    booking_id = models.CharField(max_length=64)
    request_id = models.CharField(max_length=64, blank=True, default="")
    amount_cents = models.PositiveBigIntegerField()
    reason_code = models.CharField(max_length=32)
    provider_refund_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at",)
        constraints = (
            models.UniqueConstraint(
                fields=("payment_id", "request_id"), name="payments_refund_once_per_request"
            ),
        )
        indexes = (models.Index(fields=("booking_id",), name="payments_refund_booking_idx"),)

    def __str__(self) -> str:
        return f"{self.provider_refund_id} of {self.payment_id}: {self.amount_cents}"


class StripeWebhookEvent(models.Model):
    """A Stripe event already applied: written in the transaction of its effect, so a repeat is a no-op."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        REJECTED = "rejected", "Rejected (amount, currency or livemode contradicts the payment)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=128)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    payment_id = models.UUIDField(null=True, blank=True)
    detail = models.TextField(blank=True, default="", help_text="Why the event was ignored or rejected.")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-received_at",)

    def __str__(self) -> str:
        return f"{self.stripe_event_id} {self.type} ({self.outcome})"
