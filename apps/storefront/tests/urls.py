"""The project's routes plus two that fail on purpose, to see the 403 and 500 pages."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from ticketflow.urls import handler403, handler404, handler500
from ticketflow.urls import urlpatterns as project_urlpatterns


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("not for you")


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [
    path("test-only/forbidden", forbidden),
    path("test-only/broken", broken),
    *project_urlpatterns,
]

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]
