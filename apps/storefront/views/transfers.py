"""Ticket transfers on the site: the owner's form on a booking, the recipient's accept page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.bookings.selectors import transfer_list_received
from apps.bookings.services import Buyer, transfer_accept, transfer_request
from apps.storefront.views.bookings import _booking_or_404, _tickets, booking_context
from ticketflow.errors import ApplicationError, NotFound
from ticketflow.permissions import signed_in


@login_required
@require_http_methods(["GET", "POST"])
def booking_transfer_page(request: HttpRequest, booking_id: str) -> HttpResponse:
    """``/bookings/<id>/transfer``: pick valid tickets and an address; POST offers them."""
    booking = _booking_or_404(request, booking_id)
    context = booking_context(request, booking)
    context["transferable"] = [t for t in _tickets(booking) if t["status"] == "valid"]
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        try:
            transfer_request(
                booking_id=str(booking.pk),
                user_id=str(request.user.pk),
                ticket_ids=request.POST.getlist("ticket_ids"),
                email=email,
            )
        except NotFound:
            raise Http404("No booking of yours has this id.") from None
        except ApplicationError as error:
            messages.error(request, error.message)
            context["email"] = email
            return render(request, "storefront/booking_transfer.html", context, status=error.status_code)
        messages.success(request, f"We emailed {email} a link to accept the tickets.")
        return redirect("storefront:booking-detail", booking_id=booking.pk)
    return render(request, "storefront/booking_transfer.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def transfer_accept_page(request: HttpRequest, token: str) -> HttpResponse:
    """``/transfers/<token>``: the link in the recipient's email; POST accepts the tickets."""
    if request.method == "POST":
        try:
            transfer_accept(
                token=token,
                buyer=Buyer(
                    user_id=str(request.user.pk),
                    email=signed_in(request.user).email,
                    name=signed_in(request.user).name,
                ),
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return render(
                request, "storefront/transfer_accept.html", {"token": token}, status=error.status_code
            )
        messages.success(request, "Accepted: your new tickets are on their way and listed below.")
        return redirect("storefront:transfers-received")
    return render(request, "storefront/transfer_accept.html", {"token": token, "offer": True})


@login_required
@require_http_methods(["GET"])
def transfers_received_page(request: HttpRequest) -> HttpResponse:
    """``/transfers``: the tickets transferred to the signed-in user."""
    transfers = list(transfer_list_received(user_id=str(request.user.pk))[:50])
    return render(request, "storefront/transfers_received.html", {"transfers": transfers})
