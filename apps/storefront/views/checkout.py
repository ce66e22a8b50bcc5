"""Checkout: the chosen seats, the total and the card, then the same booking saga as the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.bookings.services import Buyer, booking_create
from apps.catalog.selectors import event_get
from apps.inventory.selectors import seat_map
from apps.storefront import seating
from apps.storefront.display import availability_badge, local, money, refund_terms, venue_zone
from apps.storefront.forms import TEST_CARDS, CheckoutForm, new_checkout_token
from apps.storefront.views.waiting_room import queue_token, waiting_room_gate
from ticketflow import waitlist_offers
from ticketflow.errors import ApplicationError
from ticketflow.permissions import signed_in
from ticketflow.ratelimit import consume, requester_key

if TYPE_CHECKING:
    from apps.catalog.models import Event

# Availability badges under which nothing can be bought (sold out is left to the seats themselves).
CLOSED = ("cancelled", "ended", "soon", "closed")
# Service error codes -> the field the buyer should look at.
_FIELD_OF = {"seat_ids": "seat", "payment_method": "payment_method"}
# Refusals of the whole order (not of a field), answered with their own status for scripts.
_LIMITS = {"purchase_limit_reached", "too_many_unpaid_bookings", "booking_in_progress"}


def seat_label(seat: dict[str, Any]) -> str:
    return f"{seat['section']}, row {seat['row']}, seat {seat['number']}"


def stripe_publishable_key() -> str:
    """The key for Stripe Elements, only when payments really go to Stripe."""
    options = settings.PAYMENTS
    return options.get("STRIPE_PUBLISHABLE_KEY") or "" if options.get("PROVIDER") == "stripe" else ""


def _event_or_404(event_id: str) -> Event:
    event = event_get(event_id=event_id)
    if event is None:
        raise Http404("No such event.")
    return event


def _offer(request: HttpRequest, event_id: str) -> waitlist_offers.Offer | None:
    """The buyer's waiting-list offer for this event, if the checkout carries a good one."""
    token = request.POST.get("offer") or request.GET.get("offer")
    if not token:
        return None
    offer = waitlist_offers.read(token)
    if offer is None or offer.user_id != str(request.user.pk) or offer.event_id != event_id:
        return None
    return offer


def _taken(names: str) -> str:
    return f"Sorry, someone else has just taken {names}. Choose another seat and try again."


def _explain(form: CheckoutForm, error: ApplicationError, seats: dict[str, dict[str, Any]]) -> None:
    """Put a service's refusal on the form, in the buyer's words, keeping the selection."""
    if error.code == "seats_unavailable":
        # Turned away at the door: name the seats someone else has.
        taken = [
            seats[seat_id] for seat_id in error.details.get("unavailable_seat_ids", ()) if seat_id in seats
        ]
        form.add_error("seat", _taken("; ".join(seat_label(seat) for seat in taken) or "one of your seats"))
        return
    if error.code in _LIMITS:
        # The buyer's words already; the order stays on the page for after they act on it.
        form.add_error(None, error.message)
        return
    if error.code == "idempotency_key_reused":
        # The form's token already placed a booking; a new one lets the buyer decide again.
        data = cast(QueryDict, form.data).copy()  # the form is bound to request.POST here
        data["token"] = new_checkout_token()
        form.data = data
        form.add_error(
            None,
            "This checkout was already submitted with other details. Check My bookings, "
            "or press Pay again to place a new booking.",
        )
        return
    fields = error.details.get("fields") or {}
    placed = False
    for name, problems in fields.items():
        if _FIELD_OF.get(name) and error.code != "unknown_seats":
            for problem in problems:
                form.add_error(_FIELD_OF[name], problem)
            placed = True
    if error.code == "unknown_seats":
        form.add_error(
            "seat",
            "Some of the seats in your order are not part of this event. Please choose your seats again.",
        )
    elif not placed:
        form.add_error(None, error.message)


