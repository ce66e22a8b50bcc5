"""The notification log in the admin: read-only, with a "resend" action for failed emails.

Rows are changed only by the sending workflow's conditional updates; a form save would
overwrite a worker's concurrent transition, so the admin cannot edit or add rows.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.services import notification_resend


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "recipient", "status", "attempts", "booking_id", "sent_at")
    list_filter = ("kind", "status")
    search_fields = ("=recipient", "=booking_id")
    ordering = ("-created_at",)
    actions = ("resend",)
    fields = (
        "id",
        "kind",
        "recipient",
        "user_id",
        "booking_id",
        "source_event_id",
        "subject",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "sent_at",
        "created_at",
        "updated_at",
        "version",
        "context",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description="Resend the selected failed notifications", permissions=("resend",))
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        resent = notification_resend(notification_ids=selected)
        skipped = len(selected) - resent
        self.message_user(
            request, f"Queued {resent} failed notification(s) to be sent again.", messages.SUCCESS
        )
        if skipped:
            self.message_user(
                request,
                f"Left {skipped} alone: only {NotificationStatus.FAILED.label.lower()} notifications are resent.",
                messages.WARNING,
            )
