"""The bookings API: start a booking, follow it (long poll), list yours, cancel."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.bookings import selectors, services, status_feed
from apps.bookings.models import Booking, BookingStatus, TicketTransfer
from apps.bookings.serializers import (
    BookingCancelInput,
    BookingInput,
    BookingOutput,
    ReceivedTransferOutput,
    TransferInput,
    TransferOutput,
)
from ticketflow import admission_tokens, longpoll
from ticketflow.browsable import BrowsableForm
from ticketflow.errors import InvalidInput, NotFound
from ticketflow.observability import log_context
from ticketflow.permissions import holds, signed_in
from ticketflow.values import is_uuid

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Send the same key again (e.g. after a timeout) to get the same booking back, never a second one.",
)


WAIT = OpenApiParameter(
    "wait",
    {"type": "number", "minimum": 0, "maximum": status_feed.MAX_WAIT_SECONDS},
    required=False,
    description=(
        f"Long poll: wait up to this many seconds (at most {status_feed.MAX_WAIT_SECONDS}) for the "
        "booking's status to differ from `status`, then answer. Without `status`, answers at once."
    ),
)
STATUS = OpenApiParameter(
    "status", str, required=False, enum=BookingStatus.values, description="The status you last saw."
)
# How soon a client that got its 202 should first ask again (with ?wait= it may ask at once).
RETRY_AFTER_SECONDS = 1


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise InvalidInput(
            "The Idempotency-Key header must be 1 to 255 printable characters.",
            details={"fields": {"Idempotency-Key": ["invalid"]}},
        )
    return key


class BookingCreateApi(BrowsableForm, APIView):
    """Start a booking: 202 with the booking PENDING; follow it at /api/bookings/{id}."""

    throttle_scope = "booking"

    @extend_schema(
        request=BookingInput,
        responses={
            202: BookingOutput,
            400: OpenApiResponse(
                description="`invalid`, `unknown_event`, `unknown_seats`, `too_many_seats`, `invalid_offer`."
            ),
            403: OpenApiResponse(
                description="`offer_not_yours`, or a queued sale's missing admission token."
            ),
            409: OpenApiResponse(
                description=(
                    "`seats_unavailable`, `not_on_sale`, `purchase_limit_reached`, `too_many_unpaid_bookings`, "
                    "`booking_in_progress`, `idempotency_key_reused`, `offer_expired`."
                )
            ),
        },
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, request: Request) -> Response:
        payload = BookingInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        booking, created = services.booking_create(
            buyer=services.Buyer(
                user_id=str(signed_in(request.user).id),
                email=signed_in(request.user).email,
                name=signed_in(request.user).name,
            ),
            event_id=str(data["event_id"]),
            seat_ids=data["seat_ids"],
            payment_method=data["payment_method"],
            idempotency_key=_idempotency_key(request),
            queue_token=request.headers.get(admission_tokens.HEADER),
            waitlist_offer=data.get("waitlist_offer"),
        )
        with log_context(booking_id=str(booking.id)):
            logger.info(
                "booking %s %s for event %s",
                booking.reference,
                "requested" if created else "replayed",
                booking.event_id,
            )
        headers = {"Location": f"/api/bookings/{booking.id}", "Retry-After": str(RETRY_AFTER_SECONDS)}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return Response(_accepted(booking), status=status.HTTP_202_ACCEPTED, headers=headers)


def _accepted(booking: Booking) -> dict[str, Any]:
    """The 202's body. The booking is committed by now, so this must not fail.

    Its timeline and tickets are read from the database; if that fails (the database went
    away just after the commit), the booking is answered without them rather than with an
    error that would make the client believe nothing was booked. The timeline is complete
    at the next ``GET``.
    """
    try:
        return BookingOutput(booking).data
    except DatabaseError as error:
        logger.warning("booking %s committed; answering without its timeline: %s", booking.id, error)
        booking._prefetched_objects_cache = {"steps": [], "tickets": []}  # type: ignore[attr-defined]  # Django's prefetch cache
        return BookingOutput(booking).data


class BookingMyApi(GenericAPIView):
    """Your bookings, newest first."""

    serializer_class = BookingOutput

    def get_queryset(self) -> QuerySet[Booking]:
        """The user's bookings (the browsable API asks for them too, to render its page)."""
        return selectors.booking_list_for_user(user_id=str(self.request.user.id))

    @extend_schema(responses={200: BookingOutput(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(BookingOutput(page, many=True).data)


def _wait_seconds(request: Request) -> float:
    raw = request.query_params.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= status_feed.MAX_WAIT_SECONDS:
        raise InvalidInput(
            f"wait must be a number of seconds from 0 to {status_feed.MAX_WAIT_SECONDS}.",
            details={"fields": {"wait": [f"0 to {status_feed.MAX_WAIT_SECONDS}"]}},
        )
    return seconds


class BookingDetailApi(APIView):
    """One of your bookings, with its saga timeline (staff may see any).

    With ``?wait=S&status=X`` it is a long poll: the answer comes as soon as the status is
    no longer X, or after S seconds with the booking as it is. Behind the ASGI server the
    wait happens in front of Django (``ticketflow.longpoll``) and holds no thread.
    """

    @extend_schema(
        parameters=[WAIT, STATUS],
        responses={
            200: BookingOutput,
            400: OpenApiResponse(description="`wait` out of range, unknown `status`."),
        },
    )
    def get(self, request: Request, booking_id: str) -> Response:
        wait = _wait_seconds(request)
        seen = request.query_params.get("status")
        if seen is not None and seen not in BookingStatus.values:
            raise InvalidInput(
                f"status must be one of {', '.join(BookingStatus.values)}.",
                details={"fields": {"status": ["not a booking status"]}},
            )
        booking = self._visible(request, booking_id)
        if wait and seen == booking.status:
            if longpoll.deferrable(request):
                return longpoll.defer(
                    Response(BookingOutput(booking).data),
                    channel=status_feed.channel(booking_id),
                    seen=seen,
                    seconds=wait,
                )
            if not longpoll.waited(request):
                status_feed.wait_for_change(booking_id, seen, wait)
                booking = self._visible(request, booking_id)
        return Response(BookingOutput(booking).data)

    @staticmethod
    def _visible(request: Request, booking_id: str) -> Booking:
        booking = selectors.booking_get(
            booking_id=booking_id,
            user_id=str(request.user.id),
            is_staff=holds(request, "bookings.view_booking"),
        )
        if booking is None:
            raise NotFound("No booking of yours has this id.")
        return booking


class BookingCancelApi(BrowsableForm, APIView):
    """Cancel a booking, or some seats of a confirmed one, before the event starts.

    The seats are freed and the event's refund policy's share of their price refunded. With
    no body (or no ``seat_ids``) the whole booking is cancelled.
    """

    @extend_schema(
        request=BookingCancelInput,
        responses={
            200: BookingOutput,
            400: OpenApiResponse(description="`invalid`, seats that are not the booking's."),
            409: OpenApiResponse(description="`already_finished`, `too_late`, `partial_cancel_not_allowed`."),
        },
    )
    def post(self, request: Request, booking_id: str) -> Response:
        # The service answers 404 for a booking that is not the caller's; a malformed id never
        # reaches the database.
        if not is_uuid(booking_id):
            raise NotFound("No booking of yours has this id.")
        payload = BookingCancelInput(data=request.data)
        payload.is_valid(raise_exception=True)
        booking = services.booking_cancel(
            booking_id=booking_id,
            user_id=str(request.user.id),
            is_staff=holds(request, "bookings.change_booking"),
            seat_ids=payload.validated_data.get("seat_ids"),
        )
        return Response(BookingOutput(booking).data)


# --- ticket transfers (issue 14) ---------------------------------------------------------------


def _own_booking(request: Request, booking_id: str) -> Booking:
    booking = selectors.booking_get(booking_id=booking_id, user_id=str(request.user.id))
    if booking is None:
        raise NotFound("No booking of yours has this id.")
    return booking


class BookingTransfersApi(APIView):
    """Transfer tickets of your confirmed booking to someone else's email address, or list them."""

    @extend_schema(responses={200: TransferOutput(many=True)})
    def get(self, request: Request, booking_id: str) -> Response:
        booking = _own_booking(request, booking_id)
        return Response(TransferOutput(selectors.transfer_list_for_booking(booking=booking), many=True).data)

    @extend_schema(
        request=TransferInput,
        responses={
            201: TransferOutput,
            400: OpenApiResponse(description="`invalid`, `transfer_to_self`, `unknown_ticket`."),
            409: OpenApiResponse(
                description=(
                    "`booking_not_confirmed`, `too_late`, `transfers_not_allowed`, `transfer_pending`, "
                    "or a ticket already checked in or revoked."
                )
            ),
        },
    )
    def post(self, request: Request, booking_id: str) -> Response:
        if not is_uuid(booking_id):
            raise NotFound("No booking of yours has this id.")
        payload = TransferInput(data=request.data)
        payload.is_valid(raise_exception=True)
        transfer = services.transfer_request(
            booking_id=booking_id,
            user_id=str(request.user.id),
            ticket_ids=payload.validated_data["ticket_ids"],
            email=payload.validated_data["email"],
        )
        return Response(
            TransferOutput(transfer).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/bookings/{booking_id}/transfers/{transfer.id}"},
        )


class BookingTransferDetailApi(APIView):
    """Cancel a pending transfer of your booking's tickets."""

    @extend_schema(
        request=None,
        responses={200: TransferOutput, 409: OpenApiResponse(description="`transfer_not_pending`.")},
    )
    def delete(self, request: Request, booking_id: str, transfer_id: str) -> Response:
        if not (is_uuid(booking_id) and is_uuid(transfer_id)):
            raise NotFound("No booking of yours has this id.")
        transfer = services.transfer_cancel(
            booking_id=booking_id, transfer_id=transfer_id, user_id=str(request.user.id)
        )
        return Response(TransferOutput(transfer).data)


class TransferAcceptApi(APIView):
    """Accept tickets offered to you, signed in with the address the link was sent to."""

    @extend_schema(
        request=None,
        responses={
            202: TransferOutput,
            403: OpenApiResponse(description="`wrong_recipient`: signed in with another address."),
            404: OpenApiResponse(description="`invalid_transfer_link`: a forged or expired link."),
            409: OpenApiResponse(
                description="`transfer_cancelled`, `transfer_refused`, `transfer_expired`, or the event refuses it."
            ),
        },
    )
    def post(self, request: Request, token: str) -> Response:
        transfer = services.transfer_accept(
            token=token,
            buyer=services.Buyer(
                user_id=str(signed_in(request.user).id),
                email=signed_in(request.user).email,
                name=signed_in(request.user).name,
            ),
        )
        return Response(TransferOutput(transfer).data, status=status.HTTP_202_ACCEPTED)


class TransferReceivedApi(GenericAPIView):
    """Tickets transferred to you, with their secrets once checkin has issued them."""

    serializer_class = ReceivedTransferOutput

    def get_queryset(self) -> QuerySet[TicketTransfer]:
        """The transfers the user received (the browsable API asks for them too, to render its page)."""
        return selectors.transfer_list_received(user_id=str(self.request.user.id))

    @extend_schema(responses={200: ReceivedTransferOutput(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ReceivedTransferOutput(page, many=True).data)
