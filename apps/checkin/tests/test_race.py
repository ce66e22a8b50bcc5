"""Twenty doors scan one ticket at the same instant on real PostgreSQL: exactly one lets it in."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connections

from apps.checkin.models import Scan, TicketStatus
from apps.checkin.services import scan_redeem
from apps.checkin.tests.conftest import book

DOORS = 20

pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(120),
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def race(work: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    start = threading.Barrier(len(work))
    answers: list[str] = []
    errors: list[str] = []

    def door(kwargs: dict[str, str]) -> None:
        try:
            start.wait(timeout=30)
            answers.append(scan_redeem(**kwargs).result)
        except BaseException as error:  # the assertion below names it
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=door, args=(kwargs,)) for kwargs in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers, errors


def test_twenty_doors_scanning_one_ticket_give_exactly_one_ok() -> None:
    assert connections["default"].vendor == "postgresql"
    booking = book(seats=1)
    [ticket] = booking.tickets()

    answers, errors = race(
        [
            {"event_id": booking.event_id, "secret": ticket.secret, "nonce": f"door-{n}:1"}
            for n in range(DOORS)
        ]
    )

    assert errors == []
    assert Counter(answers) == {"ok": 1, "already_redeemed": DOORS - 1}
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CHECKED_IN
    assert Scan.objects.filter(accepted=True).count() == 1
    assert Scan.objects.count() == DOORS


def test_twenty_retries_of_one_scan_write_one_row_and_all_hear_ok() -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()

    answers, errors = race(
        [
            {"event_id": booking.event_id, "secret": ticket.secret, "nonce": "door-1:retried"}
            for _ in range(DOORS)
        ]
    )

    assert errors == []
    assert answers == ["ok"] * DOORS
    assert Scan.objects.count() == 1
