"""Reads of the payments context. A viewer sees their own payments; staff see every payment."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import QuerySet

from apps.payments.models import Payment, PaymentStatus
from ticketflow import db


def _visible_to(*, viewer_id: str, viewer_is_staff: bool) -> QuerySet[Payment]:
    payments = Payment.objects.using(db.alias_for("payments")).all()
    return payments if viewer_is_staff else payments.filter(user_id=viewer_id)


def payment_get(*, payment_id: str, viewer_id: str, viewer_is_staff: bool) -> Payment | None:
    """The payment ``payment_id`` if the viewer may see it; None for unknown or malformed ids."""
    try:
        pk = uuid.UUID(payment_id)
    except ValueError:
        return None
    return _visible_to(viewer_id=viewer_id, viewer_is_staff=viewer_is_staff).filter(pk=pk).first()


def payment_get_latest_for_booking(
    *, booking_id: str, viewer_id: str, viewer_is_staff: bool
) -> Payment | None:
    """The booking's latest attempt (highest attempt number) if the viewer may see it."""
    return (
        _visible_to(viewer_id=viewer_id, viewer_is_staff=viewer_is_staff)
        .filter(booking_id=booking_id)
        .order_by("-attempt")
        .first()
    )


@dataclass(frozen=True, slots=True)
class PaymentAction:
    """What a buyer must do in their browser to finish a payment (3-D Secure)."""

    payment_id: str
    type: str
    """The provider's next action: ``use_stripe_sdk`` or ``redirect_to_url``."""
    client_secret: str
    redirect_url: str


def payment_action_for_booking(*, booking_id: str, viewer_id: str) -> PaymentAction | None:
    """The action the booking's buyer (``viewer_id``) must take on its latest attempt, if any.

    Only the paying customer gets it (it carries the client secret), and only while the
    attempt is PENDING with an action from the provider.
    """
    payment = (
        _visible_to(viewer_id=viewer_id, viewer_is_staff=False)
        .filter(booking_id=booking_id)
        .order_by("-attempt")
        .first()
    )
    if payment is None or payment.status != PaymentStatus.PENDING or not payment.next_action_type:
        return None
    return PaymentAction(
        payment_id=str(payment.pk),
        type=payment.next_action_type,
        client_secret=payment.client_secret,
        redirect_url=payment.next_action_url,
    )
