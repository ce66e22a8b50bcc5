"""Commands of the catalog context: venues, events, and publishing events for sale.

Every write runs in ``ticketflow.db.atomic`` on the documents alias and changes a document
only if its ``version`` is the one read (a conditional update), so two editors never
silently overwrite each other. Publishing and later changes to a published event are
announced with the whole snapshot other contexts need (``ticketflow.event.created`` /
``ticketflow.event.updated``).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from pydantic import ValidationError

from apps.catalog.layout import LayoutError, validate_layout
from apps.catalog.models import Event, EventStatus, Venue
from ticketflow import db
from ticketflow.errors import Conflict, InvalidInput, NotFound
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.refund_policy import parse_policy
from ticketflow.messaging.schemas import EventCreated, EventUpdated, SeatLayout
from ticketflow.messaging.schemas import EventStatus as SnapshotStatus

# The most an organiser may let one buyer hold of an event (``max_active_seats_per_buyer``).
MAX_ACTIVE_SEATS_PER_BUYER = 10_000


def _db() -> str:
    return db.alias_for("catalog")


def _invalid(fields: dict[str, list[str]]) -> InvalidInput:
    return InvalidInput("Some of the data sent is not valid.", details={"fields": fields})


def _check_timezone(name: str) -> None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _invalid({"timezone": [f"{name!r} is not an IANA time zone such as Europe/Berlin."]}) from None


def _layout(layout: SeatLayout | dict[str, Any]) -> SeatLayout:
    if isinstance(layout, SeatLayout):
        return layout
    try:
        return validate_layout(layout)
    except LayoutError as error:
        raise _invalid({"layout": [str(error)]}) from None


def venue_validate(*, timezone_name: str, layout: SeatLayout | dict[str, Any]) -> None:
    """Raise :class:`InvalidInput` (field errors) unless the time zone and seating plan are valid."""
    _check_timezone(timezone_name)
    _layout(layout)


def venue_create(
    *, name: str, address: str = "", timezone_name: str = "UTC", layout: SeatLayout | dict[str, Any]
) -> Venue:
    """Create a venue with its seating plan."""
    _check_timezone(timezone_name)
    plan = _layout(layout)
    with db.atomic(_db()):
        return Venue.objects.create(
            name=name.strip(),
            address=address.strip(),
            timezone=timezone_name,
            layout=plan.model_dump(mode="json", exclude_none=True),
            capacity=plan.capacity,
        )


def venue_update(
    *, venue: Venue, name: str, address: str, timezone_name: str, layout: SeatLayout | dict[str, Any]
) -> Venue:
    """Change a venue; events already published keep the layout they were published with."""
    _check_timezone(timezone_name)
    plan = _layout(layout)
    changes = {
        "name": name.strip(),
        "address": address.strip(),
        "timezone": timezone_name,
        "layout": plan.model_dump(mode="json", exclude_none=True),
        "capacity": plan.capacity,
        "updated_at": timezone.now(),
    }
    with db.atomic(_db()):
        updated = Venue.objects.filter(pk=venue.pk, version=venue.version).update(
            **changes, version=F("version") + 1
        )
    if not updated:
        raise Conflict("Someone else changed this venue meanwhile; reload it and try again.")
    return Venue.objects.get(pk=venue.pk)


@dataclass(frozen=True, kw_only=True)
class EventDetails:
    """What an organiser decides about an event."""

    venue_id: str
    name: str
    description: str = ""
    starts_at: datetime
    ends_at: datetime
    currency: str = "EUR"
    prices: dict[str, int]
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    max_seats_per_booking: int = 10
    max_active_seats_per_buyer: int | None = None
    hold_minutes: int = 10
    queue_enabled: bool = False
    queue_opens_at: datetime | None = None
    queue_paused: bool = False
    admit_per_minute: int = 100
    max_active_shoppers: int = 500
    shopping_window_minutes: int = 10
    transfers_allowed: bool = True
    waitlist_offer_minutes: int = 30
    refund_policy: list[dict[str, int]] = field(default_factory=list)


QUEUE_LIMITS = {
    "admit_per_minute": (1, 100_000),
    "max_active_shoppers": (1, 1_000_000),
    "shopping_window_minutes": (1, 120),
}
"""The waiting room's numeric knobs and their bounds (the event contract's bounds)."""


def event_validate(*, details: EventDetails, new: bool) -> None:
    """Raise :class:`InvalidInput` (field errors) unless ``details`` describe a sellable event."""
    _check_details(details, _venue(details.venue_id), new=new)


def _check_details(details: EventDetails, venue: Venue, *, new: bool) -> None:
    errors: dict[str, list[str]] = {}
    if not details.name.strip():
        errors["name"] = ["Give the event a name."]
    if details.ends_at <= details.starts_at:
        errors["ends_at"] = ["The event must end after it starts."]
    if new and details.starts_at <= timezone.now():
        errors["starts_at"] = ["The event must start in the future."]
    if details.sale_starts_at and details.sale_ends_at and details.sale_ends_at <= details.sale_starts_at:
        errors["sale_ends_at"] = ["Sales must end after they start."]
    if details.sale_ends_at and details.sale_ends_at > details.ends_at:
        errors["sale_ends_at"] = ["Sales cannot go on after the event has ended."]
    if len(details.currency) != 3 or not details.currency.isalpha() or not details.currency.isupper():
        errors["currency"] = ["Use a three-letter ISO 4217 code such as EUR."]
    if not 1 <= details.max_seats_per_booking <= 100:
        errors["max_seats_per_booking"] = ["Allow between 1 and 100 seats per booking."]
    limit = details.max_active_seats_per_buyer
    if limit is not None and not details.max_seats_per_booking <= limit <= MAX_ACTIVE_SEATS_PER_BUYER:
        errors["max_active_seats_per_buyer"] = [
            f"Allow one buyer at least the seats of one booking ({details.max_seats_per_booking}) "
            f"and at most {MAX_ACTIVE_SEATS_PER_BUYER}; leave it empty for twice the seats per booking."
        ]
    if not 1 <= details.hold_minutes <= settings.HOLD_MAX_MINUTES:
        errors["hold_minutes"] = [f"Hold seats between 1 and {settings.HOLD_MAX_MINUTES} minutes."]
    for name, (low, high) in QUEUE_LIMITS.items():
        if not low <= getattr(details, name) <= high:
            errors[name] = [f"Choose between {low} and {high}."]
    if details.queue_opens_at and not details.sale_starts_at:
        errors["queue_opens_at"] = ["A pre-queue needs a sale start to open before."]
    elif (
        details.queue_opens_at and details.sale_starts_at and details.queue_opens_at > details.sale_starts_at
    ):
        errors["queue_opens_at"] = ["The pre-queue must open before the sale starts."]
    try:
        parse_policy(details.refund_policy)
    except ValueError as error:  # pydantic's ValidationError is one
        errors["refund_policy"] = [_policy_problem(error)]
    bad_prices = [
        k for k, v in details.prices.items() if not isinstance(v, int) or isinstance(v, bool) or v < 0
    ]
    if bad_prices:
        errors["prices"] = [f"Prices are whole cents, zero or more; check {', '.join(sorted(bad_prices))}."]
    else:
        missing = validate_layout(venue.layout).categories - set(details.prices)
        if missing:
            errors["prices"] = [
                f"Give a price for every seat category of the venue: {', '.join(sorted(missing))}."
            ]
    if errors:
        raise _invalid(errors)


def _policy_problem(error: ValueError) -> str:
    """One sentence for a refused refund policy, naming the step at fault when pydantic does."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"Refund policy{f' step {where}' if where else ''}: {first['msg']}."
    return f"Refund policy: {error}."


