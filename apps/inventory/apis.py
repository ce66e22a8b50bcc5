"""The inventory API: the live seat map of an event, and its waiting list."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.inventory import waitlist
from apps.inventory.selectors import seat_map
from ticketflow.errors import InvalidInput, NotFound
from ticketflow.permissions import signed_in
from ticketflow.values import decimal_amount, is_uuid

SEAT_FIELDS: tuple[str, dict[str, serializers.Field[Any, Any, Any, Any]]] = (
    "Seat",
    {
        "id": serializers.CharField(),
        "section": serializers.CharField(),
        "row": serializers.CharField(),
        "number": serializers.IntegerField(),
        "category": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["AVAILABLE", "LOCKED", "RESERVED", "OFFERED"]),
        "price_cents": serializers.IntegerField(),
        "price": serializers.CharField(),
        "hold_expires_at": serializers.DateTimeField(allow_null=True),
    },
)


class EventSeatsApi(APIView):
    """Every seat of an event with its status.

    AVAILABLE, LOCKED while held, RESERVED when sold, OFFERED while kept for a buyer on the
    waiting list.
    """

    permission_classes = (AllowAny,)

    @extend_schema(
        responses={
            200: inline_serializer(
                "SeatMap",
                {
                    "event_id": serializers.CharField(),
                    "currency": serializers.CharField(),
                    "capacity": serializers.IntegerField(),
                    "counts": serializers.DictField(child=serializers.IntegerField()),
                    "seats": inline_serializer(*SEAT_FIELDS, many=True),
                },
            )
        }
    )
    def get(self, request: Request, event_id: str) -> Response:
        seats = seat_map(event_id=event_id)
        if seats is None:
            raise NotFound("No seats are on sale for this event (unknown event, or not published yet).")
        return Response(seats)


class WaitlistJoinInput(serializers.Serializer[dict[str, Any]]):
    quantity = serializers.IntegerField(min_value=1, help_text="Seats wanted, 1 to the event's maximum.")
    section = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64, help_text="Only seats of this section."
    )


WaitlistOutput = inline_serializer(
    "WaitlistPlace",
    {
        "id": serializers.CharField(),
        "event_id": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["WAITING", "OFFERED", "BOOKED", "LAPSED", "LEFT"]),
        "quantity": serializers.IntegerField(),
        "section": serializers.CharField(),
        "joined_at": serializers.DateTimeField(),
        "position": serializers.IntegerField(allow_null=True, help_text="1 is next; null once not waiting."),
        "offer": inline_serializer(
            "WaitlistOffer",
            {
                "seats": inline_serializer(
                    "WaitlistOfferSeat",
                    {
                        "id": serializers.CharField(),
                        "section": serializers.CharField(),
                        "row": serializers.CharField(),
                        "number": serializers.IntegerField(),
                        "price": serializers.CharField(),
                    },
                    many=True,
                ),
                "expires_at": serializers.DateTimeField(),
                "token": serializers.CharField(
                    help_text="Send as waitlist_offer, with these seat_ids, to POST /api/bookings."
                ),
            },
            allow_null=True,
        ),
    },
)


def _place_data(place: waitlist.Place) -> dict[str, Any]:
    entry = place.entry
    offer = None
    if place.offer_token is not None:
        offer = {
            "seats": [
                {
                    "id": str(seat.id),
                    "section": seat.section,
                    "row": seat.row,
                    "number": seat.number,
                    "price": decimal_amount(seat.price_cents),
                }
                for seat in place.offered_seats
            ],
            "expires_at": entry.offer_expires_at,
            "token": place.offer_token,
        }
    return {
        "id": str(entry.id),
        "event_id": str(entry.event_id),
        "status": entry.status,
        "quantity": entry.quantity,
        "section": entry.section,
        "joined_at": entry.joined_at,
        "position": place.position,
        "offer": offer,
    }


def _event_id(event_id: str) -> str:
    if not is_uuid(event_id):
        raise NotFound("We do not know this event.")
    return event_id


class WaitlistApi(APIView):
    """Your place on a sold-out event's waiting list.

    POST joins with how many seats you want (``409 not_sold_out`` while seats are on sale),
    GET tells where you stand and, once seats are offered to you, which ones, until when,
    and the token that books them; DELETE leaves (an open offer passes to the next buyer).
    """

    permission_classes = (IsAuthenticated,)

    @extend_schema(
        request=WaitlistJoinInput,
        responses={
            201: WaitlistOutput,
            400: OpenApiResponse(description="bad quantity or section"),
            404: OpenApiResponse(description="no such event"),
            409: OpenApiResponse(description="not_on_sale, not_sold_out or already_waiting"),
        },
    )
    def post(self, request: Request, event_id: str) -> Response:
        data = WaitlistJoinInput(data=request.data)
        if not data.is_valid():
            raise InvalidInput("Say how many seats you want.", details={"fields": data.errors})
        user = signed_in(request.user)
        waitlist.waitlist_join(
            event_id=_event_id(event_id),
            buyer=waitlist.Buyer(
                user_id=str(user.pk), email=user.email, name=user.get_full_name() or user.email
            ),
            quantity=data.validated_data["quantity"],
            section=data.validated_data["section"],
        )
        return Response(self._place(request, event_id), status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: WaitlistOutput, 404: OpenApiResponse(description="not on this list")})
    def get(self, request: Request, event_id: str) -> Response:
        return Response(self._place(request, _event_id(event_id)))

    @extend_schema(responses={200: WaitlistOutput, 404: OpenApiResponse(description="not on this list")})
    def delete(self, request: Request, event_id: str) -> Response:
        waitlist.waitlist_leave(event_id=_event_id(event_id), user_id=str(request.user.pk))
        return Response(self._place(request, event_id))

    def _place(self, request: Request, event_id: str) -> dict[str, Any]:
        place = waitlist.waitlist_place(event_id=event_id, user_id=str(request.user.pk))
        if place is None:
            raise NotFound("You are not on this event's waiting list.")
        return _place_data(place)
