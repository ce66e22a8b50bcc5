"""The buyer's bookings: the live status page, the list, and cancelling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from apps.bookings import status_feed
from apps.bookings.models import BookingStatus
from apps.bookings.selectors import booking_get, booking_list_for_user, booking_refund_percent
from apps.bookings.services import booking_cancel
from apps.catalog.selectors import event_get
from apps.inventory.selectors import seat_map
from apps.payments.selectors import payment_action_for_booking
from apps.storefront.display import failure_outcome, local, money, refund_terms, venue_zone
from apps.storefront.tickets_pdf import TicketPage, tickets_pdf
from apps.storefront.views.checkout import stripe_publishable_key
from apps.storefront.views.htmx import HtmxRequest
from ticketflow import longpoll
from ticketflow.errors import Conflict, InvalidInput, NotFound
from ticketflow.messaging.refund_policy import refund_cents

if TYPE_CHECKING:
    from apps.bookings.models import Booking, BookingCancellation

BOOKINGS_PER_PAGE = 10
STATUS_WAIT_SECONDS = 20  # each long poll of the live page; under the proxies' usual 30-60 s
# While a Stripe payment is under way and its 3-D Secure action not known yet, the page asks
# again quickly: the action is recorded by payments, which does not change the booking.
PAYMENT_STEP_WAIT_SECONDS = 2
IN_FLIGHT = (BookingStatus.PENDING, BookingStatus.SEATS_LOCKED)

_STEP_LABELS = {
    "requested": "Booking requested",
    "seats.locked": "Seats held for you",
    "seats.lock-failed": "Seats not available",
    "booking.confirmed": "Booking confirmed",
    "booking.cancelled": "Booking cancelled",
    "booking.seats-cancelled": "Seats cancelled",
    "hold.expired": "Hold ran out",
    "payment.refunded": "Refund issued",
    "tickets.issued": "Tickets issued",
    "tickets.revoked": "Tickets cancelled",
    "ticket.scanned": "Ticket scanned at the door",
}
# Steps whose detail the buyer reads on the timeline: which seat a scan was, which seats were
# cancelled and what was refunded.
_DETAILED_STEPS = frozenset({"ticket.scanned", "booking.seats-cancelled", "payment.refunded"})
_TICKET_STATUS = {
    "valid": "Valid",
    "checked_in": "Checked in",
    "revoked": "Cancelled",
    "transferred": "Transferred",
}


def _step_label(step: str, status: str) -> str:
    if step == "payment.processed":
        return {
            BookingStatus.CONFIRMED.value: "Payment received",
            BookingStatus.FAILED.value: "Payment declined",
        }.get(status, "Payment processed")
    return _STEP_LABELS.get(step, step.replace(".", " ").replace("-", " ").capitalize())


def _booking_or_404(request: HttpRequest, booking_id: str) -> Booking:
    """The signed-in buyer's booking; anyone else's (or none) is a plain 404."""
    booking = booking_get(booking_id=booking_id, user_id=str(request.user.pk))
    if booking is None:
        raise Http404("No booking of yours has this id.")
    return booking


def _seat_lines(booking: Booking, *, refund_percent: int | None = None) -> list[dict[str, str]]:
    """The booking's seats with prices once held; before that, named from the seat map.

    With ``refund_percent``, each held seat also says what cancelling it now refunds.
    """
    if booking.seats:
        return [
            {
                "seat_id": seat["seat_id"],
                "label": _seat_label(seat),
                "price": money(seat.get("price_cents"), booking.currency),
                "refund": ""
                if refund_percent is None
                else money(
                    refund_cents(amount_cents=seat["price_cents"], percent=refund_percent), booking.currency
                ),
            }
            for seat in booking.seats
        ]
    known = {
        seat["id"]: seat for seat in (seat_map(event_id=str(booking.event_id)) or {"seats": []})["seats"]
    }
    lines = []
    for seat_id in booking.seat_ids:
        seat = known.get(str(seat_id))
        label = f"{seat['section']}, row {seat['row']}, seat {seat['number']}" if seat else "Seat"
        lines.append({"label": label, "price": money(seat["price_cents"], booking.currency) if seat else ""})
    return lines


def _seat_label(seat: dict[str, Any]) -> str:
    return f"{seat['section']}, row {seat['row']}, seat {seat['number']}"


def _tickets(booking: Booking) -> list[dict[str, str]]:
    """The booking's tickets in its seat order, each with the seat it admits to.

    Seats cancelled from the booking are listed as cancelled seats, not as tickets.
    """
    seats = {seat["seat_id"]: (index, _seat_label(seat)) for index, seat in enumerate(booking.seats)}
    issued = [ticket for ticket in booking.tickets.all() if ticket.secret and ticket.seat_id in seats]
    tickets = sorted(issued, key=lambda t: seats.get(t.seat_id, (len(seats), ""))[0])
    return [
        {
            "id": str(ticket.pk),
            "seat": seats.get(ticket.seat_id, (0, "Seat"))[1],
            "secret": ticket.secret,
            "status": ticket.status,
            "status_label": _TICKET_STATUS.get(ticket.status, ticket.status),
        }
        for ticket in tickets
    ]


def _cancelled_lines(booking: Booking) -> list[dict[str, str]]:
    """The seats partial cancellations took out of the booking, oldest first, with their prices."""
    lines: list[dict[str, str]] = []
    for cancellation in booking.cancellations.all():
        if not cancellation.partial:
            continue
        lines.extend(
            {"label": _seat_label(seat), "price": money(seat["price_cents"], booking.currency)}
            for seat in cancellation.seats
        )
    return lines


def _can_cancel_seats(booking: Booking) -> bool:
    """Seats may be cancelled one by one: a confirmed booking of two or more, before the start."""
    return (
        booking.status == BookingStatus.CONFIRMED
        and len(booking.seats) >= 2
        and booking.event_starts_at > timezone.now()
    )


def _awaiting_tickets(booking: Booking) -> bool:
    """Confirmed, and checkin's tickets not here yet: the page keeps polling for them."""
    return booking.status == BookingStatus.CONFIRMED and not any(t.secret for t in booking.tickets.all())


