"""Routes of the queue API (mounted at /api/)."""

from django.urls import path

from apps.waitingroom import apis

app_name = "waitingroom"

urlpatterns = [
    path("events/<str:event_id>/queue", apis.QueueApi.as_view(), name="queue"),
]
