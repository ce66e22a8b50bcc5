"""Reads of the notification log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet

from apps.notifications.models import Notification, NotificationKind, NotificationStatus


def notification_list_for_user(*, user_id: str) -> QuerySet[Notification]:
    """The notifications sent (or owed) to user ``user_id``, newest first."""
    return Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id")


def notification_get_booking_facts(*, booking_id: str) -> dict[str, str]:
    """The booking reference and event name an earlier email about ``booking_id`` carried.

    Empty when no email about that booking exists yet (events on different topics may
    arrive in any order).
    """
    earlier = (
        Notification.objects.filter(booking_id=booking_id)
        .exclude(kind=NotificationKind.LATE_PAYMENT_REFUND)
        .order_by("-created_at")
        .values_list("context", flat=True)
        .first()
    )
    if not earlier:
        return {}
    return {"booking_reference": earlier["reference"], "event_name": earlier["event_name"]}


def notification_list_stuck(*, before: datetime, limit: int) -> list[Notification]:
    """Up to ``limit`` notifications no worker has moved on since ``before``.

    PENDING rows whose enqueue was lost, RETRY rows whose scheduled retry never ran, and
    SENDING rows whose worker died mid-send.
    """
    stuck = Q(status__in=(NotificationStatus.PENDING, NotificationStatus.SENDING), updated_at__lt=before) | Q(
        status=NotificationStatus.RETRY, next_attempt_at__lt=before
    )
    return list(Notification.objects.filter(stuck).order_by("updated_at")[:limit])
