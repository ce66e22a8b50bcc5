"""The scanner pages for door staff's phones, and the service worker that keeps them offline."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.checkin import selectors
from apps.checkin.apis import SCAN_PERMISSION

STARTED_AGO = timedelta(hours=12)
"""The pick list shows events from this long after they started: doors stay open during a show."""


@login_required
@permission_required(SCAN_PERMISSION, raise_exception=True)
@require_GET
def event_list_page(request: HttpRequest) -> HttpResponse:
    """``/checkin/``: the events whose door a steward can work."""
    events = selectors.checkin_event_list(since=timezone.now() - STARTED_AGO)
    return render(request, "checkin/event_list.html", {"events": events})


@login_required
@permission_required(SCAN_PERMISSION, raise_exception=True)
@require_GET
def scanner_page(request: HttpRequest, event_id: str) -> HttpResponse:
    """``/checkin/events/<id>/``: the scanner; it keeps working offline from the last snapshot."""
    event = selectors.checkin_event_get(event_id=event_id)
    if event is None:
        raise Http404("No tickets have been issued for this event.")
    counts = selectors.ticket_counts(event_id=str(event.pk))
    return render(request, "checkin/scanner.html", {"event": event, "counts": counts})


@never_cache
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """``/checkin/sw.js``: served under /checkin/ so that its default scope covers the scanner pages."""
    assets = [
        static("checkin/scanner.js"),
        static("checkin/scanner.css"),
        static("storefront/css/site.css"),
        static("storefront/js/site.js"),
        static("storefront/img/favicon.svg"),
        static("django_htmx/htmx-2.min.js"),
        static("django_htmx/django-htmx.js"),
    ]
    return render(
        request, "checkin/sw.js", {"assets_json": json.dumps(assets)}, content_type="text/javascript"
    )
