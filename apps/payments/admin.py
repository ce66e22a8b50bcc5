"""Read-only admin for payments: staff look, the saga and the webhook write."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.payments.models import Payment, Refund, StripeWebhookEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows change only through services: a hand edit would bypass the outbox and the version."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments by status and provider; search by booking id, email or the provider's charge id."""

    list_display = (
        "booking_id",
        "attempt",
        "status",
        "amount_cents",
        "refunded_cents",
        "currency",
        "provider",
        "customer_email",
        "failure_code",
        "created_at",
    )
    list_filter = ("status", "provider")
    search_fields = ("=booking_id", "customer_email", "=provider_reference")
    ordering = ("-created_at",)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Each refund made, by booking and request: which cancellation got how much back."""

    list_display = (
        "booking_id",
        "request_id",
        "amount_cents",
        "reason_code",
        "provider_refund_id",
        "created_at",
    )
    list_filter = ("reason_code",)
    search_fields = ("=booking_id", "=request_id", "=provider_refund_id")
    ordering = ("-created_at",)


@admin.register(StripeWebhookEvent)
class StripeWebhookEventAdmin(ReadOnlyAdmin):
    """The Stripe events received, to answer "did the webhook arrive?"."""

    list_display = ("stripe_event_id", "type", "outcome", "payment_id", "received_at")
    list_filter = ("outcome", "type")
    search_fields = ("=stripe_event_id",)
    ordering = ("-received_at",)
