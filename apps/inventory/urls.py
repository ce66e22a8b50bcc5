"""Routes of the inventory API (mounted at /api/inventory/)."""

from django.urls import path

from apps.inventory import apis

app_name = "inventory"

urlpatterns = [path("events/<str:event_id>/seats", apis.EventSeatsApi.as_view(), name="event-seats")]
