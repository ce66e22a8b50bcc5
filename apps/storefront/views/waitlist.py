"""The waiting-list page of a sold-out event: join, see your place, get your offer, leave.

It works without JavaScript: every action is a form POST answered by a redirect back here,
and the page refreshes itself while you wait. When seats are offered to you, it lists
them with the price and the offer's end, and "Book these seats" goes to checkout with the
offer's token, which lets the booking take the seats kept for you.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.catalog.selectors import event_get
from apps.inventory import waitlist
from apps.inventory.selectors import seat_map
from apps.storefront.display import local, money, venue_zone
from ticketflow.errors import ApplicationError
from ticketflow.permissions import signed_in

NO_SCRIPT_REFRESH_SECONDS = 30


def offer_checkout_url(event_id: str, place: waitlist.Place) -> str:
    """Checkout with the offered seats chosen and the offer's token attached."""
    query = [("seat", str(seat.id)) for seat in place.offered_seats] + [("offer", place.offer_token or "")]
    return f"{reverse('storefront:checkout', args=[event_id])}?{urlencode(query)}"


@login_required
@require_http_methods(["GET", "POST"])
def waitlist_page(request: HttpRequest, event_id: str) -> HttpResponse:
    """``/events/<id>/waitlist``: your place on the list; POST ``action=join`` or ``action=leave``."""
    event = event_get(event_id=event_id)
    seats_now = seat_map(event_id=event_id) if event is not None else None
    if event is None or seats_now is None:
        raise Http404("No such event.")
    here = reverse("storefront:waitlist", args=[event.pk])
    if request.method == "POST":
        try:
            if request.POST.get("action") == "leave":
                waitlist.waitlist_leave(event_id=str(event.pk), user_id=str(request.user.pk))
                messages.info(request, "You have left the waiting list.")
            else:
                waitlist.waitlist_join(
                    event_id=str(event.pk),
                    buyer=waitlist.Buyer(
                        user_id=str(request.user.pk),
                        email=signed_in(request.user).email,
                        name=signed_in(request.user).get_full_name() or signed_in(request.user).email,
                    ),
                    quantity=_number(request.POST.get("quantity")),
                    section=request.POST.get("section", "").strip(),
                )
                messages.success(
                    request, "You are on the waiting list. We will email you when seats come back."
                )
        except ApplicationError as error:
            messages.error(request, error.message)
        return redirect(here)
    place = waitlist.waitlist_place(event_id=str(event.pk), user_id=str(request.user.pk))
    zone = venue_zone(event.venue.timezone)
    context: dict[str, Any] = {
        "event": event,
        "starts": local(event.starts_at, zone),
        "place": place,
        "sections": sorted({seat["section"] for seat in seats_now["seats"]}),
        "quantities": range(1, event.max_seats_per_booking + 1),
        "available": seats_now["counts"].get("AVAILABLE", 0),
        "offer_minutes": event.waitlist_offer_minutes,
        "refresh_seconds": NO_SCRIPT_REFRESH_SECONDS,
    }
    if place is not None and place.offer_token is not None:
        context["offer"] = {
            "seats": [
                {
                    "label": f"{seat.section}, row {seat.row}, seat {seat.number}",
                    "price": money(seat.price_cents, event.currency),
                }
                for seat in place.offered_seats
            ],
            "total": money(sum(seat.price_cents for seat in place.offered_seats), event.currency),
            "expires_at": place.entry.offer_expires_at,
            "checkout_url": offer_checkout_url(str(event.pk), place),
        }
    return render(request, "storefront/waitlist.html", context)


def _number(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0
