"""Reads of the catalog context."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.catalog.models import Event, EventStatus, Venue
from ticketflow.values import is_uuid


def event_list(
    *,
    include_drafts: bool = False,
    starts_from: datetime | None = None,
    starts_until: datetime | None = None,
    venue_id: str | None = None,
    text: str | None = None,
    include_past: bool = False,
) -> QuerySet[Event]:
    """Events in start order: upcoming and published unless asked otherwise."""
    events = Event.objects.select_related("venue")
    if not include_drafts:
        events = events.exclude(status=EventStatus.DRAFT)
    if not include_past:
        events = events.filter(ends_at__gte=timezone.now())
    if starts_from is not None:
        events = events.filter(starts_at__gte=starts_from)
    if starts_until is not None:
        events = events.filter(starts_at__lte=starts_until)
    if venue_id is not None:
        events = events.filter(venue_id=venue_id) if is_uuid(venue_id) else events.none()
    if text:
        events = events.filter(Q(name__icontains=text) | Q(description__icontains=text))
    return events.order_by("starts_at", "name")


def event_get(*, event_id: str, include_drafts: bool = False) -> Event | None:
    """One event (drafts only for those who may see them), or None."""
    if not is_uuid(event_id):
        return None
    event = Event.objects.select_related("venue").filter(pk=event_id).first()
    if event is None or (event.status == EventStatus.DRAFT and not include_drafts):
        return None
    return event


def venue_get(*, venue_id: str) -> Venue | None:
    return Venue.objects.filter(pk=venue_id).first() if is_uuid(venue_id) else None


def venue_list() -> QuerySet[Venue]:
    return Venue.objects.order_by("name")
