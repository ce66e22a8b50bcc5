"""Live check-in counts: in the admin and in Prometheus, read from the database each time."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.checkin.models import CheckinEvent
from apps.checkin.services import scan_redeem
from apps.checkin.tests.conftest import book, deliver, nonce

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def admitted_one_revoked_two() -> str:
    booking = book(seats=2)
    first, _ = booking.tickets()
    scan_redeem(event_id=booking.event_id, secret=first.secret, nonce=nonce())
    deliver(book(event_id=booking.event_id, seats=2).cancelled())
    return booking.event_id


def test_the_admin_lists_each_events_checked_in_sold_and_revoked_counts() -> None:
    event_id = admitted_one_revoked_two()
    admin = Client()
    admin.force_login(
        get_user_model().objects.create_superuser(email="root@example.com", password="x", name="R")
    )

    page = admin.get("/admin/checkin/checkinevent/").content.decode()

    cells = re.findall(r'<td class="field-(checked_in|sold|revoked)">(\d+)</td>', page)
    assert cells == [("checked_in", "1"), ("sold", "2"), ("revoked", "2")]
    detail = admin.get(f"/admin/checkin/checkinevent/{event_id}/change/").content.decode()
    assert "sealed_private_key" not in detail


def test_metrics_report_tickets_by_status_for_events_around_now(
    settings, django_capture_on_commit_callbacks
) -> None:
    settings.PROMETHEUS_ENABLED = True
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    with django_capture_on_commit_callbacks(execute=True):
        event_id = admitted_one_revoked_two()

    # The conftest's events start in 2031: outside the two-day window, then inside it.
    far = Client().get("/metrics").content.decode()
    CheckinEvent.objects.update(starts_at=timezone.now())
    near = Client().get("/metrics").content.decode()

    assert "ticketflow_checkin_tickets{" not in far
    for status, count in (("checked_in", 1), ("valid", 1), ("revoked", 2)):
        labels = f'event="Midsummer Strings",event_id="{event_id}",status="{status}"'
        assert f"ticketflow_checkin_tickets{{{labels}}} {count}.0" in near
    assert 'ticketflow_checkin_scans_total{result="ok",type="entry"}' in near
