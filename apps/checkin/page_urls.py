"""Routes of the scanner pages (mounted at /checkin/)."""

from django.urls import path

from apps.checkin import views

app_name = "checkin-pages"

urlpatterns = [
    path("", views.event_list_page, name="event-list"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("events/<str:event_id>/", views.scanner_page, name="scanner"),
]