@login_required
@require_http_methods(["GET", "POST"])
def checkout_page(request: HttpRequest, event_id: str) -> HttpResponse:
    """``/events/<id>/checkout``: review and pay; POST starts the booking and shows its progress.

    Every POST counts against the same ``booking`` rate limit as ``POST /api/bookings``, one
    counter per account; a refused one shows the order again with a 429 and Retry-After.
    A booking the door refuses for a purchase limit shows the order with the reason (409).
    """
    throttle = consume(request, "booking", requester_key(request)) if request.method == "POST" else None
    event = _event_or_404(event_id)
    offer = _offer(request, str(event.pk))
    if offer is None and (gate := waiting_room_gate(request, event)):
        return gate
    seats_now = seat_map(event_id=str(event.pk))
    if seats_now is None:
        raise Http404("No seats are on sale for this event yet.")
    by_id = {seat["id"]: seat for seat in seats_now["seats"]}
    stripe_key = stripe_publishable_key()
    form = _checkout_form(request, seats=by_id, max_seats=event.max_seats_per_booking, stripe_key=stripe_key)
    valid = form.is_valid()
    badge = availability_badge(event, counts=seats_now["counts"])
    if badge.key in CLOSED:
        form.add_error(None, f"Tickets for this event are not on sale ({badge.label.lower()}).")
    chosen = [by_id[seat_id] for seat_id in form.cleaned_data["seat"]] if "seat" in form.cleaned_data else []
    mine = seating.my_seat_ids(user=request.user, event_id=str(event.pk))
    if offer is not None:
        mine |= set(offer.seat_ids)  # kept for this buyer by the waiting list
    taken = [seat for seat in chosen if seating.state_of(seat, mine) in (seating.HELD, seating.SOLD)]

    status, headers = 200, {}
    if throttle is not None and not throttle.allowed:
        status, headers = 429, {"Retry-After": str(throttle.retry_after)}
        form.add_error(None, _too_fast(throttle.retry_after))
    elif taken:
        # A hint, not the judge: inventory decides in the saga. It saves a doomed booking.
        form.add_error("seat", _taken("; ".join(seat_label(seat) for seat in taken)))
    elif request.method == "POST" and valid and badge.key not in CLOSED:
        placed = _book(request, event, form, seats=by_id)
        if isinstance(placed, HttpResponse):
            return placed
        status = placed
    if request.method == "GET":
        # Only the selection is the buyer's to fix on arrival; the card is chosen below.
        form.errors.pop("payment_method", None)

    context = _order(event, form, chosen=chosen, taken=taken, closed=badge.key in CLOSED)
    context.update(stripe_key=stripe_key, limit_reached=status == 409)
    response = render(request, "storefront/checkout.html", context, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _checkout_form(
    request: HttpRequest, *, seats: dict[str, dict[str, Any]], max_seats: int, stripe_key: str
) -> CheckoutForm:
    """The order as posted, or as the seat map sent it here (with a fresh token and the first test card)."""
    data: QueryDict | dict[str, Any] = request.POST
    if request.method != "POST":
        data = {
            "seat": request.GET.getlist("seat"),
            "token": new_checkout_token(),
            "offer": request.GET.get("offer", ""),
            "payment_method": "" if stripe_key else TEST_CARDS[0][0],
        }
    return CheckoutForm(data, seat_ids=seats, max_seats=max_seats, test_cards=not stripe_key)


def _too_fast(retry_after: int) -> str:
    return (
        "You are placing bookings faster than we allow. Your seats are still selected: wait "
        f"{retry_after} second{'s' * (retry_after != 1)}, then press Pay again."
    )


def _book(
    request: HttpRequest, event: Event, form: CheckoutForm, *, seats: dict[str, dict[str, Any]]
) -> HttpResponse | int:
    """Start the booking: the redirect to its page, or the status to show the refused order with."""
    user = signed_in(request.user)
    try:
        booking, _ = booking_create(
            buyer=Buyer(user_id=str(user.pk), email=user.email, name=user.get_full_name() or user.email),
            event_id=str(event.pk),
            seat_ids=form.cleaned_data["seat"],
            payment_method=form.cleaned_data["payment_method"],
            idempotency_key=form.cleaned_data["token"],
            queue_token=queue_token(request, str(event.pk)),
            waitlist_offer=form.cleaned_data.get("offer") or None,
        )
    except ApplicationError as error:
        _explain(form, error, seats)
        return error.status_code if error.code in _LIMITS else 200
    return redirect("storefront:booking-detail", booking_id=booking.pk)


def _order(
    event: Event,
    form: CheckoutForm,
    *,
    chosen: list[dict[str, Any]],
    taken: list[dict[str, Any]],
    closed: bool,
) -> dict[str, Any]:
    """What the checkout page shows of the order: its lines, total, terms and where to change it."""
    still_free = [seat["id"] for seat in chosen if seat not in taken]
    change_url = reverse("storefront:event-detail", args=[event.pk])
    if still_free:
        change_url += "?seats=" + ",".join(still_free)
    zone = venue_zone(event.venue.timezone)
    total = sum(seat["price_cents"] for seat in chosen)
    return {
        "event": event,
        "starts": local(event.starts_at, zone),
        "form": form,
        "lines": [
            {"seat": seat, "label": seat_label(seat), "price": money(seat["price_cents"], event.currency)}
            for seat in chosen
        ],
        "total": money(total, event.currency),
        "can_pay": bool(chosen) and not form.has_error("seat") and not closed,
        "change_url": change_url,
        "test_cards": TEST_CARDS,
        "hold_minutes": event.hold_minutes,
        "refund_terms": refund_terms(policy=event.refund_policy, starts_at=event.starts_at, zone=zone),
    }
