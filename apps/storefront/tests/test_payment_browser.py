"""3-D Secure on the booking page: the bank's check opens by itself and the page follows it to the end.

Stripe.js cannot load offline, so the browser gets a stand-in for ``https://js.stripe.com/v3/``
(``STRIPE_JS_STUB``) that records ``handleNextAction`` and answers as Stripe.js does after a
passed check. Stripe's API is the payments tests' local fake, answering ``requires_action``
for the charge and ``succeeded`` once the buyer has authenticated.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from apps.bookings.services import Buyer, booking_create
from apps.payments.models import Payment, PaymentStatus
from apps.payments.tests.conftest import FakeStripe, fake_stripe, payment_intent  # noqa: F401
from apps.storefront.tests.conftest import PASSWORD, Browsing, Shop, drain, screenshot, seat_id, wait_until

pytestmark = pytest.mark.embedded
saga_db = pytest.mark.django_db(databases=["default", "documents"], transaction=True)

STRIPE_JS_STUB = """
window.__nextActions = [];
window.Stripe = function (key) {
  return {
    elements: function () { return { create: function () { return { mount: function () {}, on: function () {} }; } }; },
    handleNextAction: function (options) {
      window.__nextActions.push({ key: key, clientSecret: options.clientSecret });
      return Promise.resolve({ paymentIntent: { id: "pi_3ds", status: "succeeded" } });
    },
  };
};
"""


@pytest.fixture
def stripe_shop(settings: Any, shop: Shop, fake_stripe: FakeStripe) -> FakeStripe:  # noqa: F811
    """The shop charges through Stripe (the local fake), with a publishable key for Stripe.js."""
    settings.PAYMENTS = {
        **settings.PAYMENTS,
        "PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_storefront",
        "STRIPE_API_BASE": fake_stripe.url,
    }
    fake_stripe.answer(
        200,
        payment_intent(
            "pi_3ds",
            "requires_action",
            client_secret="pi_3ds_secret_abc",
            next_action={"type": "use_stripe_sdk"},
        ),
    )
    return fake_stripe


def book_needing_3ds(shop: Shop, event: Any, buyer: Any) -> str:
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(buyer.pk), email=buyer.email, name=buyer.name),
        event_id=str(event.pk),
        seat_ids=[seat_id(event, "Stalls", "A", 1)],
        payment_method="pm_card_threeDSecure2Required",
    )
    return str(booking.pk)


def awaiting_action(booking_id: str) -> Payment | None:
    return (
        Payment.objects.using("documents")
        .filter(booking_id=booking_id, status=PaymentStatus.PENDING)
        .exclude(next_action_type="")
        .first()
    )


@saga_db
def test_the_booking_page_offers_the_banks_check_to_its_buyer_only(
    shop: Shop, saga: Any, stripe_shop: FakeStripe
) -> None:
    event, buyer = shop.event(), shop.buyer()
    booking_id = book_needing_3ds(shop, event, buyer)
    payment = wait_until(lambda: awaiting_action(booking_id))
    client = Client()
    client.force_login(buyer)

    body = client.get(f"/bookings/{booking_id}").content.decode()

    assert "Confirm the payment with your bank" in body
    assert 'data-client-secret="pi_3ds_secret_abc"' in body
    assert f'data-refresh-url="/api/payments/{payment.pk}/refresh"' in body
    assert '<script src="https://js.stripe.com/v3/"></script>' in body
    stranger = Client()
    stranger.force_login(shop.buyer("Eve Stranger"))
    assert stranger.get(f"/bookings/{booking_id}").status_code == 404


@saga_db
def test_the_live_page_asks_again_quickly_while_the_payment_step_is_not_known(
    shop: Shop, stripe_shop: FakeStripe
) -> None:
    event, buyer = shop.event(), shop.buyer()
    # Stripe is down: the seats are held, but no 3-D Secure action is known yet.
    stripe_shop.answer(
        503, {"error": {"type": "api_error", "message": "down"}}, headers={"Stripe-Should-Retry": "false"}
    )
    booking_id = book_needing_3ds(shop, event, buyer)
    drain()
    client = Client()
    client.force_login(buyer)

    body = client.get(f"/bookings/{booking_id}").content.decode()

    assert 'data-status="SEATS_LOCKED"' in body
    assert '&amp;wait=2"' in body
    assert "Confirm the payment with your bank" not in body


@pytest.mark.browser
@saga_db
def test_a_buyer_passes_3d_secure_and_the_booking_is_confirmed(
    shop: Shop, saga: Any, stripe_shop: FakeStripe, browsing: Browsing
) -> None:
    event, buyer = shop.event(), shop.buyer("Grace Hopper")
    page: Page = browsing.session()
    page.route(
        "https://js.stripe.com/v3/",
        lambda route: route.fulfill(content_type="text/javascript", body=STRIPE_JS_STUB),
    )
    page.goto("/login?next=/bookings")
    page.get_by_label("Email address").fill(buyer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    booking_id = book_needing_3ds(shop, event, buyer)
    payment = wait_until(lambda: awaiting_action(booking_id))
    # Once the buyer has passed the check, Stripe reports the intent succeeded.
    stripe_shop.answer_path(
        "/v1/payment_intents/pi_3ds",
        200,
        payment_intent("pi_3ds", "succeeded", amount=payment.amount_cents, currency=payment.currency.lower()),
    )

    page.goto(f"/bookings/{booking_id}")

    expect(page.locator("#booking-live")).to_have_attribute("data-status", "CONFIRMED", timeout=15_000)
    assert page.evaluate("window.__nextActions") == [
        {"key": "pk_test_storefront", "clientSecret": "pi_3ds_secret_abc"}
    ]
    refreshes = [
        r for r in stripe_shop.requests if r.method == "GET" and r.path == "/v1/payment_intents/pi_3ds"
    ]
    assert refreshes, "the page asked the server to check the intent once the check passed"
    assert Payment.objects.using("documents").get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    assert page.js_errors == []
    screenshot(page, "3ds-confirmed")
    assert re.search(r"You.re going!", page.content())
