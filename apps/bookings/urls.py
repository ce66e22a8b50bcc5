"""Routes of the bookings API (mounted at /api/)."""

from django.urls import path

from apps.bookings import apis

app_name = "bookings"

urlpatterns = [
    path("bookings", apis.BookingCreateApi.as_view(), name="create"),
    path("bookings/my", apis.BookingMyApi.as_view(), name="my"),
    path("bookings/<str:booking_id>", apis.BookingDetailApi.as_view(), name="detail"),
    path("bookings/<str:booking_id>/cancel", apis.BookingCancelApi.as_view(), name="cancel"),
]