def booking_context(request: HttpRequest, booking: Booking) -> dict[str, Any]:
    """Everything the booking page and its live status partial show."""
    event = event_get(event_id=str(booking.event_id), include_drafts=True)
    zone = venue_zone(event.venue.timezone if event else None)
    status = booking.status
    outcome = (
        failure_outcome(status=status, code=booking.failure_code, reason=booking.failure_reason)
        if status in (BookingStatus.FAILED, BookingStatus.EXPIRED)
        else None
    )
    retry_url = ""
    if outcome and outcome.retry and event is not None:
        retry_url = (
            reverse("storefront:event-detail", args=[event.pk])
            + "?seats="
            + ",".join(str(seat_id) for seat_id in booking.seat_ids)
        )
    stripe_key = stripe_publishable_key()
    action = (
        payment_action_for_booking(booking_id=str(booking.pk), viewer_id=str(request.user.pk))
        if status == BookingStatus.SEATS_LOCKED and stripe_key
        else None
    )
    paying_at_stripe = status == BookingStatus.SEATS_LOCKED and bool(stripe_key) and action is None
    can_cancel_seats = _can_cancel_seats(booking)
    # Read only where the seat checkboxes show it: the live partial renders this on every poll.
    refund_percent_now = booking_refund_percent(booking=booking) if can_cancel_seats and booking.paid else 0
    cancelled_lines = _cancelled_lines(booking)
    return {
        "booking": booking,
        "event": event,
        "payment_action": action,
        "stripe_key": stripe_key,
        "starts": local(booking.event_starts_at, zone),
        "lines": _seat_lines(booking, refund_percent=refund_percent_now if can_cancel_seats else None),
        "cancelled_lines": cancelled_lines,
        "can_cancel_seats": can_cancel_seats,
        "refund_percent_now": refund_percent_now,
        "total": money(booking.total_cents, booking.currency) if booking.total_cents is not None else "",
        "outcome": outcome,
        "retry_url": retry_url,
        "polling": status in IN_FLIGHT or _awaiting_tickets(booking),
        "tickets": _tickets(booking),
        "awaiting_tickets": _awaiting_tickets(booking),
        "wait_seconds": PAYMENT_STEP_WAIT_SECONDS if paying_at_stripe else STATUS_WAIT_SECONDS,
        "stage": {BookingStatus.PENDING.value: 1, BookingStatus.SEATS_LOCKED.value: 2}.get(status, 3),
        "can_cancel": not booking.is_terminal and booking.event_starts_at > timezone.now(),
        "can_transfer": booking.status == BookingStatus.CONFIRMED
        and booking.event_starts_at > timezone.now(),
        "refund_terms": refund_terms(
            policy=event.refund_policy if event else [], starts_at=booking.event_starts_at, zone=zone
        ),
        "refunded": money(booking.refund_cents, booking.currency) if booking.refund_cents is not None else "",
        "refunded_for_seats": bool(cancelled_lines) and status != BookingStatus.CANCELLED,
        "steps": [
            {
                "label": _step_label(step.step, step.status),
                "at": local(step.at, zone),
                "status": step.status,
                # A scan's detail names the seat and the answer: the buyer's scan log per ticket.
                "detail": step.detail if step.step in _DETAILED_STEPS else "",
            }
            for step in booking.steps.all()
        ],
    }


