"""The one rule of when an event sells tickets: its status, its sale window, its end."""

from datetime import UTC, datetime, timedelta

import pytest

from ticketflow.messaging.sale import SaleState, SaleWindow, is_on_sale, sale_state

pytestmark = pytest.mark.embedded

OPENS = datetime(2027, 5, 1, 10, 0, tzinfo=UTC)
CLOSES = datetime(2027, 6, 1, 18, 0, tzinfo=UTC)
ENDS = datetime(2027, 6, 1, 23, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def state(
    at: datetime, *, status: str = "on_sale", opens: datetime | None = OPENS, closes: datetime | None = CLOSES
) -> SaleState:
    return sale_state(SaleWindow(status, ENDS, opens, closes), at=at)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (OPENS - TICK, SaleState.NOT_STARTED),
        (OPENS, SaleState.ON_SALE),
        (CLOSES - TICK, SaleState.ON_SALE),
        (CLOSES, SaleState.CLOSED),
        (ENDS - TICK, SaleState.CLOSED),
        (ENDS, SaleState.ENDED),
        (ENDS + timedelta(days=1), SaleState.ENDED),
    ],
    ids=["before-start", "at-start", "just-before-end", "at-end", "after-end", "event-over", "long-after"],
)
def test_the_sale_window_opens_at_its_start_and_closes_at_its_end(at, expected):
    assert state(at) is expected
    assert is_on_sale(SaleWindow("on_sale", ENDS, OPENS, CLOSES), at=at) is (expected is SaleState.ON_SALE)


def test_without_a_window_it_sells_from_publication_until_the_event_ends():
    assert state(OPENS - timedelta(days=365), opens=None, closes=None) is SaleState.ON_SALE
    assert state(ENDS - TICK, opens=None, closes=None) is SaleState.ON_SALE
    assert state(ENDS, opens=None, closes=None) is SaleState.ENDED


def test_a_sale_end_after_the_event_end_still_stops_at_the_event_end():
    assert state(ENDS, closes=ENDS + timedelta(hours=1)) is SaleState.ENDED


@pytest.mark.parametrize(
    ("status", "expected"),
    [("draft", SaleState.DRAFT), ("cancelled", SaleState.CANCELLED), ("sold_out", SaleState.SOLD_OUT)],
)
def test_only_a_published_event_on_sale_sells_inside_its_window(status, expected):
    inside = OPENS + timedelta(days=1)

    assert state(inside, status=status) is expected
    assert not is_on_sale(SaleWindow(status, ENDS, OPENS, CLOSES), at=inside)


def test_cancelled_wins_over_ended_and_ended_over_the_window():
    assert state(ENDS, status="cancelled") is SaleState.CANCELLED
    assert state(ENDS, status="draft") is SaleState.ENDED
    assert state(OPENS - TICK, status="sold_out") is SaleState.SOLD_OUT
