"""The waiting room's projection in the admin, read-only: its settings are changed on the event."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from apps.waitingroom.models import QueuedEvent


@admin.register(QueuedEvent)
class QueuedEventAdmin(admin.ModelAdmin):
    list_display = ("name", "queue_enabled", "queue_paused", "admit_per_minute", "max_active_shoppers")
    list_filter = ("queue_enabled", "queue_paused")
    readonly_fields = [field.name for field in QueuedEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
