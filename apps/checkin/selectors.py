"""Reads of the checkin context: events, counts, and the signed snapshot for offline scanners."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from apps.checkin import signing
from apps.checkin.models import CheckinEvent, Scan, Ticket, TicketStatus
from ticketflow.values import is_uuid


def checkin_event_get(*, event_id: str) -> CheckinEvent | None:
    """The event ``event_id`` if checkin has issued tickets for it."""
    if not is_uuid(event_id):
        return None
    return CheckinEvent.objects.filter(pk=event_id).first()


def checkin_event_list(*, since: datetime | None = None) -> QuerySet[CheckinEvent]:
    """Events with tickets, soonest first; from ``since`` on when given (the scanner's pick list)."""
    events = CheckinEvent.objects.order_by("starts_at")
    return events.filter(starts_at__gte=since) if since is not None else events


@dataclass(frozen=True, slots=True)
class Counts:
    sold: int
    checked_in: int
    revoked: int


def ticket_counts(*, event_id: str) -> Counts:
    """How many tickets of ``event_id`` are sold (valid or used), used, and revoked."""
    totals = Ticket.objects.filter(event_id=event_id).aggregate(  # type: ignore[misc]  # Django takes a UUID's text; the plugin wants a UUID
        valid=Count("id", filter=Q(status=TicketStatus.VALID)),
        checked_in=Count("id", filter=Q(status=TicketStatus.CHECKED_IN)),
        revoked=Count("id", filter=Q(status=TicketStatus.REVOKED)),
    )
    return Counts(
        sold=totals["valid"] + totals["checked_in"],
        checked_in=totals["checked_in"],
        revoked=totals["revoked"],
    )


@dataclass(frozen=True, slots=True)
class EventCounts:
    event_id: str
    name: str
    by_status: dict[str, int] = field(default_factory=dict)


def ticket_counts_around(*, moment: datetime, window: timedelta) -> list[EventCounts]:
    """Tickets by status of every event starting within ``window`` of ``moment`` (for metrics)."""
    rows = (
        Ticket.objects.filter(event__starts_at__range=(moment - window, moment + window))
        .values("event_id", "event__name", "status")
        .annotate(n=Count("id"))
    )
    grouped: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(TicketStatus.values, 0)
    )
    for row in rows:
        grouped[(str(row["event_id"]), row["event__name"])][row["status"]] = row["n"]
    return [EventCounts(event_id=key[0], name=key[1], by_status=counts) for key, counts in grouped.items()]


def scan_list_for_ticket(*, ticket_id: str) -> QuerySet[Scan]:
    """A ticket's scans in the order they happened."""
    return Scan.objects.filter(ticket_id=ticket_id).order_by("scanned_at", "received_at")


def snapshot_get(*, event: CheckinEvent, since: datetime | None = None) -> dict[str, Any]:
    """The signed list of ticket fingerprints an offline scanner needs, changed since ``since``.

    Only fingerprints (a hash of each secret) and counts: nothing about the buyers. A
    scanner applies a delta on top of the snapshot it holds; the ``generated_at`` it gets
    back is its next ``since`` (rows changed in that very instant come again, harmlessly).
    The signature covers :func:`apps.checkin.signing.canonical_json` of every other field.
    """
    generated_at = timezone.now()
    tickets = Ticket.objects.filter(event=event)
    if since is not None:
        tickets = tickets.filter(updated_at__gte=since)
    lists: dict[str, list[str]] = {status: [] for status in TicketStatus.values}
    for fingerprint, status in tickets.order_by("fingerprint").values_list("fingerprint", "status"):
        lists[status].append(fingerprint)
    counts = ticket_counts(event_id=str(event.pk))
    body = {
        "event_id": str(event.pk),
        "event_name": event.name,
        "public_key": event.public_key,
        "algorithm": "Ed25519",
        "generated_at": generated_at.isoformat(),
        "since": since.isoformat() if since else None,
        "valid": lists[TicketStatus.VALID],
        "checked_in": lists[TicketStatus.CHECKED_IN],
        "revoked": lists[TicketStatus.REVOKED],
        "sold": counts.sold,
        "checked_in_count": counts.checked_in,
    }
    signature = signing.sign(
        event_id=str(event.pk),
        sealed_private_key=event.sealed_private_key,
        data=signing.canonical_json(body),
    )
    return {**body, "signature": signature}
