"""The waiting room page, and the gate that sends buyers there while an event's queue is on.

The page shows the buyer's place, an estimated wait and a progress bar. With JavaScript it
long-polls the queue API and counts the estimate down; without, it refreshes itself. Once
admitted, the admission token is kept in the buyer's session and the buyer goes straight
to the seat map, which shows what is left of the shopping window; checkout hands the token
to the booking.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.catalog.selectors import event_get
from apps.waitingroom import services as waitingroom
from ticketflow import admission_tokens
from ticketflow.errors import NotFound

if TYPE_CHECKING:
    from apps.catalog.models import Event

NO_SCRIPT_REFRESH_SECONDS = 10
LONG_POLL_SECONDS = 50  # under the 60 s idle timeout of common proxies


def _token_key(event_id: str) -> str:
    return f"queue-token:{event_id}"


def _start_key(event_id: str) -> str:
    return f"queue-start:{event_id}"


def queue_token(request: HttpRequest, event_id: str) -> str | None:
    """The buyer's admission token for the event, from the session, if it is still good."""
    token = request.session.get(_token_key(event_id))
    if not token or not request.user.is_authenticated:
        return None
    admission = admission_tokens.read(token)
    if (
        admission is None
        or admission.user_id != str(request.user.pk)
        or admission.event_id != str(event_id)
        or admission.expires_at <= time.time()
    ):
        return None
    return token


def shopping_until(request: HttpRequest, event: Event) -> datetime | None:
    """When the buyer's shopping window for a queued event ends (None: not admitted, or no queue)."""
    if not event.queue_enabled:
        return None
    token = queue_token(request, str(event.pk))
    admission = admission_tokens.read(token) if token else None
    if admission is None:
        return None
    return datetime.fromtimestamp(admission.expires_at, tz=UTC)


def waiting_room_gate(request: HttpRequest, event: Event) -> HttpResponse | None:
    """A redirect to the waiting room while the event's queue is on and the buyer is not admitted."""
    if not event.queue_enabled or queue_token(request, str(event.pk)):
        return None
    return redirect("storefront:waiting-room", event_id=event.pk)


@login_required
@require_http_methods(["GET", "POST"])
def waiting_room_page(request: HttpRequest, event_id: str) -> HttpResponse:
    """``/events/<id>/queue``: your place in line; POST ``join`` or ``leave``."""
    event = event_get(event_id=event_id)
    if event is None:
        raise Http404("No such event.")
    key = str(event.pk)
    user_id = str(request.user.pk)
    if request.method == "POST":
        if request.POST.get("action") == "leave":
            waitingroom.queue_leave(event_id=key, user_id=user_id)
            request.session.pop(_token_key(key), None)
            request.session.pop(_start_key(key), None)
            return redirect("storefront:event-list")
        try:
            joined = waitingroom.queue_join(event_id=key, user_id=user_id)
        except NotFound:
            raise Http404("This event has no waiting room.") from None
        if joined.position:
            request.session.setdefault(_start_key(key), joined.position)
        return redirect("storefront:waiting-room", event_id=key)

    if not event.queue_enabled:
        return redirect("storefront:event-detail", event_id=key)
    try:
        place = waitingroom.queue_status(event_id=key, user_id=user_id)
    except NotFound:
        place = None
    if place is not None and place.status == "admitted" and place.token:
        request.session[_token_key(key)] = place.token
        request.session.pop(_start_key(key), None)
        return redirect("storefront:event-detail", event_id=key)
    start = max(request.session.get(_start_key(key)) or 0, place.position or 0) if place else 0
    ahead = (place.position or 1) - 1 if place else 0
    context = {
        "event": event,
        "place": place,
        "ahead": ahead,
        "progress_max": max(start, 1),
        "progress_value": max(start - (place.position or start), 0) if place else 0,
        "refresh_seconds": NO_SCRIPT_REFRESH_SECONDS,
        "long_poll_seconds": LONG_POLL_SECONDS,
    }
    response = render(request, "storefront/waiting_room.html", context)
    response["Cache-Control"] = "no-store"
    return response
