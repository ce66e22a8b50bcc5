"""Bookings in the admin: find one by reference or buyer, read its saga timeline."""

from django.contrib import admin
from django.http import HttpRequest

from apps.bookings.models import BookableEvent, Booking, BookingCancellation, BookingStep, BookingTicket


class StepInline(admin.TabularInline):
    model = BookingStep
    fields = ("at", "step", "status", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TicketInline(admin.TabularInline):
    """The booking's tickets as check-in last reported them; the secrets stay out of the admin."""

    model = BookingTicket
    fields = ("id", "seat_id", "status", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class CancellationInline(admin.TabularInline):
    """Each cancellation of the booking (partial or of what was left) and how its refund stands."""

    model = BookingCancellation
    fields = (
        "created_at",
        "partial",
        "seat_ids",
        "by_staff",
        "refund_percent",
        "refund_cents",
        "refund_state",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "status",
        "event_name",
        "customer_email",
        "total_cents",
        "currency",
        "created_at",
    )
    list_filter = ("status", "paid", "refund_state", "event_name")
    search_fields = ("reference", "customer_email", "=id", "=event_id")
    date_hierarchy = "created_at"
    inlines = (TicketInline, CancellationInline, StepInline)
    readonly_fields = [field.name for field in Booking._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(BookableEvent)
class BookableEventAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "starts_at", "max_seats_per_booking", "hold_minutes", "revision")
    readonly_fields = [field.name for field in BookableEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
