"""A buyer stuck behind their own booking on PostgreSQL's lock timeout hears 409, not 500.

PostgreSQL only: SQLite's IMMEDIATE transactions queue the same requests instead of timing out.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from apps.bookings.models import Booking, BuyerAdmission
from apps.bookings.tests.support import arena, book, claimable, client_for, error_of
from ticketflow import db

pytestmark = [pytest.mark.services]
racing_db = pytest.mark.django_db(databases=["default", "documents"], transaction=True)


@racing_db
def test_a_buyer_kept_waiting_by_their_own_booking_is_told_to_wait_not_500() -> None:
    seats = arena()
    ada, user = client_for("ada@example.com")
    locked, done = threading.Event(), threading.Event()

    def hold_the_buyers_turn() -> None:
        try:
            with db.atomic("default"):
                BuyerAdmission.objects.bulk_create(
                    [BuyerAdmission(user_id=user.id)], update_conflicts=True, unique_fields=["user_id"],
                    update_fields=["last_admitted_at"],
                )  # fmt: skip
                locked.set()
                done.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_buyers_turn)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        response = book(ada, seats[0:2])
    finally:
        done.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")

    assert error_of(response)["code"] == "booking_in_progress"
    assert not Booking.objects.filter(user_id=user.id).exists()
    assert claimable(seats[0:2])
