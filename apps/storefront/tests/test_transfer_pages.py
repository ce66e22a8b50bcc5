"""The transfer pages without a browser: who may see them and how a refusal reads."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.bookings.models import TicketTransfer
from apps.bookings.services import Buyer, booking_create, transfer_token
from apps.catalog.services import event_change
from apps.checkin.models import Ticket
from apps.storefront.tests.conftest import Shop, drain, seat_id

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def confirmed_booking(shop: Shop):
    event = shop.event()
    ada = shop.buyer()
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(ada.pk), email=ada.email, name=ada.name),
        event_id=str(event.pk),
        seat_ids=[seat_id(event, "Stalls", "A", 1)],
        payment_method="pm_card_visa",
    )
    drain()
    return event, ada, booking, Ticket.objects.get(booking_id=booking.pk)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_another_buyers_booking_has_no_transfer_page(shop: Shop) -> None:
    _, _, booking, ticket = confirmed_booking(shop)
    bea = shop.buyer("Bea Other")

    page = signed_in(bea).get(f"/bookings/{booking.pk}/transfer")
    offer = signed_in(bea).post(
        f"/bookings/{booking.pk}/transfer", {"ticket_ids": [str(ticket.pk)], "email": "x@example.com"}
    )

    assert (page.status_code, offer.status_code) == (404, 404)
    assert not TicketTransfer.objects.exists()


def test_a_forbidden_transfer_is_explained_on_the_form(shop: Shop) -> None:
    event, ada, booking, ticket = confirmed_booking(shop)
    event_change(event_id=str(event.pk), changes={"transfers_allowed": False})
    drain()

    response = signed_in(ada).post(
        f"/bookings/{booking.pk}/transfer", {"ticket_ids": [str(ticket.pk)], "email": "bea@example.com"}
    )

    assert response.status_code == 409
    assert "The organiser does not allow ticket transfers for this event." in response.content.decode()
    assert not TicketTransfer.objects.exists()


def test_the_accept_link_refuses_another_address_and_asks_strangers_to_sign_in(shop: Shop) -> None:
    _, ada, booking, ticket = confirmed_booking(shop)
    bea, cy = shop.buyer("Bea Recipient"), shop.buyer("Cy Stranger")
    signed_in(ada).post(
        f"/bookings/{booking.pk}/transfer", {"ticket_ids": [str(ticket.pk)], "email": bea.email}
    )
    token = transfer_token(TicketTransfer.objects.get())

    anonymous = Client().get(f"/transfers/{token}")
    wrong = signed_in(cy).post(f"/transfers/{token}")

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login?next=/transfers/")
    assert wrong.status_code == 403
    assert "sign in with the address the link was sent to" in wrong.content.decode()
    assert TicketTransfer.objects.get().status == TicketTransfer.Status.PENDING
