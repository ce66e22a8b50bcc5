"""Can the notifications context do its job? Its store answers and its mail server greets.

Same result shape as ``/health`` (``ticketflow.health``): each check is ``up`` with what
answered, or ``down`` with the error, and its latency. The SMTP check opens a connection
with a short timeout, says EHLO and NOOP, and quits, so a dead server makes the check slow
by at most that timeout, never hung.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.db import connections
from django.utils.module_loading import import_string

from apps.notifications.models import Notification
from ticketflow import db

SMTP_TIMEOUT_SECONDS = 3.0

# How the non-SMTP backends Django ships are named in the report.
_BACKEND_NAMES = {"filebased": "file", "locmem": "memory", "console": "console", "dummy": "dummy"}


def _store() -> str:
    Notification.objects.exists()
    return connections[db.alias_for("notifications")].vendor


def _smtp() -> str:
    backend = settings.EMAIL_BACKEND
    if not issubclass(import_string(backend), SmtpBackend):
        module = backend.rsplit(".", 2)[-2]
        return f"not configured ({_BACKEND_NAMES.get(module, module)} backend)"
    client_class = smtplib.SMTP_SSL if settings.EMAIL_USE_SSL else smtplib.SMTP
    with client_class(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=SMTP_TIMEOUT_SECONDS) as client:
        client.ehlo()
        code, reply = client.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
    return f"smtp {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


CHECKS: dict[str, Callable[[], str]] = {"notification_store": _store, "smtp": _smtp}


def run_checks() -> dict[str, dict[str, object]]:
    """Run every check; each result says up/down, what answered, and how long it took."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            results[name] = {"status": "up", "backend": check()}
        except Exception as error:
            results[name] = {"status": "down", "error": f"{type(error).__name__}: {error}"[:500]}
        results[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results
