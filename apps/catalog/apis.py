"""The catalog API: events and venues. Anyone may read; staff create and change."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog import selectors, services
from apps.catalog.models import Event, Venue
from apps.catalog.serializers import EventInput, EventOutput, VenueInput, VenueOutput
from ticketflow.browsable import BrowsableForm
from ticketflow.errors import InvalidInput, NotFound
from ticketflow.permissions import holds, requires

DATE_OR_TIME = {
    "anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "maxLength": 0},
    ]
}
"""A day (its start, or its end for ``to``) or an instant, as ``_instant`` reads them; empty: no filter."""
CONFLICT = OpenApiResponse(
    description="`conflict`: someone else changed it meanwhile, or the change is not allowed in the event's state."
)


def _instant(name: str, value: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A query parameter as an aware datetime; a bare date means that day's start (or end)."""
    if not value:
        return None
    try:
        # The date first: parse_datetime also reads a bare date, as that day's midnight.
        day = parse_date(value)
        parsed = datetime.combine(day, time.max if end_of_day else time.min) if day else parse_datetime(value)
        if parsed is not None:
            aware = parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
            # In UTC now: an instant beyond year 1..9999 there fails here, not in the query.
            return aware.astimezone(UTC)
    except (ValueError, OverflowError):  # well formed but impossible: 2026-02-30, 9999-12-31T23:59-05:00
        pass
    raise InvalidInput(
        f"{name} must be a date (2026-12-31) or a date and time (2026-12-31T20:00:00Z).",
        details={"fields": {name: [f"{value!r} is not a date"]}},
    )


class EventListApi(GenericAPIView):
    """Upcoming events, soonest first. Filters: ``from``, ``to`` (dates), ``venue`` (id), ``q`` (text)."""

    permission_classes = (requires("catalog.add_event", read="anyone"),)
    serializer_class = EventOutput

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", DATE_OR_TIME, description="Only events starting on or after this date/time."
            ),
            OpenApiParameter(
                "to", DATE_OR_TIME, description="Only events starting on or before this date/time."
            ),
            OpenApiParameter("venue", str, description="Only events at this venue (id)."),
            OpenApiParameter("q", str, description="Words in the name or description."),
        ],
        responses={200: EventOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EventOutput(page, many=True).data)

    def get_queryset(self) -> QuerySet[Event]:
        """The filtered events (the browsable API asks for them too, to render its page)."""
        params = self.request.query_params
        return selectors.event_list(
            include_drafts=holds(self.request, "catalog.change_event") and params.get("drafts") == "1",
            starts_from=_instant("from", params.get("from")),
            starts_until=_instant("to", params.get("to"), end_of_day=True),
            venue_id=params.get("venue") or None,
            # PostgreSQL refuses NUL characters in text; they cannot match anything anyway.
            text=(params.get("q") or "").replace("\x00", "").strip()[:100] or None,
        )

    @extend_schema(request=EventInput, responses={201: EventOutput, 409: CONFLICT})
    def post(self, request: Request) -> Response:
        payload = EventInput(data=request.data)
        payload.is_valid(raise_exception=True)
        publish = payload.validated_data.get("status") == "on_sale"
        event = services.event_create(details=payload.details(), publish=publish)
        return Response(EventOutput(event).data, status=status.HTTP_201_CREATED)


class EventDetailApi(APIView):
    """One event. Staff replace it with PUT or change some fields with PATCH (a published event
    announces the change)."""

    permission_classes = (requires("catalog.change_event", read="anyone"),)

    def _get(self, request: Request, event_id: str) -> Event:
        event = selectors.event_get(event_id=event_id, include_drafts=holds(request, "catalog.change_event"))
        if event is None:
            raise NotFound("No event has this id.")
        return event

    @extend_schema(responses={200: EventOutput})
    def get(self, request: Request, event_id: str) -> Response:
        return Response(EventOutput(self._get(request, event_id)).data)

    @extend_schema(request=EventInput, responses={200: EventOutput, 409: CONFLICT})
    def put(self, request: Request, event_id: str) -> Response:
        event = self._get(request, event_id)
        payload = EventInput(data=request.data)
        payload.is_valid(raise_exception=True)
        event = services.event_update(
            event_id=str(event.pk), details=payload.details(), status=payload.validated_data.get("status")
        )
        return Response(EventOutput(event).data)

    @extend_schema(request=EventInput(partial=True), responses={200: EventOutput, 409: CONFLICT})
    def patch(self, request: Request, event_id: str) -> Response:
        """Change any subset of the event's fields (the waiting room's knobs among them)."""
        event = self._get(request, event_id)
        if not isinstance(request.data, dict) or not request.data:
            raise InvalidInput("Send a JSON object with the fields to change.")
        payload = EventInput(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        event = services.event_change(
            event_id=str(event.pk), changes=payload.changes(), status=payload.validated_data.get("status")
        )
        return Response(EventOutput(event).data)


class EventPublishApi(BrowsableForm, APIView):
    """Put a draft event on sale (staff)."""

    permission_classes = (requires("catalog.change_event"),)

    @extend_schema(request=None, responses={200: EventOutput, 409: CONFLICT})
    def post(self, request: Request, event_id: str) -> Response:
        if selectors.event_get(event_id=event_id, include_drafts=True) is None:
            raise NotFound("No event has this id.")
        return Response(EventOutput(services.event_publish(event_id=event_id)).data)


class VenueListApi(GenericAPIView):
    """Venues, by name. Staff create them (with their seating plan)."""

    permission_classes = (requires("catalog.add_venue", read="anyone"),)
    serializer_class = VenueOutput

    def get_queryset(self) -> QuerySet[Venue]:
        return selectors.venue_list()

    @extend_schema(responses={200: VenueOutput(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(VenueOutput(page, many=True).data)

    @extend_schema(request=VenueInput, responses={201: VenueOutput})
    def post(self, request: Request) -> Response:
        payload = VenueInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        venue = services.venue_create(
            name=data["name"], address=data["address"], timezone_name=data["timezone"], layout=data["layout"]
        )
        return Response(VenueOutput(venue).data, status=status.HTTP_201_CREATED)


class VenueDetailApi(APIView):
    """One venue with its seating plan."""

    permission_classes = (AllowAny,)

    @extend_schema(responses={200: VenueOutput})
    def get(self, request: Request, venue_id: str) -> Response:
        venue = selectors.venue_get(venue_id=venue_id)
        if venue is None:
            raise NotFound("No venue has this id.")
        return Response(VenueOutput(venue).data)