@login_required
@require_GET
def booking_page(request: HttpRequest, booking_id: str) -> HttpResponse:
    """``/bookings/<id>``: the booking, following its saga live until it settles."""
    booking = _booking_or_404(request, booking_id)
    return render(request, "storefront/booking_detail.html", booking_context(request, booking))


@require_GET
def booking_status_partial(request: HtmxRequest, booking_id: str) -> HttpResponse:
    """The live part of the booking page, as a long poll on the status the page shows.

    Asked with ``?status=X&wait=S``, it answers once the booking leaves X, or after S
    seconds; the page swaps the answer in and asks again. Behind the ASGI server the wait
    holds no thread (``ticketflow.longpoll``).
    """
    if not request.user.is_authenticated:
        login = (
            reverse("storefront:login") + "?next=" + reverse("storefront:booking-detail", args=[booking_id])
        )
        return HttpResponseClientRedirect(login) if request.htmx else redirect(login)
    booking = _booking_or_404(request, booking_id)
    seen = request.GET.get("v")
    asked = request.GET.get("wait", "")
    wait = min(int(asked), STATUS_WAIT_SECONDS) if asked.isdigit() else (STATUS_WAIT_SECONDS if asked else 0)
    waiting = booking.status in IN_FLIGHT or _awaiting_tickets(booking)
    if wait and waiting and seen == str(booking.version) and not longpoll.waited(request):
        if longpoll.deferrable(request):
            response = render(request, "storefront/_booking_status.html", booking_context(request, booking))
            return longpoll.defer(
                response, channel=status_feed.version_channel(booking_id), seen=seen, seconds=wait
            )
        status_feed.wait_for_new_version(booking_id, seen, wait)
        booking = _booking_or_404(request, booking_id)
    return render(request, "storefront/_booking_status.html", booking_context(request, booking))


