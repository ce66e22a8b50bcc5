"""The queue engine: fairness at the start, FIFO after, one place per account, the inlet.

These run on the real Redis and again on the embedded default's shared SQLite file.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.waitingroom import services
from apps.waitingroom.services import queue_join, queue_status, queued_event_apply_snapshot
from apps.waitingroom.store import Rules, get_store
from apps.waitingroom.tests.support import EVENT_ID, snapshot, soon, users

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default"])]


def spearman(xs: list[float], ys: list[float]) -> float:
    """Rank correlation of two lists of distinct values."""
    rank_x = {x: i for i, x in enumerate(sorted(xs))}
    rank_y = {y: i for i, y in enumerate(sorted(ys))}
    n = len(xs)
    d2 = sum((rank_x[x] - rank_y[y]) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def test_everyone_in_the_pre_queue_gets_a_random_place_at_the_start() -> None:
    # Given a pre-queue that opened before a sale starting in a moment, paused so nobody is let in yet
    queued_event_apply_snapshot(
        snapshot=snapshot(queue_opens_at=soon(-60), sale_starts_at=soon(1.5), queue_paused=True)
    )
    early = users(300)

    # When 300 accounts join one after another, and the sale starts
    for user in early:
        assert queue_join(event_id=EVENT_ID, user_id=user).status == "waiting"
    time.sleep(1.6)
    places = [queue_status(event_id=EVENT_ID, user_id=user).position for user in early]

    # Then every place is taken once, and the order of arrival says nothing about the place:
    # for a random order the rank correlation is about N(0, 1/sqrt(299)) = N(0, 0.058), so
    # |rho| > 0.25 (over 4 standard deviations) would fail a fair shuffle once in 30,000 runs.
    assert sorted(places) == list(range(1, 301))
    rho = spearman(list(range(300)), [float(p) for p in places])
    assert abs(rho) < 0.25, rho
    # The first tenth to arrive hold about a tenth of the first tenth of the places, not all of them.
    first_arrivals_in_front = sum(1 for p in places[:30] if p <= 30)
    assert first_arrivals_in_front < 15


def test_after_the_start_it_is_first_in_first_out_behind_the_pre_queue() -> None:
    queued_event_apply_snapshot(
        snapshot=snapshot(queue_opens_at=soon(-60), sale_starts_at=soon(1.0), queue_paused=True)
    )
    early, late = users(20), users(20)
    for user in early:
        queue_join(event_id=EVENT_ID, user_id=user)
    time.sleep(1.1)

    late_places = [queue_join(event_id=EVENT_ID, user_id=user).position for user in late]

    assert late_places == list(range(21, 41))
    assert sorted(queue_status(event_id=EVENT_ID, user_id=u).position for u in early) == list(range(1, 21))


def test_joining_again_returns_the_same_place_even_when_racing() -> None:
    queued_event_apply_snapshot(snapshot=snapshot(queue_paused=True))
    first, second = users(2)
    queue_join(event_id=EVENT_ID, user_id=first)
    store = get_store()

    # Twenty copies of one account joining at once from twenty threads
    with ThreadPoolExecutor(max_workers=20) as pool:
        places = list(
            pool.map(
                lambda _: store.join(EVENT_ID, second, now=time.time(), prequeue=False, lot=0.5), range(20)
            )
        )

    assert {place.position for place in places} == {2}
    assert sum(place.joined for place in places) == 1
    assert queue_join(event_id=EVENT_ID, user_id=second).position == 2
    assert store.counts(EVENT_ID, now=time.time()) == (2, 0)


def test_admission_follows_the_inlet_rate_and_the_cap_on_shoppers() -> None:
    store = get_store()
    waiting = users(100)
    for user in waiting:
        store.join(EVENT_ID, user, now=1000.0, prequeue=False, lot=0.0)
    rules = Rules(admitting=True, admit_per_minute=120, max_active=30, window_seconds=600)

    first = store.admit(EVENT_ID, rules, now=1000.0)  # the bucket starts full: 10 (5 s at 2/s)
    after_two_seconds = store.admit(EVENT_ID, rules, now=1002.0)  # 2 a second
    after_a_minute = store.admit(EVENT_ID, rules, now=1062.0)  # the bucket holds 10, but only 16 places left

    assert [user for user, _ in first.admitted] == waiting[:10]
    assert [user for user, _ in after_two_seconds.admitted] == waiting[10:14]
    assert len(after_a_minute.admitted) == 10
    assert store.counts(EVENT_ID, now=1062.0) == (76, 24)
    assert store.place(EVENT_ID, waiting[0], now=1062.0).admitted_until == 1600.0


def test_an_ended_window_or_leaving_frees_the_place_for_the_next() -> None:
    store = get_store()
    a, b, c = users(3)
    for user in (a, b, c):
        store.join(EVENT_ID, user, now=1000.0, prequeue=False, lot=0.0)
    rules = Rules(admitting=True, admit_per_minute=6000, max_active=1, window_seconds=60)

    assert [u for u, _ in store.admit(EVENT_ID, rules, now=1000.0).admitted] == [a]
    assert store.admit(EVENT_ID, rules, now=1030.0).admitted == []  # a is shopping: full
    ended = store.admit(EVENT_ID, rules, now=1061.0)  # a's window ended
    assert (ended.expired, [u for u, _ in ended.admitted]) == (1, [b])
    assert store.leave(EVENT_ID, b) == "admitted"
    assert [u for u, _ in store.admit(EVENT_ID, rules, now=1062.0).admitted] == [c]
    assert store.place(EVENT_ID, a, now=1062.0).state == "absent"


def test_pausing_stops_admission_and_resuming_starts_it_again() -> None:
    queued_event_apply_snapshot(snapshot=snapshot(queue_paused=True))
    buyers = users(3)
    for user in buyers:
        queue_join(event_id=EVENT_ID, user_id=user)

    paused = services.queue_admit(event_id=EVENT_ID)
    queued_event_apply_snapshot(snapshot=snapshot(revision=2, queue_paused=False))
    resumed = services.queue_admit(event_id=EVENT_ID)

    assert (paused, resumed) == (0, 3)
    status = queue_status(event_id=EVENT_ID, user_id=buyers[0])
    assert (status.status, status.position, status.estimated_wait_s) == ("admitted", 0, 0)
    assert status.token


def test_the_queue_is_closed_when_off_before_it_opens_and_after_the_sale() -> None:
    user = users(1)[0]
    queued_event_apply_snapshot(snapshot=snapshot(queue_enabled=False))
    off = queue_join(event_id=EVENT_ID, user_id=user)
    queued_event_apply_snapshot(
        snapshot=snapshot(revision=2, queue_opens_at=soon(600), sale_starts_at=soon(1200))
    )
    early = queue_join(event_id=EVENT_ID, user_id=user)
    queued_event_apply_snapshot(
        snapshot=snapshot(revision=3, sale_starts_at=soon(-1200), sale_ends_at=soon(-60))
    )
    late = queue_join(event_id=EVENT_ID, user_id=user)

    assert [(s.status, s.reason) for s in (off, early, late)] == [
        ("closed", "no_queue"),
        ("closed", "not_open"),
        ("closed", "sale_ended"),
    ]
    assert early.opens_at is not None


def test_the_estimate_counts_the_wait_for_the_start_and_the_rate() -> None:
    queued_event_apply_snapshot(
        snapshot=snapshot(queue_opens_at=soon(-60), sale_starts_at=soon(120), admit_per_minute=60)
    )
    place = queue_join(event_id=EVENT_ID, user_id=users(1)[0])

    assert place.position == 1
    assert 119 <= place.estimated_wait_s <= 122  # the start in 2 minutes, then 1 second at 60 a minute


def test_an_older_snapshot_changes_nothing() -> None:
    assert queued_event_apply_snapshot(snapshot=snapshot(revision=2, admit_per_minute=50))
    assert not queued_event_apply_snapshot(snapshot=snapshot(revision=1, admit_per_minute=70))
    assert services.queued_event_get(event_id=EVENT_ID).admit_per_minute == 50


def test_the_metrics_report_queue_length_shoppers_and_waits() -> None:
    from prometheus_client import REGISTRY

    from apps.waitingroom.metrics import WaitingRoomCollector

    queued_event_apply_snapshot(snapshot=snapshot(admit_per_minute=12))  # a bucket of one
    before = REGISTRY.get_sample_value("ticketflow_waitingroom_wait_seconds_count") or 0.0
    for user in users(3):
        queue_join(event_id=EVENT_ID, user_id=user)

    services.queue_admit(event_id=EVENT_ID)
    gauges = {
        family.name: {sample.labels["event_id"]: sample.value for sample in family.samples}
        for family in WaitingRoomCollector().collect()
    }

    assert gauges["ticketflow_waitingroom_queue_length"][EVENT_ID] == 2
    assert gauges["ticketflow_waitingroom_active_shoppers"][EVENT_ID] == 1
    assert REGISTRY.get_sample_value("ticketflow_waitingroom_wait_seconds_count") == before + 1
