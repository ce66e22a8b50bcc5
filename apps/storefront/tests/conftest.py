"""Fixtures of the storefront tests: an event on sale, buyers, the saga running, a real browser.

The saga runs for real: the catalog publishes the event, the in-process relay projects it into
inventory and bookings, and during browser tests a background relay applies every event the
pages cause (hold, payment through the simulated provider, confirmation, release) while the
browser watches.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from apps.accounts.services import user_register
from apps.catalog.layout import parse_layout_text
from apps.catalog.services import EventDetails, event_create, venue_create
from apps.inventory.selectors import seat_map
from relay.engine import Relay
from ticketflow.celery import app as celery_app
from ticketflow.messaging.transports import get_transport
from ticketflow.messaging.transports.inprocess import InProcessTransport

PASSWORD = "Velvet-Curtain-42"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(django_settings.BASE_DIR) / "artifacts" / "screenshots"

# Stalls: 2 rows of 10 at £42; Circle: 1 row of 8 at £65 (28 seats).
LAYOUT = "[Stalls] standard\nA: 1-10\nB: 1-10\n[Circle] premium\nA: 1-8"
PRICES = {"standard": 4200, "premium": 6500}


def wait_until(condition: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting after {timeout}s for {condition!r}")
        time.sleep(interval)


@pytest.fixture
def inprocess_events(settings: Any) -> Iterator[None]:
    """Events run in-process, payments through the simulated provider, emails in memory.

    Celery runs the confirmation emails inline (Django's test mailbox), so no task leaks into
    a broker that a developer's own worker may be reading.
    """
    settings.TICKETFLOW_EVENTS = {
        **settings.TICKETFLOW_EVENTS,
        "TRANSPORT": "inprocess",
        "CONSUMER_BACKOFF_SECONDS": 0.01,
    }
    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER": "simulated", "STRIPE_PUBLISHABLE_KEY": ""}
    get_transport.cache_clear()
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
    get_transport.cache_clear()


def drain() -> None:
    """Apply every pending event now, in this thread."""
    Relay(InProcessTransport(), poll_interval=0.01).drain()


@dataclass
class Shop:
    """Creates what a test needs: events on sale (seats ready) and buyers."""

    def event(
        self,
        *,
        name: str = "Midsummer Strings",
        layout: str = LAYOUT,
        prices: dict[str, int] | None = None,
        max_seats: int = 4,
        days: int = 10,
    ) -> Any:
        venue = venue_create(
            name=f"Corn Exchange {uuid.uuid4().hex[:6]}",
            address="1 Market Street, Cambridge",
            timezone_name="Europe/London",
            layout=parse_layout_text(layout),
        )
        starts_at = (timezone.now() + timedelta(days=days)).replace(microsecond=0)
        event = event_create(
            details=EventDetails(
                venue_id=str(venue.pk),
                name=name,
                description="An evening of chamber music by candlelight.",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=2),
                currency="GBP",
                prices=prices or PRICES,
                max_seats_per_booking=max_seats,
                hold_minutes=10,
            ),
            publish=True,
        )
        drain()
        wait_until(lambda: seat_map(event_id=str(event.pk)))
        return event

    def buyer(self, name: str = "Ada Lovelace") -> Any:
        email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@example.com"
        return user_register(email=email, password=PASSWORD, name=name)


@pytest.fixture
def shop(inprocess_events: None) -> Shop:
    return Shop()


def seat_id(event: Any, section: str, row: str, number: int) -> str:
    """The id of one seat of ``event``, from its seat map."""
    for seat in seat_map(event_id=str(event.pk))["seats"]:
        if (seat["section"], seat["row"], seat["number"]) == (section, row, number):
            return seat["id"]
    raise LookupError(f"{section} {row}{number} is not a seat of {event}")


# --- the saga, live -------------------------------------------------------------------------


@pytest.fixture
def saga(inprocess_events: None) -> Iterator[Relay]:
    """A relay applying events in the background, as the embedded default's relay process does."""
    relay = Relay(InProcessTransport(), poll_interval=0.05)
    thread = threading.Thread(target=relay.run, name="storefront-saga", daemon=True)
    thread.start()
    yield relay
    relay.stop.set()
    relay.wake.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the saga relay did not stop"


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright (its own browser download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run deploy/local/chromium.sh (installs Debian's chromium).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop registered on this thread; the ORM calls the
    # tests make between browser steps are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # launch() gives the browser a fresh temporary user-data dir, deleted on close.
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# Runs in every page before its own scripts: a refused script, style or frame becomes a
# console error the test sees (Chromium's own CSP messages do not reach Playwright).
REPORT_POLICY_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} refused ${event.blockedURI || "inline"} on ${location.pathname}`);
});
"""


@dataclass
class Browsing:
    """Opens isolated browser sessions against the live server and keeps their pages."""

    browser: Any
    base_url: str
    opened: list[Any]

    def session(self, *, width: int = 1280, height: int = 900) -> Any:
        """A new page in a new context: its own cookies, like another person's browser."""
        context = self.browser.new_context(
            base_url=self.base_url, viewport={"width": width, "height": height}, locale="en-GB"
        )
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_POLICY_VIOLATIONS)
        self.opened.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.js_errors = errors
        page.on("console", self._watch_policy)
        return page

    def _watch_policy(self, message: Any) -> None:
        if message.type == "error" and message.text.startswith("CSP violation"):
            self.policy_violations.append(message.text)

    policy_violations: list[str] = field(default_factory=list)


@pytest.fixture
def browsing(browser: Any, live_server: Any) -> Iterator[Browsing]:
    sessions = Browsing(browser=browser, base_url=live_server.url, opened=[])
    yield sessions
    for context in sessions.opened:
        context.close()
    # Every page a browser test opens keeps to the Content Security Policy.
    assert sessions.policy_violations == []


def screenshot(page: Any, name: str) -> Path:
    """Save the page as the test left it, for people to look at (artifacts/ is git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
