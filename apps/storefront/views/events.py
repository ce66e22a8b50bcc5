"""The event listing and the event page with its live seat map."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.catalog.selectors import event_get, event_list, venue_list
from apps.inventory.selectors import availability, seat_map
from apps.storefront import seating
from apps.storefront.display import availability_badge, local, money, price_range, venue_zone
from apps.storefront.forms import EventFilterForm
from apps.storefront.views.htmx import HtmxRequest
from apps.storefront.views.waiting_room import shopping_until, waiting_room_gate

if TYPE_CHECKING:
    from apps.catalog.models import Event

EVENTS_PER_PAGE = 12
SEAT_REFRESH_SECONDS = 3


def _day(day: Any, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=zoneinfo.ZoneInfo("UTC"))


def _matching_events(form: EventFilterForm) -> QuerySet[Event]:
    """Upcoming events matching the search text (name, description or venue) and dates."""
    data = form.cleaned_data if form.is_valid() else {}
    dates: dict[str, Any] = {}  # starts_from / starts_until: datetimes
    if data.get("start"):
        dates["starts_from"] = _day(data["start"], time.min)
    if data.get("end"):
        # The end of that day, without stepping past 9999-12-31.
        dates["starts_until"] = _day(data["end"], time.max)
    text = (data.get("q") or "").strip()
    events = event_list(text=text or None, **dates)
    if text:
        needle = text.casefold()
        for venue in venue_list():
            if needle in venue.name.casefold():
                events = events | event_list(venue_id=str(venue.pk), **dates)
    return events


def event_card(event: Event, counts: dict[str, int]) -> dict[str, Any]:
    """What a listing card shows about one event."""
    zone = venue_zone(event.venue.timezone)
    return {
        "event": event,
        "starts": local(event.starts_at, zone),
        "badge": availability_badge(event, counts=counts),
        "price": price_range(event.prices or {}, event.currency),
        # A stable colour per event for its poster: one of 24 hues, a class in site.css (the
        # Content Security Policy allows no inline styles).
        "hue": event.pk.int % 24,
    }


@require_GET
def event_list_page(request: HtmxRequest) -> HttpResponse:
    """``/``: upcoming events, searchable by text and date, with prices and availability."""
    form = EventFilterForm(request.GET or None)
    page = Paginator(_matching_events(form), EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    counts = availability(event_ids=[str(event.pk) for event in page])
    cards = [event_card(event, counts[str(event.pk)]) for event in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "cards": cards,
        "query": query.urlencode(),
        "filtered": form.is_bound and form.is_valid() and any(form.cleaned_data.values()),
    }
    template = "storefront/_event_results.html" if request.htmx else "storefront/event_list.html"
    return render(request, template, context)


def _event_or_404(event_id: str) -> Event:
    event = event_get(event_id=event_id)
    if event is None:
        raise Http404("No such event.")
    return event


@require_GET
def event_page(request: HttpRequest, event_id: str) -> HttpResponse:
    """``/events/<id>``: the event and its interactive seat map."""
    event = _event_or_404(event_id)
    if gate := waiting_room_gate(request, event):
        return gate
    seats_now = seat_map(event_id=str(event.pk))
    seats = seating.ordered_seats(layout=event.layout, seats=seats_now["seats"]) if seats_now else []
    mine = seating.my_seat_ids(user=request.user, event_id=str(event.pk))
    card = event_card(event, seats_now["counts"] if seats_now else {})
    zone = venue_zone(event.venue.timezone)
    known = {seat["id"] for seat in seats}
    wanted = [seat_id for seat_id in request.GET.get("seats", "").split(",") if seat_id in known]
    context = {
        **card,
        "ends": local(event.ends_at, zone),
        "sale_starts": local(event.sale_starts_at, zone) if event.sale_starts_at else None,
        "plan": seating.plan(
            seats=seats,
            prices=event.prices or {},
            currency=event.currency,
            mine=mine,
            max_seats=event.max_seats_per_booking,
        )
        if seats
        else None,
        "preselect": wanted[: event.max_seats_per_booking],
        "refresh_seconds": SEAT_REFRESH_SECONDS,
        "shopping_until": shopping_until(request, event),
        "zero": money(0, event.currency),
    }
    return render(request, "storefront/event_detail.html", context)


@require_GET
def event_seat_states(request: HttpRequest, event_id: str) -> JsonResponse:
    """``/events/<id>/seats``: one state letter per seat, in the seat map's order (live refresh)."""
    event = _event_or_404(event_id)
    seats_now = seat_map(event_id=str(event.pk))
    if seats_now is None:
        raise Http404("No seats are on sale for this event.")
    seats = seating.ordered_seats(layout=event.layout, seats=seats_now["seats"])
    mine = seating.my_seat_ids(user=request.user, event_id=str(event.pk))
    response = JsonResponse(
        {
            "states": seating.states(seats, mine),
            "available": seats_now["counts"].get("AVAILABLE", 0),
            "at": timezone.now().isoformat(),
        }
    )
    # Personal ("yours") and live: never cached by a browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response