def _venue(venue_id: str) -> Venue:
    venue = Venue.objects.filter(pk=venue_id).first()
    if venue is None:
        raise _invalid({"venue_id": ["No venue has this id."]})
    return venue


def event_create(*, details: EventDetails, publish: bool = False) -> Event:
    """Create an event as a draft (or publish it straight away)."""
    venue = _venue(details.venue_id)
    _check_details(details, venue, new=True)
    fields = asdict(details)
    fields.pop("venue_id")
    fields["refund_policy"] = [step.model_dump() for step in parse_policy(details.refund_policy)]
    with db.atomic(_db()):
        event = Event.objects.create(venue=venue, **fields)
    return event_publish(event_id=str(event.pk)) if publish else event


def event_update(*, event_id: str, details: EventDetails, status: str | None = None) -> Event:
    """Change an event; a published one announces the change to the other contexts.

    Once published, an event keeps its venue (and the seats people hold in it).
    """
    event = _event(event_id)
    venue = _venue(details.venue_id)
    if event.is_published and str(event.venue_id) != str(venue.pk):
        raise Conflict(
            "A published event cannot move to another venue.", details={"fields": {"venue_id": ["locked"]}}
        )
    _check_details(details, venue, new=False)
    if status is not None:
        # Refuse an impossible status before changing anything, so a 409 leaves no half-update.
        _check_transition(event, status)
    fields = asdict(details)
    fields.pop("venue_id")
    fields["refund_policy"] = [step.model_dump() for step in parse_policy(details.refund_policy)]
    with db.atomic(_db()):
        _save(event, venue_id=venue.pk, **fields)
        event = _event(event_id)
        if event.is_published:
            _announce(event, first=False)
    if status is not None and status != event.status:
        return event_set_status(event_id=event_id, status=status)
    return event


def event_change(*, event_id: str, changes: Mapping[str, Any], status: str | None = None) -> Event:
    """Change some of an event's details (``PATCH``): the others stay as they are.

    ``changes`` names :class:`EventDetails` fields; the result is validated and announced
    exactly like a full :func:`event_update`.
    """
    event = _event(event_id)
    unknown = set(changes) - {f.name for f in dataclass_fields(EventDetails)}
    if unknown:
        raise _invalid({name: ["Not a field of an event."] for name in sorted(unknown)})
    return event_update(event_id=event_id, details=replace(_details_of(event), **changes), status=status)


