"""Ticket transfers across contexts: bookings takes the offer and the acceptance, checkin
revokes the old secret and issues a new one, notifications emails the link and the ticket.

Checkin and bookings never import each other: checkin learns of the acceptance from
``ticket.transfer-accepted`` and answers with ``tickets.transferred``.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings.models import Booking, BookingTicket, TicketTransfer
from apps.bookings.services import booking_cancel
from apps.catalog.services import event_change
from apps.checkin.models import Ticket
from apps.checkin.services import scan_redeem
from apps.notifications import consumers as notifications
from apps.notifications.models import Notification
from tests.support.saga import book
from ticketflow.messaging.dispatch import Outcome, apply
from ticketflow.messaging.envelope import decode
from ticketflow.messaging.handlers import subscribers
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

FLOW = (Topic.TICKET_TRANSFER_REQUESTED, Topic.TICKET_TRANSFER_ACCEPTED, Topic.TICKETS_TRANSFERRED)
HANDLERS = {
    Topic.TICKET_TRANSFER_REQUESTED: "on_ticket_transfer_requested",
    Topic.TICKETS_TRANSFERRED: "on_tickets_transferred",
}


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def tickets_of(user, booking_id: str) -> dict[str, dict]:
    response = client_of(user).get(f"/api/bookings/{booking_id}")
    assert response.status_code == 200
    return {t["seat_id"]: t for t in response.json()["tickets"]}


def offer(user, booking_id: str, ticket_ids: list[str], email: str):
    return client_of(user).post(
        f"/api/bookings/{booking_id}/transfers", {"ticket_ids": ticket_ids, "email": email}, format="json"
    )


def accept_token(recipient_email: str) -> str:
    """The token of the accept link in the offer email sent to ``recipient_email``."""
    [email] = [m for m in mail.outbox if m.to == [recipient_email] and "sent you tickets" in m.subject]
    return re.search(r"/transfers/([A-Za-z0-9_:.-]+)", email.body).group(1)


def error(response, status: int) -> str:
    assert response.status_code == status, response.content
    return response.json()["error"]["code"]


@pytest.fixture
def confirmed(broker, concert, make_buyer):
    """Ada's confirmed booking of two seats with its tickets, and Bea who will receive one."""
    ada, bea = make_buyer("Ada"), make_buyer("Bea")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()
    mail.outbox.clear()
    return ada, bea, booking_id, tickets_of(ada, booking_id)


def test_a_transfer_revokes_the_old_code_and_the_recipients_new_code_is_admitted(
    broker, concert, confirmed
) -> None:
    ada, bea, booking_id, tickets = confirmed
    given, kept = tickets[concert.seat_ids[0]], tickets[concert.seat_ids[1]]

    offered = offer(ada, booking_id, [given["id"]], bea.email.upper())
    broker.settle()
    accepted = client_of(bea).post(f"/api/transfers/{accept_token(bea.email.upper())}/accept")
    broker.settle()

    assert offered.status_code == 201, offered.content
    assert accepted.status_code == 202, accepted.content
    [received] = client_of(bea).get("/api/transfers/received").json()["results"]
    assert received["status"] == "COMPLETED"
    [new] = received["tickets"]
    assert (new["replaces"], new["seat_id"], new["seat_label"]) == (
        given["id"],
        concert.seat_ids[0],
        "Hall, row A, seat 1",
    )
    assert new["secret"] != given["secret"]
    assert len(new["secret"]) == 130
    old_scan = scan_redeem(event_id=concert.event_id, secret=given["secret"], nonce="gate-1:0001")
    new_scan = scan_redeem(event_id=concert.event_id, secret=new["secret"], nonce="gate-1:0002")
    kept_scan = scan_redeem(event_id=concert.event_id, secret=kept["secret"], nonce="gate-1:0003")
    broker.settle()
    assert (old_scan.result, old_scan.scan.reason) == ("revoked", "revoked: transferred")
    assert (new_scan.result, kept_scan.result) == ("ok", "ok")
    # The owner sees the ticket as transferred, never the recipient's secret.
    owner_view = client_of(ada).get(f"/api/bookings/{booking_id}").json()
    assert {t["seat_id"]: t["status"] for t in owner_view["tickets"]} == {
        concert.seat_ids[0]: "transferred",
        concert.seat_ids[1]: "checked_in",
    }
    assert new["secret"] not in str(owner_view)
    [listed] = client_of(ada).get(f"/api/bookings/{booking_id}/transfers").json()
    assert (listed["status"], listed["recipient_email"]) == ("COMPLETED", bea.email.upper())
    assert "tickets" not in listed
    # The recipient got the offer, then their ticket with its QR code.
    [ticket_email] = [m for m in mail.outbox if m.subject == "Your tickets for Test Concert"]
    assert ticket_email.to == [bea.email]
    assert new["secret"] in ticket_email.body
    assert len([p for p in ticket_email.attachments if p.get_content_type() == "image/png"]) == 1


