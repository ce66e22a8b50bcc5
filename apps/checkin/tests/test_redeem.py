"""Scanning at the door: answers, retries by nonce, refusals, and offline uploads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.checkin import signing
from apps.checkin.models import Scan, TicketStatus
from apps.checkin.services import OfflineScan, scan_redeem, scans_upload
from apps.checkin.tests.conftest import book, deliver, events_of, nonce
from ticketflow.errors import Conflict
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def redeem(booking_event: str, secret: str, **options: object) -> object:
    return scan_redeem(event_id=booking_event, secret=secret, nonce=options.pop("nonce", nonce()), **options)


def test_the_first_entry_is_ok_and_the_next_is_already_redeemed_with_the_first_time() -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()

    first = redeem(booking.event_id, ticket.secret)
    second = redeem(booking.event_id, ticket.secret)

    assert first.result == "ok"
    assert second.result == "already_redeemed"
    assert second.first_scan_at == first.scan.scanned_at
    ticket.refresh_from_db()
    assert (ticket.status, ticket.admitted_by_id) == (TicketStatus.CHECKED_IN, first.scan.pk)
    scanned = events_of(Topic.TICKET_SCANNED)
    assert [(e["result"], e["accepted"]) for e in scanned] == [("ok", True), ("already_redeemed", False)]


def test_the_same_nonce_twice_gives_the_same_answer_and_one_row() -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()

    first = redeem(booking.event_id, ticket.secret, nonce="door-1:0001")
    again = redeem(booking.event_id, ticket.secret, nonce="door-1:0001")

    assert (first.result, again.result) == ("ok", "ok")
    assert again.replayed
    assert again.scan.pk == first.scan.pk
    assert Scan.objects.count() == 1
    assert len(events_of(Topic.TICKET_SCANNED)) == 1


def test_a_nonce_reused_for_another_ticket_is_a_conflict() -> None:
    booking = book(seats=2)
    one, two = booking.tickets()
    redeem(booking.event_id, one.secret, nonce="door-1:0002")

    with pytest.raises(Conflict) as raised:
        redeem(booking.event_id, two.secret, nonce="door-1:0002")

    assert raised.value.code == "nonce_reused"
    assert Scan.objects.count() == 1


def test_a_cancelled_bookings_tickets_are_refused() -> None:
    booking = book(seats=2)
    deliver(booking.cancelled())

    answers = [redeem(booking.event_id, t.secret).result for t in booking.tickets()]

    assert answers == ["revoked", "revoked"]
    assert {t.status for t in booking.tickets()} == {TicketStatus.REVOKED}


def test_a_forged_or_altered_secret_is_unknown() -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()
    data = bytearray(signing.unb64url(ticket.secret))
    altered = bytearray(data)
    altered[5] ^= 0x01  # another ticket id, same signature
    resigned = bytearray(data)
    resigned[-1] ^= 0x01  # the signature itself

    answers = [
        redeem(booking.event_id, signing.b64url(bytes(altered))),
        redeem(booking.event_id, signing.b64url(bytes(resigned))),
        redeem(booking.event_id, "TICKETFLOW:TF-7Q2K-9MRX"),
    ]

    assert [(a.result, a.ticket) for a in answers] == [("unknown", None)] * 3
    assert [a.scan.reason for a in answers] == [
        "signature does not verify",
        "signature does not verify",
        "not a ticket: not base64url",
    ]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VALID


def test_a_genuine_ticket_of_another_event_is_the_wrong_event() -> None:
    here = book(seats=1)
    elsewhere = book(seats=1)
    [ticket] = elsewhere.tickets()

    answer = redeem(here.event_id, ticket.secret)

    assert answer.result == "wrong_event"
    assert answer.scan.reason == "a ticket for Midsummer Strings"
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.VALID


def test_exits_are_logged_and_do_not_let_the_ticket_in_again() -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()
    redeem(booking.event_id, ticket.secret)

    leaving = redeem(booking.event_id, ticket.secret, scan_type="exit")
    back = redeem(booking.event_id, ticket.secret)

    assert (leaving.result, back.result) == ("ok", "already_redeemed")


def test_an_offline_batch_that_conflicts_with_online_scans_resolves_first_wins_and_logs_the_losers() -> None:
    booking = book(seats=3)
    early, late, untouched = booking.tickets()
    now = timezone.now()
    online_early = redeem(booking.event_id, early.secret)
    online_late = redeem(booking.event_id, late.secret)

    # Offline: "early" was scanned before its online entry, "late" after it; "untouched" twice.
    uploaded = scans_upload(
        event_id=booking.event_id,
        scans=[
            OfflineScan(secret=untouched.secret, nonce="dev-b:1", scanned_at=now - timedelta(minutes=2)),
            OfflineScan(secret=early.secret, nonce="dev-a:1", scanned_at=now - timedelta(minutes=10)),
            OfflineScan(secret=late.secret, nonce="dev-a:2", scanned_at=now + timedelta(seconds=1)),
            OfflineScan(secret=untouched.secret, nonce="dev-a:3", scanned_at=now - timedelta(minutes=5)),
        ],
    )

    assert [(u.nonce, u.outcome.result) for u in uploaded] == [
        ("dev-b:1", "already_redeemed"),
        ("dev-a:1", "ok"),
        ("dev-a:2", "already_redeemed"),
        ("dev-a:3", "ok"),
    ]
    for ticket in (early, late, untouched):
        ticket.refresh_from_db()
    assert early.first_scan_at == now - timedelta(minutes=10)
    assert early.admitted_by.nonce == "dev-a:1"
    assert late.admitted_by_id == online_late.scan.pk
    assert untouched.admitted_by.nonce == "dev-a:3"
    losers = {s.nonce: (s.result, s.reason) for s in Scan.objects.filter(accepted=False)}
    assert losers == {
        "dev-a:2": ("already_redeemed", f"already redeemed at {late.first_scan_at}"),
        "dev-b:1": ("already_redeemed", f"already redeemed at {untouched.first_scan_at}"),
        # Answered "ok" at the door and still recorded so; no longer the admitting scan.
        online_early.scan.nonce: (
            "ok",
            f"duplicate: an earlier offline scan at {early.first_scan_at} admitted it",
        ),
    }


def test_uploading_the_same_batch_again_changes_nothing() -> None:
    booking = book(seats=1)
    [ticket] = booking.tickets()
    batch = [OfflineScan(secret=ticket.secret, nonce="dev-c:1", scanned_at=timezone.now())]
    scans_upload(event_id=booking.event_id, scans=batch)

    again = scans_upload(event_id=booking.event_id, scans=batch)

    assert again[0].outcome.replayed
    assert again[0].outcome.result == "ok"
    assert Scan.objects.count() == 1
