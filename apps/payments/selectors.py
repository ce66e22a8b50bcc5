"""Reads of the payments context. A viewer sees their own payments; staff see every payment."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.payments.models import Payment
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