def test_every_event_of_the_transfer_delivered_twice_changes_nothing(broker, concert, confirmed) -> None:
    ada, bea, booking_id, tickets = confirmed
    offer(ada, booking_id, [tickets[concert.seat_ids[0]]["id"]], bea.email)
    broker.settle()
    client_of(bea).post(f"/api/transfers/{accept_token(bea.email)}/accept")
    broker.settle()
    rows = [OutboxMessage.objects.using(alias).filter(topic__in=FLOW) for alias in ("default", "documents")]
    flow = [row for found in rows for row in found]
    assert sorted(row.topic for row in flow) == sorted(FLOW)

    def state() -> tuple:
        transfer = TicketTransfer.objects.get()
        return (
            sorted(Ticket.objects.values_list("id", "status", "version")),
            sorted(BookingTicket.objects.values_list("id", "status")),
            (transfer.status, transfer.version, transfer.tickets),
            Booking.objects.get(pk=booking_id).version,
            sorted(Notification.objects.values_list("kind", flat=True)),
            OutboxMessage.objects.using("default").count() + OutboxMessage.objects.using("documents").count(),
            len(mail.outbox),
        )

    before = state()
    for row in flow:
        envelope = decode(row.body)
        for context in subscribers(row.topic):
            # The same event again: the inbox drops it.
            assert apply(envelope, context) == Outcome.DUPLICATE
            if context == "notifications":
                # Past the inbox, the email owed for this event already exists.
                getattr(notifications, HANDLERS[row.topic])(envelope)
            else:
                # A new envelope id gets past the inbox: the handler itself must ignore the copy.
                assert apply(dataclasses.replace(envelope, id=uuid.uuid4()), context) == Outcome.APPLIED
    broker.settle()

    assert state() == before
    assert before[4].count("transfer_offered") == 1
    assert before[4].count("transfer_received") == 1


def test_an_acceptance_that_arrives_after_the_booking_was_cancelled_issues_no_ticket(
    broker, concert, confirmed
) -> None:
    ada, bea, booking_id, tickets = confirmed
    given = tickets[concert.seat_ids[0]]
    offer(ada, booking_id, [given["id"]], bea.email)
    broker.settle()
    client_of(bea).post(f"/api/transfers/{accept_token(bea.email)}/accept")

    # The cancellation overtakes the acceptance on its way to checkin.
    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle(skip=[Topic.TICKET_TRANSFER_ACCEPTED])
    broker.settle()

    [received] = client_of(bea).get("/api/transfers/received").json()["results"]
    assert (received["status"], received["tickets"]) == ("REFUSED", [])
    assert received["reason"] == "the booking was cancelled or refunded"
    assert Ticket.objects.filter(transferred_from__isnull=False).count() == 0
    assert (
        scan_redeem(event_id=concert.event_id, secret=given["secret"], nonce="gate-1:0009").result
        == "revoked"
    )
    assert not [m for m in mail.outbox if m.subject.startswith("Your tickets for")]


def test_refusals_answer_clear_errors_and_nobody_sees_anothers_booking(
    broker, concert, confirmed, make_buyer
) -> None:
    ada, bea, booking_id, tickets = confirmed
    first, second = tickets[concert.seat_ids[0]]["id"], tickets[concert.seat_ids[1]]["id"]

    assert error(offer(bea, booking_id, [first], "cy@example.com"), 404) == "not_found"
    assert error(offer(ada, str(uuid.uuid4()), [first], "cy@example.com"), 404) == "not_found"
    assert error(offer(ada, "not-a-uuid", [first], "cy@example.com"), 404) == "not_found"
    assert error(client_of(bea).get(f"/api/bookings/{booking_id}/transfers"), 404) == "not_found"
    assert error(offer(ada, booking_id, [first], ada.email.upper()), 400) == "transfer_to_self"
    assert error(offer(ada, booking_id, [str(uuid.uuid4())], "cy@example.com"), 400) == "unknown_ticket"
    assert error(offer(ada, booking_id, [first, first], "cy@example.com"), 400) == "invalid"
    assert error(offer(ada, booking_id, [], "cy@example.com"), 400) == "invalid"
    assert error(offer(ada, booking_id, [first], "not an address"), 400) == "invalid"
    scan_redeem(event_id=concert.event_id, secret=tickets[concert.seat_ids[1]]["secret"], nonce="gate-2:0001")
    broker.settle()
    assert error(offer(ada, booking_id, [second], "cy@example.com"), 409) == "ticket_checked_in"

    assert offer(ada, booking_id, [first], "cy@example.com").status_code == 201
    assert error(offer(ada, booking_id, [first], "dee@example.com"), 409) == "transfer_pending"
    broker.settle()
    token = accept_token("cy@example.com")
    # Only the address the link was sent to may accept it; a forged link is unknown.
    assert error(client_of(bea).post(f"/api/transfers/{token}/accept"), 403) == "wrong_recipient"
    assert error(client_of(bea).post(f"/api/transfers/{token[:-2]}xx/accept"), 404) == "invalid_transfer_link"
    assert error(APIClient().post(f"/api/transfers/{token}/accept"), 401) == "not_authenticated"
    [pending] = client_of(ada).get(f"/api/bookings/{booking_id}/transfers").json()
    assert client_of(bea).delete(f"/api/bookings/{booking_id}/transfers/{pending['id']}").status_code == 404
    cancelled = client_of(ada).delete(f"/api/bookings/{booking_id}/transfers/{pending['id']}")
    assert cancelled.json()["status"] == "CANCELLED"
    assert error(client_of(ada).delete(f"/api/bookings/{booking_id}/transfers/{pending['id']}"), 409) == (
        "transfer_not_pending"
    )
    cy = make_buyer("Cy")
    cy.email = "cy@example.com"
    assert error(client_of(cy).post(f"/api/transfers/{token}/accept"), 409) == "transfer_cancelled"


