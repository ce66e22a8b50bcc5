"""The request type of views that read django-htmx's ``request.htmx`` (for the type checker)."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxRequest(HttpRequest):
    """A request that went through ``HtmxMiddleware``: ``request.htmx`` says if htmx sent it."""

    htmx: HtmxDetails