def event_queue_pause(*, event_id: str, paused: bool) -> Event:
    """Pause (or resume) an event's waiting room: while paused nobody more is let in."""
    return event_change(event_id=event_id, changes={"queue_paused": paused})


def event_publish(*, event_id: str) -> Event:
    """Put a draft event on sale: freeze its seating plan and announce it (``event.created``)."""
    event = _event(event_id)
    if event.is_published:
        raise Conflict("This event is already published.")
    venue = event.venue
    _check_details(_details_of(event), venue, new=False)
    with db.atomic(_db()):
        _save(event, status=EventStatus.ON_SALE, layout=venue.layout, published_at=timezone.now())
        event = _event(event_id)
        _announce(event, first=True)
    return event


def event_set_status(*, event_id: str, status: str) -> Event:
    """Move a published event between on sale, sold out and cancelled (a draft via publishing)."""
    event = _event(event_id)
    _check_transition(event, status)
    if status == event.status:
        return event
    if not event.is_published and status == EventStatus.ON_SALE:
        return event_publish(event_id=event_id)
    with db.atomic(_db()):
        _save(event, status=status)
        event = _event(event_id)
        if event.is_published:
            _announce(event, first=False)
    return event


def _check_transition(event: Event, status: str) -> None:
    """Raise unless ``event`` may move to ``status`` (staying where it is always may)."""
    if status not in EventStatus.values:
        raise _invalid({"status": [f"Choose one of {', '.join(EventStatus.values)}."]})
    if status == event.status:
        return
    if event.status == EventStatus.CANCELLED:
        raise Conflict("A cancelled event stays cancelled.")
    if status == EventStatus.DRAFT:
        # Other contexts already sell its seats; going back to draft would strand them.
        raise Conflict("A published event cannot go back to draft.")
    if not event.is_published and status == EventStatus.SOLD_OUT:
        raise Conflict("Publish the event before marking it sold out.")


def _event(event_id: str) -> Event:
    event = Event.objects.select_related("venue").filter(pk=event_id).first()
    if event is None:
        raise NotFound("No event has this id.")
    return event


def _save(event: Event, **changes: Any) -> None:
    """Apply ``changes`` if nobody changed the event since it was read."""
    updated = Event.objects.filter(pk=event.pk, version=event.version).update(
        **changes, updated_at=timezone.now(), version=F("version") + 1
    )
    if not updated:
        raise Conflict("Someone else changed this event meanwhile; reload it and try again.")


def _details_of(event: Event) -> EventDetails:
    return EventDetails(
        venue_id=str(event.venue_id),
        name=event.name,
        description=event.description,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        currency=event.currency,
        prices=event.prices,
        sale_starts_at=event.sale_starts_at,
        sale_ends_at=event.sale_ends_at,
        max_seats_per_booking=event.max_seats_per_booking,
        max_active_seats_per_buyer=event.max_active_seats_per_buyer,
        hold_minutes=event.hold_minutes,
        **_queue_settings(event),
        transfers_allowed=event.transfers_allowed,
        waitlist_offer_minutes=event.waitlist_offer_minutes,
        refund_policy=event.refund_policy or [],
    )


def _queue_settings(event: Event) -> dict[str, Any]:
    return {
        "queue_enabled": event.queue_enabled,
        "queue_opens_at": event.queue_opens_at,
        "queue_paused": event.queue_paused,
        "admit_per_minute": event.admit_per_minute,
        "max_active_shoppers": event.max_active_shoppers,
        "shopping_window_minutes": event.shopping_window_minutes,
    }


def _announce(event: Event, *, first: bool) -> None:
    """Emit the event's snapshot with the next revision (inside the caller's transaction)."""
    Event.objects.filter(pk=event.pk).update(revision=F("revision") + 1)
    revision = event.revision + 1
    snapshot_type = EventCreated if first else EventUpdated
    snapshot = snapshot_type(
        event_id=str(event.pk),
        name=event.name,
        venue_id=str(event.venue_id),
        venue_name=event.venue.name,
        timezone=event.venue.timezone,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        status=cast("SnapshotStatus", event.status),  # the same values as EventStatus
        sale_starts_at=event.sale_starts_at,
        sale_ends_at=event.sale_ends_at,
        currency=event.currency,
        prices=event.prices,
        max_seats_per_booking=event.max_seats_per_booking,
        max_active_seats_per_buyer=event.max_active_seats_per_buyer,
        hold_minutes=event.hold_minutes,
        layout=validate_layout(event.layout),
        revision=revision,
        **_queue_settings(event),
        transfers_allowed=event.transfers_allowed,
        waitlist_offer_minutes=event.waitlist_offer_minutes,
        refund_policy=parse_policy(event.refund_policy),
    )
    emit(snapshot, aggregate_id=str(event.pk), using=_db())
