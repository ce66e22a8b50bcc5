"""The inventory API: the live seat map of an event."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.inventory.selectors import seat_map
from ticketflow.errors import NotFound

SEAT_FIELDS = (
    "Seat",
    {
        "id": serializers.CharField(),
        "section": serializers.CharField(),
        "row": serializers.CharField(),
        "number": serializers.IntegerField(),
        "category": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["AVAILABLE", "LOCKED", "RESERVED"]),
        "price_cents": serializers.IntegerField(),
        "price": serializers.CharField(),
        "hold_expires_at": serializers.DateTimeField(allow_null=True),
    },
)


class EventSeatsApi(APIView):
    """Every seat of an event with its status (AVAILABLE, LOCKED while held, RESERVED when sold)."""

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
