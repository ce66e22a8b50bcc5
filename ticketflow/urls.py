"""Top-level routes: health, metrics, admin, the API and its schema, and the booking pages."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ticketflow import health, metrics
from ticketflow.error_codes import ErrorCode
from ticketflow.errors import database_unavailable_response, json_error_response, wants_json

urlpatterns = [
    path("health", health.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/users/", include("apps.accounts.urls")),
    path("api/", include("apps.catalog.urls")),
    path("api/inventory/", include("apps.inventory.urls")),
    path("api/", include("apps.inventory.waitlist_urls")),
    path("api/", include("apps.bookings.urls")),
    path("api/", include("apps.waitingroom.urls")),
    path("api/payments/", include("apps.payments.urls")),
    path("api/notifications/", include("apps.notifications.urls")),
    path("api/checkin/", include("apps.checkin.urls")),
    path("checkin/", include("apps.checkin.page_urls")),
    path("", include("apps.storefront.urls")),
]


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return json_error_response(400, ErrorCode.BAD_REQUEST, "The request could not be understood.")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return json_error_response(403, ErrorCode.FORBIDDEN, "You are not allowed to do this.")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return json_error_response(404, ErrorCode.NOT_FOUND, "Nothing was found here.")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if (unavailable := database_unavailable_response(request)) is not None:
        return unavailable
    if wants_json(request):
        return json_error_response(
            500, ErrorCode.SERVER_ERROR, "Something went wrong on our side; it has been logged."
        )
    return defaults.server_error(request)
