"""Request and response shapes of the catalog API."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.catalog.layout import LayoutError, parse_layout_text, validate_layout
from apps.catalog.models import Event, EventStatus, Venue
from apps.catalog.services import MAX_ACTIVE_SEATS_PER_BUYER, EventDetails
from ticketflow.messaging.sale import is_on_sale
from ticketflow.values import decimal_amount

QUEUE_FIELDS = (
    "queue_enabled", "queue_opens_at", "queue_paused", "admit_per_minute", "max_active_shoppers",
    "shopping_window_minutes",
)  # fmt: skip
"""The waiting room's knobs, read and written with the rest of the event."""


class VenueSummary(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = Venue
        fields = ("id", "name", "address", "timezone", "capacity")


class VenueOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    sections = serializers.SerializerMethodField()

    class Meta:
        model = Venue
        fields = (
            "id",
            "name",
            "address",
            "timezone",
            "capacity",
            "sections",
            "layout",
            "created_at",
            "updated_at",
        )

    def get_sections(self, venue: Venue) -> list[dict[str, Any]]:
        layout = validate_layout(venue.layout)
        return [
            {"name": s.name, "rows": len(s.rows), "seats": sum(r.seats for r in s.rows)}
            for s in layout.sections
        ]


@extend_schema_field(
    {
        "type": "object",
        "description": "The seating plan: {sections: [{name, category, rows: [{label, seats}]}]}.",
    }
)
class LayoutDocumentField(serializers.JSONField):
    """A seating plan as a JSON document (an object, never null); ``validate_layout`` checks it."""


class VenueInput(serializers.Serializer):
    """A venue, with its layout either as a document (``layout``) or as text (``layout_text``)."""

    name = serializers.CharField(max_length=120)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    timezone = serializers.CharField(max_length=64, required=False, default="UTC")
    layout = LayoutDocumentField(required=False)
    layout_text = serializers.CharField(required=False, max_length=100_000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("layout" in attrs) == ("layout_text" in attrs):
            raise serializers.ValidationError(
                {"layout": ["Send the seating plan as either layout or layout_text."]}
            )
        try:
            attrs["layout"] = (
                parse_layout_text(attrs.pop("layout_text"))
                if "layout_text" in attrs
                else validate_layout(attrs["layout"])
            )
        except LayoutError as error:
            raise serializers.ValidationError({"layout": [str(error)]}) from None
        return attrs


class PriceOutput(serializers.Serializer):
    category = serializers.CharField()
    price_cents = serializers.IntegerField()
    price = serializers.CharField()


class EventOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    venue = VenueSummary(read_only=True)
    prices = serializers.SerializerMethodField()
    on_sale = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = (
            "id", "name", "description", "venue", "starts_at", "ends_at", "status", "on_sale",
            "currency", "prices", "sale_starts_at", "sale_ends_at", "max_seats_per_booking",
            "max_active_seats_per_buyer", "hold_minutes", "published_at", "created_at", "updated_at",
            *QUEUE_FIELDS,
            "transfers_allowed",
            "waitlist_offer_minutes",
            "refund_policy",
        )  # fmt: skip

    @extend_schema_field(PriceOutput(many=True))
    def get_prices(self, event: Event) -> list[dict[str, Any]]:
        return [
            {"category": category, "price_cents": cents, "price": decimal_amount(cents)}
            for category, cents in sorted(event.prices.items(), key=lambda item: (item[1], item[0]))
        ]

    def get_on_sale(self, event: Event) -> bool:
        """True when tickets can be bought right now."""
        return is_on_sale(event, at=timezone.now())


class RefundStepInput(serializers.Serializer):
    """One step of a refund policy; the order of the steps is checked by the service."""

    hours_before = serializers.IntegerField(min_value=0, max_value=24 * 366)
    percent = serializers.IntegerField(min_value=0, max_value=100)


class EventInput(serializers.Serializer):
    venue_id = serializers.UUIDField()
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=20_000)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    currency = serializers.CharField(min_length=3, max_length=3, default="EUR")
    prices = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=10_000_000), allow_empty=False
    )
    sale_starts_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    sale_ends_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    max_seats_per_booking = serializers.IntegerField(min_value=1, max_value=100, default=10)
    max_active_seats_per_buyer = serializers.IntegerField(
        min_value=1, max_value=MAX_ACTIVE_SEATS_PER_BUYER, required=False, allow_null=True, default=None
    )
    hold_minutes = serializers.IntegerField(min_value=1, max_value=60, default=10)
    status = serializers.ChoiceField(choices=EventStatus.choices, required=False)
    queue_enabled = serializers.BooleanField(default=False)
    queue_opens_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    queue_paused = serializers.BooleanField(default=False)
    admit_per_minute = serializers.IntegerField(min_value=1, max_value=100_000, default=100)
    max_active_shoppers = serializers.IntegerField(min_value=1, max_value=1_000_000, default=500)
    shopping_window_minutes = serializers.IntegerField(min_value=1, max_value=120, default=10)
    transfers_allowed = serializers.BooleanField(default=True)
    waitlist_offer_minutes = serializers.IntegerField(min_value=1, max_value=1440, default=30)
    refund_policy = serializers.ListField(child=RefundStepInput(), max_length=10, default=list)

    def details(self) -> EventDetails:
        data = dict(self.validated_data)
        data.pop("status", None)
        data["venue_id"] = str(data["venue_id"])
        return EventDetails(**data)

    def changes(self) -> dict[str, Any]:
        """The fields a partial (``PATCH``) request sent, as :class:`EventDetails` changes."""
        data = dict(self.validated_data)
        data.pop("status", None)
        if "venue_id" in data:
            data["venue_id"] = str(data["venue_id"])
        return data
