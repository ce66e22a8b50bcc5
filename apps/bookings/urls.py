"""Routes of the bookings API (mounted at /api/)."""

from django.urls import path

from apps.bookings import apis

app_name = "bookings"

urlpatterns = [
    path("bookings", apis.BookingCreateApi.as_view(), name="create"),
    path("bookings/my", apis.BookingMyApi.as_view(), name="my"),
    path("bookings/<str:booking_id>", apis.BookingDetailApi.as_view(), name="detail"),
    path("bookings/<str:booking_id>/cancel", apis.BookingCancelApi.as_view(), name="cancel"),
    path("bookings/<str:booking_id>/transfers", apis.BookingTransfersApi.as_view(), name="transfers"),
    path(
        "bookings/<str:booking_id>/transfers/<str:transfer_id>",
        apis.BookingTransferDetailApi.as_view(),
        name="transfer",
    ),
    path("transfers/received", apis.TransferReceivedApi.as_view(), name="transfers-received"),
    path("transfers/<str:token>/accept", apis.TransferAcceptApi.as_view(), name="transfer-accept"),
]
