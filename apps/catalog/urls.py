"""Routes of the catalog API (mounted at /api/)."""

from django.urls import path

from apps.catalog import apis

app_name = "catalog"

urlpatterns = [
    path("events", apis.EventListApi.as_view(), name="event-list"),
    path("events/<str:event_id>", apis.EventDetailApi.as_view(), name="event-detail"),
    path("events/<str:event_id>/publish", apis.EventPublishApi.as_view(), name="event-publish"),
    path("venues", apis.VenueListApi.as_view(), name="venue-list"),
    path("venues/<str:venue_id>", apis.VenueDetailApi.as_view(), name="venue-detail"),
]
