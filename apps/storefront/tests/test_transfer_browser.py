"""Transferring a ticket in a real browser: the owner's form, then the recipient's accept page.

Headless Chromium against the live server; the saga's events are applied with ``drain()``.
The screenshot of the recipient's tickets lands under artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.bookings.models import TicketTransfer
from apps.bookings.services import Buyer, booking_create, transfer_token
from apps.checkin.models import Ticket
from apps.checkin.services import scan_redeem
from apps.storefront.tests.conftest import Browsing, Shop, drain, screenshot, seat_id
from apps.storefront.tests.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def test_an_owner_transfers_a_ticket_and_the_recipient_accepts_it_on_the_site(
    shop: Shop, browsing: Browsing
) -> None:
    event = shop.event()
    ada, bea = shop.buyer(), shop.buyer("Bea Recipient")
    seats = [seat_id(event, "Stalls", "A", n) for n in (1, 2)]
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(ada.pk), email=ada.email, name=ada.name),
        event_id=str(event.pk),
        seat_ids=seats,
        payment_method="pm_card_visa",
    )
    drain()
    old = Ticket.objects.get(booking_id=booking.pk, seat_id=seats[0])

    owner = browsing.session()
    log_in(owner, ada.email, next_path=f"/bookings/{booking.pk}")
    owner.locator("#transfer-link").click()
    owner.get_by_label("Stalls, row A, seat 1").check()
    owner.get_by_label("Their email address").fill(bea.email)
    owner.get_by_role("button", name="Send the tickets").click()
    expect(owner.get_by_text(f"We emailed {bea.email} a link to accept the tickets.")).to_be_visible()
    drain()

    recipient = browsing.session()
    token = transfer_token(TicketTransfer.objects.get())
    log_in(recipient, bea.email, next_path=f"/transfers/{token}")
    recipient.get_by_role("button", name="Accept the tickets").click()
    expect(recipient.get_by_text("Accepted: your new tickets are on their way")).to_be_visible()
    drain()
    recipient.reload()

    card = recipient.locator("[data-transfer-status]")
    expect(card).to_have_attribute("data-transfer-status", "COMPLETED")
    new = Ticket.objects.get(transferred_from=old)
    ticket = card.locator(f'[data-ticket="{new.pk}"]')
    expect(ticket.locator("svg.qr")).to_be_visible()
    expect(ticket).to_contain_text("Stalls, row A, seat 1")
    screenshot(recipient, "transfer-received")
    assert scan_redeem(event_id=str(event.pk), secret=old.secret, nonce="door:1").result == "revoked"
    assert scan_redeem(event_id=str(event.pk), secret=new.secret, nonce="door:2").result == "ok"
    owner.goto(f"/bookings/{booking.pk}")
    expect(owner.get_by_text("Transferred", exact=True)).to_be_visible()
