"""Seats in the admin, read-only: the saga changes them, never a person."""

from django.contrib import admin
from django.http import HttpRequest

from apps.inventory.models import SaleEvent, Seat, WaitlistEntry


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SaleEvent)
class SaleEventAdmin(ReadOnly):
    list_display = ("name", "status", "starts_at", "capacity", "revision")
    search_fields = ("name",)


@admin.register(Seat)
class SeatAdmin(ReadOnly):
    list_display = (
        "section",
        "row",
        "number",
        "category",
        "status",
        "price_cents",
        "booking_id",
        "hold_expires_at",
    )
    list_filter = ("status", "category")
    search_fields = ("event_id", "booking_id", "section", "row")


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnly):
    list_display = ("email", "event_id", "section", "quantity", "status", "joined_at", "offer_expires_at")
    list_filter = ("status",)
    search_fields = ("email", "event_id")
    ordering = ("event_id", "joined_at")
