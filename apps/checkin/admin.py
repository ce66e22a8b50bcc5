"""Check-in in the admin: live counts per event, each ticket with its scan log, every scan.

Everything is read-only here: tickets follow the booking saga and scans happen at the door.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from apps.checkin.models import CheckinEvent, Scan, Ticket, TicketStatus

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _TicketCounts(TypedDict):
    _sold: int
    _checked_in: int
    _revoked: int


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CheckinEvent)
class CheckinEventAdmin(ReadOnly):
    list_display = ("name", "starts_at", "venue_name", "checked_in", "sold", "revoked")
    search_fields = ("name", "=event_id")
    date_hierarchy = "starts_at"
    exclude = ("sealed_private_key",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CheckinEvent]:
        # One query counts every listed event's tickets: the page is the door's live board.
        return (
            super()
            .get_queryset(request)
            .annotate(
                _sold=Count("tickets", filter=~Q(tickets__status=TicketStatus.REVOKED)),
                _checked_in=Count("tickets", filter=Q(tickets__status=TicketStatus.CHECKED_IN)),
                _revoked=Count("tickets", filter=Q(tickets__status=TicketStatus.REVOKED)),
            )
        )

    @admin.display(description="Checked in", ordering="_checked_in")
    def checked_in(self, event: WithAnnotations[CheckinEvent, _TicketCounts]) -> int:
        return event._checked_in

    @admin.display(description="Sold", ordering="_sold")
    def sold(self, event: WithAnnotations[CheckinEvent, _TicketCounts]) -> int:
        return event._sold

    @admin.display(description="Revoked", ordering="_revoked")
    def revoked(self, event: WithAnnotations[CheckinEvent, _TicketCounts]) -> int:
        return event._revoked


class ScanInline(admin.TabularInline):
    model = Scan
    fk_name = "ticket"
    fields = ("scanned_at", "type", "result", "accepted", "forced", "reason", "received_at", "user_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("scanned_at",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Ticket)
class TicketAdmin(ReadOnly):
    list_display = ("booking_reference", "seat_label", "event", "status", "first_scan_at", "updated_at")
    list_filter = ("status", "event")
    search_fields = ("booking_reference", "=id", "=booking_id", "fingerprint")
    exclude = ("secret",)
    inlines = (ScanInline,)


@admin.register(Scan)
class ScanAdmin(ReadOnly):
    list_display = ("scanned_at", "type", "result", "accepted", "forced", "ticket", "reason")
    list_filter = ("result", "type", "accepted", "forced")
    search_fields = ("=nonce", "=event_id", "ticket__booking_reference")
    date_hierarchy = "scanned_at"
    list_select_related = ("ticket",)
