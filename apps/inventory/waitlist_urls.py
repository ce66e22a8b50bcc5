"""Routes of the waiting list (mounted at /api/, beside the catalog's /api/events/)."""

from django.urls import path

from apps.inventory import apis

app_name = "waitlist"

urlpatterns = [path("events/<str:event_id>/waitlist", apis.WaitlistApi.as_view(), name="waitlist")]
