"""The door scanner in a real browser: manual entry online, then offline with the network cut.

Headless Chromium on a phone-sized screen, against the live server. Offline, the page
verifies each secret's Ed25519 signature with WebCrypto and the signed snapshot it keeps in
IndexedDB; when the network comes back it uploads the scans and the server records them.
Screenshots land under artifacts/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from apps.bookings.services import Buyer, booking_create
from apps.checkin import signing
from apps.checkin.models import Scan, Ticket
from apps.storefront.tests.conftest import PASSWORD, Browsing, Shop, drain, screenshot, seat_id, wait_until
from apps.storefront.tests.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def steward() -> Any:
    user = get_user_model().objects.create_user(
        email="steward@example.com", password=PASSWORD, name="Sam Steward"
    )
    user.user_permissions.add(
        Permission.objects.get(codename="scan_tickets", content_type__app_label="checkin")
    )
    return user


def scan(page: Page, secret: str) -> None:
    page.get_by_label("Ticket code").fill(secret)
    page.get_by_role("button", name="Check ticket").click()


def answered(page: Page, result: str, title: str) -> None:
    expect(page.locator("#result")).to_have_attribute("data-result", result)
    expect(page.locator("#result-title")).to_have_text(title)


def test_a_steward_scans_by_hand_then_offline_and_the_scans_sync_when_back_online(
    shop: Shop, browsing: Browsing
) -> None:
    event = shop.event()
    buyer = shop.buyer()
    seats = [seat_id(event, "Stalls", "A", n) for n in (1, 2, 3)]
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(buyer.pk), email=buyer.email, name=buyer.name),
        event_id=str(event.pk),
        seat_ids=seats,
        payment_method="pm_card_visa",
    )
    drain()
    tickets = {t.seat_label: t for t in Ticket.objects.filter(booking_id=booking.pk)}
    first, second = tickets["Stalls, row A, seat 1"], tickets["Stalls, row A, seat 2"]
    forged = bytearray(signing.unb64url(second.secret))
    forged[3] ^= 0x40  # another ticket id under the same signature
    page = browsing.session(width=412, height=915)
    log_in(page, steward().email, next_path=f"/checkin/events/{event.pk}/")
    expect(page.locator("#scanner")).to_have_attribute("data-ready", "true")
    expect(page.locator("#count-sold")).to_have_text("3")

    # Online, by hand: the server answers.
    scan(page, first.secret)
    answered(page, "ok", "Admitted")
    expect(page.locator("#result-detail")).to_have_text(f"Stalls, row A, seat 1 · {booking.reference}")
    expect(page.locator("#count-checked-in")).to_have_text("1")
    screenshot(page, "checkin-01-admitted")
    scan(page, first.secret)
    answered(page, "already_redeemed", "Already checked in")
    screenshot(page, "checkin-02-already-checked-in")

    # The network goes: the page reopens from the service worker and checks on the device.
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#scanner")).to_have_attribute("data-ready", "true")
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
    scan(page, second.secret)
    answered(page, "ok", "Admitted")
    expect(page.locator("#result-detail")).to_have_text("Genuine ticket, not used yet. (checked offline)")
    screenshot(page, "checkin-03-offline-admitted")
    scan(page, signing.b64url(bytes(forged)))
    answered(page, "unknown", "Not a valid ticket")
    screenshot(page, "checkin-04-offline-forged-refused")
    scan(page, first.secret)
    answered(page, "already_redeemed", "Already checked in")
    expect(page.locator("#queue")).to_have_text("3 offline scans waiting to sync")
    assert not Scan.objects.filter(ticket=second).exists()

    # Back online: the queue is uploaded as one batch and the server decides.
    page.context.set_offline(False)
    expect(page.locator("#scanner")).to_have_attribute("data-queued", "0", timeout=20_000)
    wait_until(lambda: Scan.objects.filter(ticket=second, accepted=True, forced=True).exists())
    expect(page.locator("#count-checked-in")).to_have_text("2")
    expect(page.locator("#queue")).to_have_text("Synced 3 offline scans: 1 admitted, 2 refused.")
    screenshot(page, "checkin-05-synced")
    uploaded = Scan.objects.filter(forced=True)
    assert sorted(uploaded.values_list("result", flat=True)) == ["already_redeemed", "ok", "unknown"]
    assert page.js_errors == []
