"""The box office in the admin: venues with a typed seating plan, events and their sales.

Every save goes through the catalog services, so the admin validates exactly like the API
and a published event's changes are announced to the other contexts.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import Field, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from apps.catalog import services
from apps.catalog.layout import LayoutError, layout_to_text, parse_layout_text, validate_layout
from apps.catalog.models import Event, EventStatus, Venue
from ticketflow.errors import ApplicationError

LAYOUT_HELP = (
    "One section per '[Name] category' line, then one row per line as 'LABEL: FIRST-LAST' "
    "(or 'LABEL: COUNT'), optionally followed by the row's own category. Example:<br>"
    "<code>[Stalls] standard<br>A: 1-20<br>B: 1-22 premium<br>[Balcony] economy<br>A: 18</code>"
)


def _copy(target: Any, source: Any) -> None:
    """Make the admin's in-memory object the one the service saved (for redirects and the log)."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


def _apply_errors(form: forms.BaseForm, error: ApplicationError) -> None:
    fields = error.details.get("fields") or {}
    for name, problems in fields.items():
        target = name if name in form.fields else None
        for problem in problems if isinstance(problems, list) else [problems]:
            form.add_error(target, str(problem))
    if not fields:
        form.add_error(None, error.message)


class VenueForm(forms.ModelForm):
    layout_text = forms.CharField(
        label="Seating plan",
        widget=forms.Textarea(attrs={"rows": 16, "cols": 60, "style": "font-family: monospace"}),
        help_text=LAYOUT_HELP,
    )

    class Meta:
        model = Venue
        fields = ("name", "address", "timezone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.layout:
            self.fields["layout_text"].initial = layout_to_text(validate_layout(self.instance.layout))

    def clean_layout_text(self) -> str:
        try:
            self.cleaned_data["layout"] = parse_layout_text(self.cleaned_data["layout_text"])
        except LayoutError as error:
            raise forms.ValidationError(str(error)) from None
        return self.cleaned_data["layout_text"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        # The services would refuse what the form let through (a time zone that does not exist)
        # in save_model, too late for a form error.
        if "layout" in data and data.get("timezone"):
            try:
                services.venue_validate(timezone_name=data["timezone"], layout=data["layout"])
            except ApplicationError as error:
                _apply_errors(self, error)
        return data


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    form = VenueForm
    list_display = ("name", "address", "timezone", "capacity")
    search_fields = ("name", "address")
    readonly_fields = ("capacity", "plan_summary")
    fields = ("name", "address", "timezone", "layout_text", "capacity", "plan_summary")

    @admin.display(description="Sections")
    def plan_summary(self, venue: Venue) -> str:
        if not venue.layout:
            return "-"
        layout = validate_layout(venue.layout)
        return format_html_join(
            "",
            "<div>{}: {} rows, {} seats ({})</div>",
            (
                (
                    s.name,
                    len(s.rows),
                    sum(r.seats for r in s.rows),
                    ", ".join(sorted({r.category or s.category for r in s.rows})),
                )
                for s in layout.sections
            ),
        )

    def save_model(self, request: HttpRequest, obj: Venue, form: VenueForm, change: bool) -> None:
        data = form.cleaned_data
        arguments = {
            "name": data["name"],
            "address": data["address"],
            "timezone_name": data["timezone"],
            "layout": data["layout"],
        }
        saved = (
            services.venue_update(venue=obj, **arguments) if change else services.venue_create(**arguments)
        )
        _copy(obj, saved)


QUEUE_NUMBERS = ("admit_per_minute", "max_active_shoppers", "shopping_window_minutes")


class EventForm(forms.ModelForm):
    prices = forms.JSONField(
        help_text='Price in cents for each seat category of the venue, e.g. {"standard": 4500, "premium": 7900}.',
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "style": "font-family: monospace"}),
    )
    refund_policy = forms.JSONField(
        required=False,
        help_text=Event._meta.get_field("refund_policy").help_text,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "style": "font-family: monospace"}),
    )

    class Meta:
        model = Event
        fields = (
            "venue", "name", "description", "starts_at", "ends_at", "currency", "prices",
            "sale_starts_at", "sale_ends_at", "max_seats_per_booking", "max_active_seats_per_buyer",
            "hold_minutes",
            "queue_enabled", "queue_opens_at", "queue_paused", "admit_per_minute", "max_active_shoppers",
            "shopping_window_minutes",
            "transfers_allowed",
            "waitlist_offer_minutes",
            "refund_policy",
        )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in (*QUEUE_NUMBERS, "waitlist_offer_minutes"):
            # Left blank, a knob keeps its default: a form without the queue section still saves.
            self.fields[name].required = False
        if self.instance.pk and self.instance.is_published:
            self.fields["venue"].disabled = True
            self.fields["venue"].help_text = "A published event keeps its venue."

    def details(self) -> services.EventDetails:
        data = self.cleaned_data
        return services.EventDetails(
            venue_id=str(data["venue"].pk),
            name=data["name"],
            description=data.get("description") or "",
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            currency=data["currency"],
            prices=data["prices"],
            sale_starts_at=data.get("sale_starts_at"),
            sale_ends_at=data.get("sale_ends_at"),
            max_seats_per_booking=data["max_seats_per_booking"],
            max_active_seats_per_buyer=data.get("max_active_seats_per_buyer"),
            hold_minutes=data["hold_minutes"],
            queue_enabled=bool(data.get("queue_enabled")),
            queue_opens_at=data.get("queue_opens_at"),
            queue_paused=bool(data.get("queue_paused")),
            transfers_allowed=bool(data.get("transfers_allowed")),
            waitlist_offer_minutes=data.get("waitlist_offer_minutes") or 30,
            refund_policy=data.get("refund_policy") or [],
            **{
                name: data[name]
                if data.get(name) is not None
                else cast("Field[Any, Any]", Event._meta.get_field(name)).default
                for name in QUEUE_NUMBERS
            },
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        if not isinstance(data.get("prices"), dict):
            self.add_error("prices", "Enter a JSON object of category: cents.")
            return data
        try:
            # The primary key has a default, so only _state tells a new event from a saved one.
            services.event_validate(details=self.details(), new=self.instance._state.adding)
        except ApplicationError as error:
            _apply_errors(self, error)
        return data


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventForm
    list_display = ("name", "venue", "starts_at", "status", "published_at", "queue_enabled", "queue_paused")
    list_filter = ("status", "venue", "starts_at")
    search_fields = ("name", "description")
    date_hierarchy = "starts_at"
    ordering = ("starts_at",)
    readonly_fields = ("status", "published_at", "revision", "prices_preview")
    actions = ("publish", "mark_sold_out", "reopen_sales", "cancel", "pause_queue", "resume_queue")
    list_select_related = ("venue",)

    @admin.display(description="Prices")
    def prices_preview(self, event: Event) -> str:
        return json.dumps(event.prices) if event.prices else "-"

    def save_model(self, request: HttpRequest, obj: Event, form: EventForm, change: bool) -> None:
        saved = (
            services.event_update(event_id=str(obj.pk), details=form.details())
            if change
            else services.event_create(details=form.details())
        )
        _copy(obj, saved)

    def _each(self, request: HttpRequest, events: QuerySet[Event], action: Any, done: str) -> None:
        succeeded = 0
        for event in events:
            try:
                action(event)
                succeeded += 1
            except ApplicationError as error:
                self.message_user(request, f"{event.name}: {error.message}", messages.ERROR)
        if succeeded:
            self.message_user(request, f"{succeeded} event(s) {done}.", messages.SUCCESS)

    @admin.action(description="Publish (put on sale)")
    def publish(self, request: HttpRequest, events: QuerySet[Event]) -> None:
        self._each(request, events, lambda e: services.event_publish(event_id=str(e.pk)), "published")

    @admin.action(description="Mark sold out")
    def mark_sold_out(self, request: HttpRequest, events: QuerySet[Event]) -> None:
        self._each(
            request,
            events,
            lambda e: services.event_set_status(event_id=str(e.pk), status=EventStatus.SOLD_OUT),
            "marked sold out",
        )

    @admin.action(description="Reopen sales")
    def reopen_sales(self, request: HttpRequest, events: QuerySet[Event]) -> None:
        self._each(
            request,
            events,
            lambda e: services.event_set_status(event_id=str(e.pk), status=EventStatus.ON_SALE),
            "back on sale",
        )

    @admin.action(description="Cancel")
    def cancel(self, request: HttpRequest, events: QuerySet[Event]) -> None:
        self._each(
            request,
            events,
            lambda e: services.event_set_status(event_id=str(e.pk), status=EventStatus.CANCELLED),
            "cancelled",
        )

    @admin.action(description="Pause the waiting room (let nobody more in)")
    def pause_queue(self, request: HttpRequest, events: QuerySet[Event]) -> None:
        self._each(
            request, events, lambda e: services.event_queue_pause(event_id=str(e.pk), paused=True), "paused"
        )

    @admin.action(description="Resume the waiting room")
    def resume_queue(self, request: HttpRequest, events: QuerySet[Event]) -> None:
        self._each(
            request, events, lambda e: services.event_queue_pause(event_id=str(e.pk), paused=False), "resumed"
        )
