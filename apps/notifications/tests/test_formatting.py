"""Money and times as an email shows them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from apps.notifications.formatting import format_event_time, format_money

pytestmark = pytest.mark.embedded


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (4250, "EUR", "€42.50"),
        (123456, "USD", "$1,234.56"),
        (5, "GBP", "£0.05"),
        (0, "EUR", "€0.00"),
        (1200, "JPY", "¥1,200"),
        (4250, "CHF", "CHF 42.50"),
        (4250, "CAD", "CAD 42.50"),
        (1250, "BHD", "BHD 1.250"),
    ],
)
def test_money_is_shown_in_major_units_with_its_currency(amount: int, currency: str, shown: str) -> None:
    assert format_money(amount, currency) == shown


def test_event_times_are_shown_in_utc_and_say_so() -> None:
    berlin_evening = datetime(2031, 6, 14, 21, 30, tzinfo=timezone(timedelta(hours=2)))

    assert format_event_time(berlin_evening) == "Saturday 14 June 2031 at 19:30 UTC"
    assert format_event_time("2031-01-05T08:05:00Z") == "Sunday 5 January 2031 at 08:05 UTC"
