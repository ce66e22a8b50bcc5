"""The booking pages through Django's test client: errors, ownership, validation, idempotency."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.bookings.selectors import booking_get, booking_list_for_user
from apps.catalog.services import event_set_status
from apps.checkin.services import scan_redeem
from apps.storefront.display import availability_badge
from apps.storefront.tests.conftest import PASSWORD, Shop, drain, seat_id
from apps.storefront.tickets_pdf import TicketPage, tickets_pdf
from apps.storefront.views import bookings as bookings_views
from apps.storefront.views.auth import safe_next
from ticketflow import seat_claims
from ticketflow.messaging.sale import SaleWindow

pytestmark = pytest.mark.embedded

# Tests that publish events and run the saga commit for real (the relay, after-commit cache
# invalidation); the others only read and roll back.
saga_db = pytest.mark.django_db(databases=["default", "documents"], transaction=True)
read_db = pytest.mark.django_db(databases=["default", "documents"])

SITE_STYLE = "/static/storefront/css/site.css"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def checkout(
    client: Client, event: Any, seats: list[str], *, card: str = "pm_card_visa", token: str = ""
) -> Any:
    return client.post(
        f"/events/{event.pk}/checkout",
        {"seat": seats, "payment_method": card, "token": token or uuid.uuid4().hex},
    )


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def booking_of(response: Any) -> str:
    match = re.fullmatch(r"/bookings/([0-9a-f-]{36})", response["Location"])
    assert match, response["Location"]
    return match[1]


# --- listing and event page -------------------------------------------------------------------


@saga_db
def test_the_listing_shows_upcoming_events_with_prices_and_availability(shop: Shop, client: Client) -> None:
    event = shop.event(name="Midsummer Strings")

    response = client.get("/")

    assert response.status_code == 200
    body = text(response)
    assert f'href="/events/{event.pk}"' in body
    assert "Midsummer Strings" in body
    assert "from £42" in body
    assert '<span class="badge badge--on_sale">On sale</span>' in body
    assert "1 upcoming event" in body


@saga_db
def test_search_filters_by_text_venue_and_date_and_answers_htmx_with_the_results_only(
    shop: Shop, client: Client
) -> None:
    strings = shop.event(name="Midsummer Strings", days=10)
    brass = shop.event(name="Winter Brass", days=40)
    later = (timezone.now() + timedelta(days=30)).date().isoformat()

    by_text = text(client.get("/", {"q": "brass"}))
    by_venue = text(client.get("/", {"q": strings.venue.name.upper()}))
    by_date = text(client.get("/", {"start": later}))
    partial = client.get("/", {"q": "strings"}, headers={"HX-Request": "true"})
    nonsense = client.get("/", {"start": "31/02/2025", "end": "soon", "page": "lots"})
    null = client.get("/", {"q": "jazz\x00"})
    whole_calendar = text(client.get("/", {"start": "0001-01-01", "end": "9999-12-31"}))

    assert "Winter Brass" in by_text
    assert "Midsummer Strings" not in by_text
    assert "1 event matches your search" in by_text
    assert "Midsummer Strings" in by_venue
    assert "Winter Brass" not in by_venue
    assert f"/events/{brass.pk}" in by_date
    assert f"/events/{strings.pk}" not in by_date
    assert partial.status_code == 200
    assert "<html" not in text(partial)
    assert "Midsummer Strings" in text(partial)
    assert 'hx-swap-oob="innerHTML"' in text(partial)
    assert nonsense.status_code == 200
    assert "Enter a valid date." in text(nonsense)
    assert null.status_code == 200
    assert "Null characters are not allowed." in text(null)
    assert "2 events match your search" in whole_calendar


@pytest.mark.parametrize(
    ("available", "capacity", "key", "label"),
    [
        (600, 600, "on_sale", "On sale"),
        (59, 600, "few_left", "Only 59 left"),
        (60, 600, "on_sale", "On sale"),
        (19, 28, "few_left", "Only 19 left"),
        (0, 600, "sold_out", "Sold out"),
    ],
)
def test_availability_badges(available: int, capacity: int, key: str, label: str) -> None:
    counts = {"AVAILABLE": available, "LOCKED": 0, "RESERVED": capacity - available}

    badge = availability_badge(
        SaleWindow("on_sale", ends_at=timezone.now() + timedelta(days=1)), counts=counts
    )

    assert (badge.key, badge.label) == (key, label)


@saga_db
def test_the_event_page_draws_the_seat_map_from_the_layout(shop: Shop, client: Client) -> None:
    event = shop.event()
    wanted = seat_id(event, "Circle", "A", 3)

    response = client.get(f"/events/{event.pk}", {"seats": f"{wanted},not-a-seat"})

    body = text(response)
    assert response.status_code == 200
    assert f'data-preselect="{wanted}"' in body
    assert '"states": "' + "a" * 28 + '"' in body
    assert '"label": "Premium", "cents": 6500' in body
    assert 'Up to 4 seats per booking. <span id="available-count">28</span> of 28 still available.' in body


@saga_db
def test_seat_states_show_the_buyers_own_seats_as_theirs(shop: Shop) -> None:
    event = shop.event()
    buyer, other = shop.buyer("Ada Lovelace"), shop.buyer("Alan Turing")
    mine = signed_in(buyer)
    checkout(mine, event, [seat_id(event, "Stalls", "A", 1)])
    drain()

    own = mine.get(f"/events/{event.pk}/seats").json()["states"]
    theirs = signed_in(other).get(f"/events/{event.pk}/seats").json()["states"]
    anonymous = Client().get(f"/events/{event.pk}/seats")

    assert own == "y" + "a" * 27
    assert theirs == "s" + "a" * 27
    assert anonymous.json()["available"] == 27
    assert anonymous["Cache-Control"] == "no-store"


# --- error pages and ownership ----------------------------------------------------------------


@read_db
@pytest.mark.parametrize(
    "path", ["/no-such-page", "/events/not-an-id", f"/events/{uuid.uuid4()}", "/events/x/seats"]
)
def test_not_found_pages_are_in_the_site_style(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 404
    body = text(response)
    assert SITE_STYLE in body
    assert "We couldn\u2019t find that page" in body
    assert '<a class="skip-link" href="#main">' in body
    assert '<main id="main"' in body


@read_db
@pytest.mark.urls("apps.storefront.tests.urls")
def test_forbidden_and_server_error_pages_are_in_the_site_style() -> None:
    forbidden = Client().get("/test-only/forbidden")
    broken = Client(raise_request_exception=False).get("/test-only/broken")

    assert forbidden.status_code == 403
    assert SITE_STYLE in text(forbidden)
    assert "You can\u2019t open this page" in text(forbidden)
    assert broken.status_code == 500
    assert SITE_STYLE in text(broken)
    assert "Something went wrong on our side" in text(broken)


@read_db
def test_a_bad_booking_id_is_a_404(shop: Shop) -> None:
    client = signed_in(shop.buyer())

    for path in (
        "/bookings/nonsense",
        f"/bookings/{uuid.uuid4()}",
        "/bookings/%27;--/status",
        f"/bookings/{uuid.uuid4()}/cancel",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert SITE_STYLE in text(response)


@saga_db
def test_someone_elses_booking_is_a_404(shop: Shop) -> None:
    event = shop.event()
    owner, stranger = shop.buyer("Ada Lovelace"), shop.buyer("Mallory Moriarty")
    booking_id = booking_of(checkout(signed_in(owner), event, [seat_id(event, "Stalls", "A", 2)]))
    drain()
    intruder = signed_in(stranger)

    pages = [
        intruder.get(f"/bookings/{booking_id}"),
        intruder.get(f"/bookings/{booking_id}/status"),
        intruder.get(f"/bookings/{booking_id}/cancel"),
        intruder.post(f"/bookings/{booking_id}/cancel"),
    ]

    assert [page.status_code for page in pages] == [404, 404, 404, 404]
    assert booking_get(booking_id=booking_id, user_id=str(owner.pk)).status == "CONFIRMED"
    assert "/login?next=" in Client().get(f"/bookings/{booking_id}")["Location"]


# --- checkout ---------------------------------------------------------------------------------


@saga_db
def test_checkout_needs_a_signed_in_buyer(shop: Shop, client: Client) -> None:
    event = shop.event()
    seat = seat_id(event, "Stalls", "A", 1)

    response = client.get(f"/events/{event.pk}/checkout", {"seat": seat})

    assert response.status_code == 302
    assert response["Location"].startswith("/login?next=")
    assert seat in response["Location"]


@saga_db
def test_checkout_shows_the_seats_the_total_and_the_test_cards(shop: Shop) -> None:
    event = shop.event()
    client = signed_in(shop.buyer())
    seats = [seat_id(event, "Stalls", "B", 1), seat_id(event, "Circle", "A", 1)]

    response = client.get(f"/events/{event.pk}/checkout", {"seat": seats})

    body = text(response)
    assert response.status_code == 200
    assert "Stalls, row B, seat 1" in body
    assert "Circle, row A, seat 1" in body
    assert '<strong id="order-total">£107.00</strong>' in body
    for card in ("pm_card_visa", "pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"):
        assert f'value="{card}"' in body
    assert "Visa — insufficient funds" in body
    assert "js.stripe.com" not in body
    assert re.search(r'<input type="hidden" name="token" value="[A-Za-z0-9_-]{32}"', body)


@saga_db
def test_checkout_uses_stripe_elements_only_with_stripe_and_a_publishable_key(
    shop: Shop, settings: Any
) -> None:
    event = shop.event()
    client = signed_in(shop.buyer())
    settings.PAYMENTS = {
        **settings.PAYMENTS,
        "PROVIDER": "stripe",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_storefront",
    }

    body = text(client.get(f"/events/{event.pk}/checkout", {"seat": seat_id(event, "Stalls", "A", 1)}))

    assert '<script src="https://js.stripe.com/v3/"></script>' in body
    assert 'data-stripe-key="pk_test_storefront"' in body
    assert 'value="pm_card_visa"' not in body


@pytest.mark.parametrize(
    ("seats", "card", "message"),
    [
        (["00000000-0000-0000-0000-000000000000"], "pm_card_visa", "not part of this event"),
        (["<script>alert(1)</script>"], "pm_card_visa", "not part of this event"),
        ([], "pm_card_visa", "Choose at least one seat."),
        ("five", "pm_card_visa", "You can book at most 4 seats at once for this event."),
        ("one", "pm_card_bogus", "Choose a card to pay with."),
        ("one", "", "Choose a card to pay with."),
        ("bad-token", "pm_card_visa", "This checkout form has expired; please reload the page."),
    ],
)
@saga_db
def test_checkout_validation_errors_render_and_keep_the_selection(
    shop: Shop, seats: Any, card: str, message: str
) -> None:
    event = shop.event()
    buyer = shop.buyer()
    token = ""
    if seats == "five":
        seats = [seat_id(event, "Stalls", "A", number) for number in range(1, 6)]
    elif seats in ("one", "bad-token"):
        token = "x" if seats == "bad-token" else ""
        seats = [seat_id(event, "Stalls", "A", 1)]

    response = checkout(signed_in(buyer), event, seats, card=card, token=token)

    assert response.status_code == 200
    body = text(response)
    assert message in body
    assert "<script>alert(1)</script>" not in body
    for seat in seats:
        assert f'name="seat" value="{seat}"' in body or "&lt;script&gt;" in body
    assert not booking_list_for_user(user_id=str(buyer.pk)).exists()


@saga_db
def test_checkout_explains_a_seat_someone_else_holds_before_booking(shop: Shop) -> None:
    event = shop.event()
    taken = seat_id(event, "Stalls", "A", 7)
    checkout(signed_in(shop.buyer("Ada Lovelace")), event, [taken])
    drain()
    latecomer = shop.buyer("Alan Turing")

    response = checkout(signed_in(latecomer), event, [taken, seat_id(event, "Stalls", "A", 8)])

    body = text(response)
    assert (
        "Sorry, someone else has just taken Stalls, row A, seat 7. Choose another seat and try again." in body
    )
    assert "Choose other seats" in body
    assert f"?seats={seat_id(event, 'Stalls', 'A', 8)}" in body
    assert not booking_list_for_user(user_id=str(latecomer.pk)).exists()


@saga_db
def test_checkout_refuses_an_event_that_is_not_on_sale(shop: Shop) -> None:
    event = shop.event()
    event_set_status(event_id=str(event.pk), status="cancelled")
    drain()
    buyer = shop.buyer()

    response = checkout(signed_in(buyer), event, [seat_id(event, "Stalls", "A", 1)])

    body = text(response)
    assert "Tickets for this event are not on sale (cancelled)." in body
    assert 'id="pay-button"' in body
    assert re.search(r'id="pay-button"\s+disabled', response.content.decode())
    assert not booking_list_for_user(user_id=str(buyer.pk)).exists()


@saga_db
def test_a_seat_taken_at_the_door_is_explained_with_the_seat_named(shop: Shop) -> None:
    event = shop.event()
    seat = seat_id(event, "Circle", "A", 8)
    checkout(signed_in(shop.buyer("Ada Lovelace")), event, [seat])
    buyer = shop.buyer("Alan Turing")
    late = signed_in(buyer)

    response = checkout(late, event, [seat])

    assert response.status_code == 200
    assert "Sorry, someone else has just taken Circle, row A, seat 8." in text(response)
    assert booking_list_for_user(user_id=str(buyer.pk)).count() == 0


@saga_db
def test_a_seat_lost_in_the_saga_is_explained_with_the_seats_named(shop: Shop) -> None:
    event = shop.event()
    seat = seat_id(event, "Circle", "A", 8)
    checkout(signed_in(shop.buyer("Ada Lovelace")), event, [seat])
    seat_claims.clear()  # the claims are lost (a Redis flush): the door lets the next buyer in
    late = signed_in(shop.buyer("Alan Turing"))
    booking_id = booking_of(checkout(late, event, [seat]))
    drain()

    body = text(late.get(f"/bookings/{booking_id}"))

    assert 'data-status="FAILED"' in body
    assert "Those seats were just taken" in body
    assert "Sorry, someone else got there first: Circle A8 is no longer available." in body
    assert f'href="/events/{event.pk}?seats={seat}"' in body


@saga_db
def test_a_double_submit_with_one_token_makes_one_booking(shop: Shop) -> None:
    event = shop.event()
    buyer = shop.buyer()
    client = signed_in(buyer)
    seats = [seat_id(event, "Stalls", "B", 4), seat_id(event, "Stalls", "B", 5)]
    token = "double-submit-token-0123456789"

    first = checkout(client, event, seats, token=token)
    drain()
    second = checkout(client, event, seats, token=token)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert booking_list_for_user(user_id=str(buyer.pk)).count() == 1


@saga_db
def test_a_reused_token_with_other_details_asks_before_booking_again(shop: Shop) -> None:
    event = shop.event()
    buyer = shop.buyer()
    client = signed_in(buyer)
    token = "reused-token-0123456789abcdef"
    checkout(client, event, [seat_id(event, "Stalls", "B", 9)], token=token)

    response = checkout(client, event, [seat_id(event, "Stalls", "B", 10)], token=token)

    body = text(response)
    assert "This checkout was already submitted with other details." in body
    assert f'value="{token}"' not in body
    assert booking_list_for_user(user_id=str(buyer.pk)).count() == 1


# --- the booking page, my bookings, cancelling ------------------------------------------------


@saga_db
def test_the_booking_page_follows_the_saga_and_the_partial_waits_quietly(shop: Shop, monkeypatch) -> None:
    monkeypatch.setattr(bookings_views, "STATUS_WAIT_SECONDS", 1)
    event = shop.event()
    client = signed_in(shop.buyer())
    booking_id = booking_of(checkout(client, event, [seat_id(event, "Circle", "A", 4)]))
    live = {"v": "1", "wait": "1"}

    pending = text(client.get(f"/bookings/{booking_id}"))
    began = time.monotonic()
    unchanged = client.get(f"/bookings/{booking_id}/status", live, headers={"HX-Request": "true"})
    waited = time.monotonic() - began
    drain()
    confirmed = client.get(f"/bookings/{booking_id}/status", live, headers={"HX-Request": "true"})

    assert "Reserving your seats…" in pending
    assert f'hx-get="/bookings/{booking_id}/status?v=1&amp;wait=1" hx-trigger="load delay:200ms"' in pending
    # Nothing new: the long poll answered after its wait, with the page as it was.
    assert unchanged.status_code == 200
    assert 'data-status="PENDING"' in text(unchanged)
    assert waited >= 0.9
    body = text(confirmed)
    assert 'data-status="CONFIRMED"' in body
    assert "hx-trigger" not in body
    assert '<svg role="img" aria-label="Ticket QR code for Circle, row A, seat 4"' in body
    assert f'href="/bookings/{booking_id}/tickets.pdf"' in body


@saga_db
def test_a_scan_at_the_door_shows_on_the_ticket_and_in_the_activity(shop: Shop) -> None:
    event = shop.event()
    client = signed_in(shop.buyer())
    booking_id = booking_of(checkout(client, event, [seat_id(event, "Circle", "A", 4)]))
    drain()
    [ticket] = booking_get(booking_id=booking_id, user_id="", is_staff=True).tickets.all()

    scan_redeem(event_id=str(event.pk), secret=ticket.secret, nonce="gate-2:00000001")
    drain()
    body = text(client.get(f"/bookings/{booking_id}"))

    assert '<p class="badge badge--ticket-checked_in">Checked in</p>' in body
    assert re.search(
        r"Ticket scanned at the door: Circle, row A, seat 4: entry admitted at \d\d:\d\d:\d\d UTC", body
    )


@saga_db
def test_the_tickets_pdf_has_a_page_per_ticket_and_only_for_its_buyer(shop: Shop) -> None:
    event = shop.event()
    buyer = signed_in(shop.buyer())
    booking_id = booking_of(
        checkout(buyer, event, [seat_id(event, "Stalls", "A", 1), seat_id(event, "Stalls", "A", 2)])
    )
    drain()

    response = buyer.get(f"/bookings/{booking_id}/tickets.pdf")
    someone_else = signed_in(shop.buyer("Grace Hopper")).get(f"/bookings/{booking_id}/tickets.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="tickets-tf-')
    assert response.content.startswith(b"%PDF-")
    assert response.content.count(b"/Type /Page\n") == 2
    assert someone_else.status_code == 404


@saga_db
def test_a_declined_payment_says_why_and_offers_the_same_seats_again(shop: Shop) -> None:
    event = shop.event()
    client = signed_in(shop.buyer())
    seats = [seat_id(event, "Stalls", "A", 3)]
    booking_id = booking_of(checkout(client, event, seats, card="pm_card_chargeDeclinedInsufficientFunds"))
    drain()

    body = text(client.get(f"/bookings/{booking_id}"))

    assert "Your card has insufficient funds" in body
    assert "Nothing was charged and your seats were released." in body
    assert f'href="/events/{event.pk}?seats={seats[0]}"' in body


@saga_db
def test_my_bookings_lists_the_buyers_bookings_only(shop: Shop) -> None:
    event = shop.event(name="Midsummer Strings")
    buyer = shop.buyer()
    client = signed_in(buyer)
    booking_id = booking_of(checkout(client, event, [seat_id(event, "Stalls", "A", 9)]))
    checkout(signed_in(shop.buyer("Someone Else")), event, [seat_id(event, "Stalls", "A", 10)])
    drain()

    body = text(client.get("/bookings"))

    assert body.count('class="card booking-row') == 1
    assert f'href="/bookings/{booking_id}"' in body
    assert "1 seat · £42.00" in body


@saga_db
def test_cancelling_asks_first_then_frees_the_seats_and_a_second_try_is_a_conflict(shop: Shop) -> None:
    event = shop.event()
    buyer = shop.buyer()
    client = signed_in(buyer)
    seat = seat_id(event, "Stalls", "A", 4)
    booking_id = booking_of(checkout(client, event, [seat]))
    drain()

    confirm = text(client.get(f"/bookings/{booking_id}/cancel"))
    cancelled = client.post(f"/bookings/{booking_id}/cancel", follow=True)
    drain()
    again = client.post(f"/bookings/{booking_id}/cancel", follow=True)

    assert "Cancel this booking?" in confirm
    assert "refunded in full" in confirm
    assert "is cancelled and its seats are back on sale. Your payment will be refunded in full." in text(
        cancelled
    )
    assert booking_get(booking_id=booking_id, user_id=str(buyer.pk)).status == "CANCELLED"
    assert client.get(f"/events/{event.pk}/seats").json()["states"][0:4] == "aaaa"
    assert "This booking is already cancelled; there is nothing to cancel." in text(again)
    assert 'id="cancel-link"' not in text(again)


# --- signing up, in and out -------------------------------------------------------------------


@read_db
def test_sign_up_shows_the_services_field_errors(client: Client, shop: Shop) -> None:
    taken = shop.buyer("Ada Lovelace")

    weak = text(client.post("/signup", {"name": "Bob", "email": "bob@example.com", "password": "password"}))
    duplicate = client.post("/signup", {"name": "Ada", "email": taken.email.upper(), "password": PASSWORD})
    blank = text(client.post("/signup", {"name": "", "email": "not-an-email", "password": ""}))

    assert "This password is too common." in weak
    # A taken address is answered like a new one (its owner gets an email instead)
    assert (duplicate.status_code, duplicate["Location"]) == (302, "/login?next=%2F")
    assert "Enter a valid email address." in blank
    assert "This field is required." in blank
    assert 'aria-invalid="true"' in blank


@saga_db
def test_sign_up_sends_the_buyer_to_sign_in_and_then_back_where_they_were(client: Client, shop: Shop) -> None:
    event = shop.event()

    response = client.post(
        "/signup",
        {
            "name": "Grace Hopper",
            "email": "Grace@Example.com",
            "password": PASSWORD,
            "next": f"/events/{event.pk}",
        },
    )
    outside = Client().post(
        "/signup",
        {"name": "Eve", "email": "eve@example.com", "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/login?next=%2Fevents%2F{event.pk}"
    assert "Check your inbox: we sent an email to grace@example.com." in text(
        client.get(response["Location"])
    )
    signed_in = client.post(
        "/login", {"username": "grace@example.com", "password": PASSWORD, "next": f"/events/{event.pk}"}
    )
    assert signed_in["Location"] == f"/events/{event.pk}"
    assert "Log out" in text(client.get("/"))
    assert outside["Location"] == "/login?next=%2F"


@read_db
def test_log_in_with_any_letter_case_and_log_out(client: Client, shop: Shop) -> None:
    buyer = shop.buyer("Ada Lovelace")

    wrong = text(client.post("/login", {"username": buyer.email, "password": "nope"}))
    signed = client.post(
        "/login", {"username": buyer.email.upper(), "password": PASSWORD, "next": "/bookings"}
    )
    asked = text(client.get("/logout"))
    out = client.post("/logout")

    assert "That email address and password do not match an account." in wrong
    assert signed.status_code == 302
    assert signed["Location"] == "/bookings"
    assert "Log out?" in asked
    assert out.status_code == 302
    assert client.get("/bookings").status_code == 302


ODD_INPUTS = [
    "",
    "x",
    "\x00",
    "%00",
    "' OR 1=1 --",
    "<script>",
    "9" * 500,
    str(uuid.uuid4()),
    "../../etc",
    "é",
]


@saga_db
def test_no_input_makes_a_page_fail(shop: Shop) -> None:
    """Whatever is typed or tampered with, every page answers 2xx, 3xx or 4xx, never 500."""
    event = shop.event()
    seat = seat_id(event, "Stalls", "A", 1)
    clients = [signed_in(shop.buyer()), Client()]
    failures = []

    for value in ODD_INPUTS:
        for client in clients:
            for method, path, data in [
                ("get", "/", {"q": value, "start": value, "end": value, "page": value}),
                ("get", f"/events/{event.pk}", {"seats": value}),
                ("get", f"/events/{value}/seats", {}),
                ("get", f"/events/{event.pk}/checkout", {"seat": [value, value]}),
                (
                    "post",
                    f"/events/{event.pk}/checkout",
                    {"seat": [value], "payment_method": value, "token": value},
                ),
                (
                    "post",
                    f"/events/{event.pk}/checkout",
                    {"seat": [seat], "payment_method": value, "token": value},
                ),
                ("get", f"/bookings/{value}", {}),
                ("get", f"/bookings/{value}/status", {"v": value}),
                ("post", f"/bookings/{value}/cancel", {}),
                ("get", "/bookings", {"page": value}),
                ("post", "/signup", {"name": value, "email": value, "password": value, "next": value}),
                ("post", "/login", {"username": value, "password": value, "next": value}),
            ]:
                status = getattr(client, method)(path, data).status_code
                if status >= 500:
                    failures.append((method, path, value, status))

    assert failures == []


@read_db
@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/events/1", "/events/1"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("checkout", "/"),
        ("", "/"),
    ],
)
def test_after_signing_in_only_paths_on_this_site_are_followed(asked: str, goes_to: str, rf: Any) -> None:
    assert safe_next(rf.get("/signup", {"next": asked})) == goes_to


def test_the_tickets_pdf_prints_names_outside_latin_1_instead_of_failing() -> None:
    page = TicketPage(
        event_name="Midsummer Strings \u2014 \u6771\u4eac",
        when="Saturday 12 December 2026, 19:30 (GMT)",
        venue="Corn Exchange",
        seat="Stalls, row A, seat 1",
        reference="TF-7Q2K-9MRX",
        holder="Ada Lovelace",
        ticket_id=str(uuid.uuid4()),
        secret="A" * 130,
    )

    pdf = tickets_pdf([page, page], title="Tickets \u2014 TF-7Q2K-9MRX")

    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page\n") == 2
