"""Two seats of a sold-out event come back at the same moment on real PostgreSQL: the head of
the waiting list gets one offer, never two, and the other seat serves the next buyer.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from apps.inventory.models import Seat, SeatStatus, WaitlistEntry
from apps.inventory.tests.conftest import answers, new_id
from apps.inventory.tests.test_waitlist import buyer, give_back, sold_out, stalls
from apps.inventory.waitlist import waitlist_join
from ticketflow.messaging.topics import Topic


def race_once(waiting: int) -> None:
    """Sell out an event, put ``waiting`` buyers on its list, then free two seats at once."""
    event_id = new_id()
    holders = sold_out(event_id)
    for n in range(waiting):
        waitlist_join(event_id=event_id, buyer=buyer(f"W{n}"), quantity=1)
    racing = [stalls(event_id, 1), stalls(event_id, 2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def release(seat_id: str) -> None:
        try:
            start.wait(timeout=10)
            give_back(event_id, holders, seat_id)
        except BaseException as error:  # named by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=release, args=(seat_id,)) for seat_id in racing]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    offers = list(WaitlistEntry.objects.filter(event_id=event_id).values_list("offer_seat_ids", flat=True))
    assert sorted(len(seats) for seats in offers) == [1] * waiting
    offered = [seat_id for seats in offers for seat_id in seats]
    assert len(set(offered)) == len(offered) == waiting
    made = [m for m in answers(Topic.WAITLIST_OFFER_MADE) if m["event_id"] == event_id]
    assert len(made) == waiting
    statuses = dict(Seat.objects.filter(id__in=racing).values_list("id", "status"))
    assert sorted(statuses.values()) == sorted(
        [SeatStatus.OFFERED] * waiting + [SeatStatus.AVAILABLE] * (2 - waiting)
    )


@pytest.mark.services
@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
@pytest.mark.parametrize("waiting", [1, 2])
def test_two_releases_racing_for_the_head_of_the_list_make_one_offer(waiting: int) -> None:
    """Two cancellations commit at the same moment, five times over; the head gets one offer."""
    for _ in range(5):
        race_once(waiting)
