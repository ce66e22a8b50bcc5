"""django-axes hooks: who a failed sign-in counts against, and how a lockout is answered."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from apps.accounts.error_codes import AccountsErrorCode
from ticketflow.errors import error_body, wants_json
from ticketflow.ratelimit import client_ip

LOCKED_MESSAGE = "Too many failed sign-ins. Wait {minutes} minutes, then try again (or reset your password)."


def client_address(request: HttpRequest) -> str | None:
    """The address axes records: the limiter's own (``client_ip``), or none when it is no IP address.

    Requests made in code (``Client.force_login``, management commands) have no peer address.
    """
    address = client_ip(request)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return None
    return address


def attempted_email(request: HttpRequest, credentials: Mapping[str, Any] | None) -> str:
    """The account a sign-in tried, folded as the login folds it (``Ada@X.com `` is ``ada@x.com``).

    The API sends ``email``, the pages and the admin ``username``.
    """
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if value is None:
        data = getattr(request, "POST", {}) or {}
        value = data.get("email") or data.get("username") or ""
    return str(value).strip().lower()[:254]


def cool_off_minutes(request: HttpRequest) -> int:
    """Whole minutes a locked-out client waits (at least one)."""
    cool_off = get_cool_off(request)
    return max(1, int(cool_off.total_seconds() // 60)) if cool_off else 15


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """429 with a message a person reads: the JSON error shape for API clients, else a page."""
    minutes = cool_off_minutes(request)
    message = LOCKED_MESSAGE.format(minutes=minutes)
    if wants_json(request):
        response: HttpResponse = JsonResponse(
            error_body(AccountsErrorCode.LOCKED_OUT, message, {"retry_after": minutes * 60}), status=429
        )
    else:
        response = render(request, "accounts/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
