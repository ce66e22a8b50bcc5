"""The refund policy shared by every context: validation and the percent at a moment."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from ticketflow.messaging.refund_policy import RefundStep, parse_policy, refund_cents, refund_percent

pytestmark = pytest.mark.embedded

STARTS = datetime(2027, 6, 1, 20, 0, tzinfo=UTC)
POLICY = [RefundStep(hours_before=168, percent=100), RefundStep(hours_before=48, percent=50)]


@pytest.mark.parametrize(
    ("hours_left", "percent"),
    [(500, 100), (168, 100), (167.99, 50), (48, 50), (47.5, 0), (0.01, 0), (0, 0), (-1, 0)],
)
def test_the_percent_is_the_first_step_whose_deadline_has_not_passed(hours_left, percent):
    at = STARTS - timedelta(hours=hours_left)

    assert refund_percent(policy=POLICY, starts_at=STARTS, at=at) == percent


def test_the_empty_policy_refunds_everything_until_the_start():
    assert refund_percent(policy=[], starts_at=STARTS, at=STARTS - timedelta(seconds=1)) == 100
    assert refund_percent(policy=[], starts_at=STARTS, at=STARTS) == 0


def test_a_policy_is_parsed_from_its_stored_form():
    assert (
        parse_policy([{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]) == POLICY
    )
    assert parse_policy(None) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"hours_before": -1, "percent": 50}], "greater than or equal to 0"),
        ([{"hours_before": 10, "percent": 101}], "less than or equal to 100"),
        ([{"hours_before": "10", "percent": 50}], "valid integer"),
        ([{"hours_before": 48, "percent": 50}, {"hours_before": 168, "percent": 100}], "most hours"),
        ([{"hours_before": 48, "percent": 50}, {"hours_before": 48, "percent": 20}], "most hours"),
        ([{"hours_before": 168, "percent": 50}, {"hours_before": 48, "percent": 80}], "cannot refund more"),
        ([{"hours_before": 1}], "Field required"),
    ],
)
def test_a_policy_out_of_range_or_order_is_refused(raw, message):
    with pytest.raises((ValidationError, ValueError), match=message):
        parse_policy(raw)


def test_the_refund_is_rounded_down_to_whole_cents():
    assert refund_cents(amount_cents=4999, percent=50) == 2499
    assert refund_cents(amount_cents=4500, percent=0) == 0