def test_cancelling_the_booking_withdraws_its_pending_offers(broker, concert, confirmed, make_buyer) -> None:
    ada, _, booking_id, tickets = confirmed
    first = tickets[concert.seat_ids[0]]["id"]
    assert offer(ada, booking_id, [first], "cy@example.com").status_code == 201
    broker.settle()
    token = accept_token("cy@example.com")

    booking_cancel(booking_id=booking_id, user_id=str(ada.id))

    [withdrawn] = client_of(ada).get(f"/api/bookings/{booking_id}/transfers").json()
    assert (withdrawn["status"], withdrawn["reason"]) == ("CANCELLED", "The booking was cancelled.")
    cy = make_buyer("Cy")
    cy.email = "cy@example.com"
    assert error(client_of(cy).post(f"/api/transfers/{token}/accept"), 409) == "transfer_cancelled"


def test_an_event_that_forbids_transfers_refuses_them_and_a_started_one_too(
    broker, concert, confirmed
) -> None:
    ada, bea, booking_id, tickets = confirmed
    first = tickets[concert.seat_ids[0]]["id"]
    assert offer(ada, booking_id, [first], bea.email).status_code == 201
    broker.settle()
    token = accept_token(bea.email)

    event_change(event_id=concert.event_id, changes={"transfers_allowed": False})
    broker.settle()

    assert error(offer(ada, booking_id, [tickets[concert.seat_ids[1]]["id"]], bea.email), 409) == (
        "transfers_not_allowed"
    )
    assert error(client_of(bea).post(f"/api/transfers/{token}/accept"), 409) == "transfers_not_allowed"
    event_change(event_id=concert.event_id, changes={"transfers_allowed": True})
    broker.settle()
    Booking.objects.filter(pk=booking_id).update(event_starts_at=timezone.now() - timedelta(minutes=1))
    assert error(offer(ada, booking_id, [first], "cy@example.com"), 409) == "too_late"
    assert error(client_of(bea).post(f"/api/transfers/{token}/accept"), 409) == "too_late"


def test_a_booking_not_confirmed_cannot_transfer(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:1])

    assert (
        error(offer(ada, booking_id, [str(uuid.uuid4())], "bea@example.com"), 409) == "booking_not_confirmed"
    )


def test_the_recipients_ticket_shows_its_scans_and_a_later_cancellation_on_their_transfer(
    broker, concert, confirmed
) -> None:
    ada, bea, booking_id, tickets = confirmed
    offer(ada, booking_id, [tickets[concert.seat_ids[0]]["id"]], bea.email)
    broker.settle()
    client_of(bea).post(f"/api/transfers/{accept_token(bea.email)}/accept")
    broker.settle()
    [new] = client_of(bea).get("/api/transfers/received").json()["results"][0]["tickets"]

    scan_redeem(event_id=concert.event_id, secret=new["secret"], nonce="gate-3:0001")
    broker.settle()
    after_scan = client_of(bea).get("/api/transfers/received").json()["results"][0]["tickets"]
    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle()
    after_cancel = client_of(bea).get("/api/transfers/received").json()["results"][0]["tickets"]

    assert [t["status"] for t in after_scan] == ["checked_in"]
    assert [t["status"] for t in after_cancel] == ["revoked"]
    # The owner's list keeps its own two tickets: none of the recipient's leaks into it.
    assert sorted(BookingTicket.objects.filter(booking_id=booking_id).values_list("id", flat=True)) == sorted(
        uuid.UUID(t["id"]) for t in tickets.values()
    )
    assert {t["status"] for t in tickets_of(ada, booking_id).values()} == {"transferred", "revoked"}


def test_a_revocation_that_overtakes_the_transfer_still_reaches_the_recipients_ticket(
    broker, concert, confirmed
) -> None:
    ada, bea, booking_id, tickets = confirmed
    offer(ada, booking_id, [tickets[concert.seat_ids[0]]["id"]], bea.email)
    broker.settle()
    client_of(bea).post(f"/api/transfers/{accept_token(bea.email)}/accept")
    broker.deliver(Topic.TICKET_TRANSFER_ACCEPTED)

    # Checkin issued the new ticket; the cancellation revokes it before bookings hears of it.
    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle(skip=[Topic.TICKETS_TRANSFERRED])
    broker.settle()

    [received] = client_of(bea).get("/api/transfers/received").json()["results"]
    assert received["status"] == "COMPLETED"
    assert [t["status"] for t in received["tickets"]] == ["revoked"]
    assert BookingTicket.objects.filter(booking_id=booking_id).count() == 2
