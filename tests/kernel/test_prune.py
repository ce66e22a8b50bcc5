"""Published events and inbox rows are pruned after their retention; pending events never."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.probe.services import probe_emit
from ticketflow.messaging.models import InboxMessage, OutboxMessage
from ticketflow.messaging.tasks import prune

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def test_prune_keeps_what_replay_and_deduplication_still_need(run_id: str, inprocess_relay) -> None:
    [old_sent, recent_sent] = probe_emit(run_id, [("a", 1), ("b", 1)])
    inprocess_relay.drain()
    [old_pending] = probe_emit(run_id, [("c", 1)])
    long_ago = timezone.now() - timedelta(days=30)
    OutboxMessage.objects.using("default").filter(id__in=[old_sent, old_pending]).update(created_at=long_ago)
    InboxMessage.objects.using("default").filter(event_id=old_sent).update(processed_at=long_ago)

    deleted = prune()

    remaining = set(OutboxMessage.objects.using("default").values_list("id", flat=True))
    assert {str(i) for i in remaining} == {recent_sent, old_pending}
    assert set(InboxMessage.objects.using("default").values_list("event_id", flat=True)) == {
        OutboxMessage.objects.using("default").get(id=recent_sent).id
    }
    assert deleted["default"] == 2
