"""``manage.py replay``: choosing sent outbox events by the time they were written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ticketflow.messaging.models import OutboxMessage

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def _sent_event(written: datetime, position: int) -> OutboxMessage:
    return OutboxMessage.objects.using("default").create(
        id=uuid.uuid4(),
        topic="probe.happened",
        aggregate_id="replay-test",
        body="{}",
        position=position,
        created_at=written,
        pending=False,
        sent_at=written,
    )


def test_since_without_a_zone_is_read_as_utc() -> None:
    # Given one event sent before 10:00 UTC and one after
    _sent_event(datetime(2026, 3, 1, 9, 59, tzinfo=UTC), position=1)
    later = _sent_event(datetime(2026, 3, 1, 10, 1, tzinfo=UTC), position=2)
    out = StringIO()

    # When replay is asked for everything since 10:00, written without a zone
    call_command("replay", "--since", "2026-03-01T10:00:00", "--alias", "default", stdout=out)

    # Then only the later event is queued again
    assert out.getvalue().splitlines()[0] == "default: 1 events queued again"
    assert list(OutboxMessage.objects.using("default").filter(pending=True).values_list("id", flat=True)) == [
        later.id
    ]


def test_since_that_is_not_a_time_is_refused() -> None:
    with pytest.raises(CommandError, match="is not an ISO 8601 date and time"):
        call_command("replay", "--since", "yesterday", "--alias", "default", stdout=StringIO())