@login_required
@require_GET
def booking_tickets_pdf(request: HttpRequest, booking_id: str) -> HttpResponse:
    """``/bookings/<id>/tickets.pdf``: one page per ticket with its QR code, to print or keep."""
    booking = _booking_or_404(request, booking_id)
    tickets = [t for t in _tickets(booking) if t["status"] not in ("revoked", "transferred")]
    if booking.status != BookingStatus.CONFIRMED or not tickets:
        raise Http404("This booking has no tickets to download.")
    event = event_get(event_id=str(booking.event_id), include_drafts=True)
    starts = local(booking.event_starts_at, venue_zone(event.venue.timezone if event else None))
    pages = [
        TicketPage(
            event_name=booking.event_name,
            when=f"{starts:%A %-d %B %Y, %H:%M} ({starts.tzname()})",
            venue=booking.venue_name,
            seat=ticket["seat"],
            reference=booking.reference,
            holder=booking.customer_name,
            ticket_id=ticket["id"],
            secret=ticket["secret"],
        )
        for ticket in tickets
    ]
    response = HttpResponse(
        tickets_pdf(pages, title=f"Tickets {booking.reference}"), content_type="application/pdf"
    )
    filename = f"tickets-{slugify(booking.reference)}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def booking_list_page(request: HttpRequest) -> HttpResponse:
    """``/bookings``: the buyer's bookings, newest first."""
    page = Paginator(booking_list_for_user(user_id=str(request.user.pk)), BOOKINGS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    zones: dict[str, Any] = {}
    rows = []
    for booking in page:
        key = str(booking.event_id)
        if key not in zones:
            event = event_get(event_id=key, include_drafts=True)
            zones[key] = venue_zone(event.venue.timezone if event else None)
        rows.append(
            {
                "booking": booking,
                "starts": local(booking.event_starts_at, zones[key]),
                "seats": len(booking.seats or booking.seat_ids),
                "total": money(booking.total_cents, booking.currency)
                if booking.total_cents is not None
                else "",
                "upcoming": booking.event_starts_at > timezone.now(),
            }
        )
    return render(request, "storefront/booking_list.html", {"page": page, "rows": rows})


def _refund_words(cancellation: BookingCancellation, currency: str) -> str:
    """What a cancellation refunds, per the event's refund policy."""
    if not cancellation.refund_cents:
        return " Under the event's refund policy, no refund is due."
    if cancellation.partial:
        paid_for = "its price" if len(cancellation.seat_ids) == 1 else "their price"
    else:
        paid_for = "your payment"
    if cancellation.refund_percent == 100:
        return f" {paid_for.capitalize()} will be refunded in full."
    return f" {money(cancellation.refund_cents, currency)} of {paid_for} will be refunded."


def _chosen_seats(request: HttpRequest, booking: Booking) -> list[dict[str, Any]] | None:
    """The seats the buyer picked to cancel (``?seat=``, in booking order); None for the whole booking.

    Raises :class:`InvalidInput` when the pick is empty or names a seat the booking does not hold.
    """
    wanted = request.GET.getlist("seat")
    if not wanted and request.GET.get("partial") is None:
        return None
    if not wanted:
        raise InvalidInput("Choose the seats to cancel first.")
    chosen = [seat for seat in booking.seats if seat["seat_id"] in set(wanted)]
    if len(chosen) != len(set(wanted)):
        raise InvalidInput("Some of those seats are not in this booking any more; choose again.")
    return None if len(chosen) == len(booking.seats) else chosen


@login_required
@require_http_methods(["GET", "POST"])
def booking_cancel_page(request: HttpRequest, booking_id: str) -> HttpResponse:
    """``/bookings/<id>/cancel``: GET asks to confirm; POST cancels with ``booking_cancel``.

    With ``?seat=<id>`` (the booking page's seat checkboxes) it is about those seats of a
    confirmed booking only; their ids are posted back as ``seat``.
    """
    booking = _booking_or_404(request, booking_id)
    detail = redirect("storefront:booking-detail", booking_id=booking.pk)
    if request.method == "POST":
        seat_ids = request.POST.getlist("seat") or None
        try:
            cancelled = booking_cancel(
                booking_id=str(booking.pk), user_id=str(request.user.pk), seat_ids=seat_ids
            )
        except NotFound:
            raise Http404("No booking of yours has this id.") from None
        except (Conflict, InvalidInput) as error:
            messages.error(request, error.message)
        else:
            cancellation = cancelled.cancellations.order_by("created_at", "id").last()
            refund = (
                _refund_words(cancellation, cancelled.currency) if cancelled.paid and cancellation else ""
            )
            if cancellation is not None and cancellation.partial:
                count = len(cancellation.seat_ids)
                which = f"{count} seat{'s' * (count != 1)} of booking {booking.reference}"
                messages.success(
                    request, f"{which} {'is' if count == 1 else 'are'} cancelled and back on sale.{refund}"
                )
            else:
                messages.success(
                    request,
                    f"Booking {booking.reference} is cancelled and its seats are back on sale.{refund}",
                )
        return detail
    if booking.is_terminal:
        messages.error(
            request,
            f"This booking is already {booking.get_status_display().lower()}; there is nothing to cancel.",
        )
        return detail
    try:
        chosen = _chosen_seats(request, booking)
    except InvalidInput as error:
        messages.error(request, error.message)
        return detail
    context = booking_context(request, booking)
    percent = booking_refund_percent(booking=booking)
    price = booking.total_cents or 0
    if chosen is not None:
        price = sum(seat["price_cents"] for seat in chosen)
        context["chosen"] = [{"seat_id": seat["seat_id"], "label": _seat_label(seat)} for seat in chosen]
        context["chosen_price"] = money(price, booking.currency)
        context["held"] = len(booking.seats)
    context["refund_percent"] = percent
    context["refund_now"] = money(refund_cents(amount_cents=price, percent=percent), booking.currency)
    return render(request, "storefront/booking_cancel.html", context)
