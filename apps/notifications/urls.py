"""Routes of the notifications API (mounted at /api/notifications/)."""

from django.urls import path

from apps.notifications.apis import NotificationHealthApi, NotificationRecentApi

app_name = "notifications"

urlpatterns = [
    path("recent", NotificationRecentApi.as_view(), name="recent"),
    path("health", NotificationHealthApi.as_view(), name="health"),
]
