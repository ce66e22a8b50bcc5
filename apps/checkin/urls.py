"""Routes of the check-in API (mounted at /api/checkin/)."""

from django.urls import path

from apps.checkin import apis

app_name = "checkin"

urlpatterns = [
    path("redeem", apis.RedeemApi.as_view(), name="redeem"),
    path("events/<str:event_id>/batch", apis.BatchApi.as_view(), name="batch"),
    path("events/<str:event_id>/snapshot", apis.SnapshotApi.as_view(), name="snapshot"),
    path("events/<str:event_id>/counts", apis.CountsApi.as_view(), name="counts"),
    path("events/<str:event_id>/key", apis.PublicKeyApi.as_view(), name="key"),
]
