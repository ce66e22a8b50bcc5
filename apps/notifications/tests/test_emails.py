"""What each email says, read back from a real SMTP server."""

from __future__ import annotations

import io
import re
import uuid
from email.message import EmailMessage

import pytest
import segno
from django.utils.html import escape
from pytest_django.fixtures import Settings

from apps.notifications.models import Notification
from apps.notifications.rendering import QR_MASK
from apps.notifications.tests import factories
from apps.notifications.tests.conftest import MailServer
from tests.support.envelopes import envelope
from ticketflow.messaging import dispatch
from ticketflow.messaging.schemas import Payload, SignUpAttempted

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]

SITE = "https://tickets.example.org"


@pytest.fixture(autouse=True)
def public_site(settings: Settings) -> None:
    settings.PUBLIC_BASE_URL = SITE


def deliver(payload: Payload, mail_server: MailServer) -> EmailMessage:
    """Apply ``payload`` as the notifications consumer and return the one email it caused."""
    dispatch.apply(envelope(payload), "notifications")
    [message] = mail_server.messages
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies, with the wire's CRLF line ends read as a client does."""
    text, html = (message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))
    return text, html


def subject(message: EmailMessage) -> str:
    """The subject as a client shows it: a long encoded subject is folded onto a new line."""
    return message["Subject"].strip()


def seat_table(html: str) -> list[list[str]]:
    """The cells of the HTML's seat table, row by row."""
    table = html.split("Your seats</caption>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.DOTALL)
    return [re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", row) for row in rows]


def qr_png(payload: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m", mask=QR_MASK).save(buffer, kind="png", scale=5, border=4)
    return buffer.getvalue()


def test_the_booking_confirmation_carries_seats_total_reference_and_one_inline_qr_code_per_ticket(
    mail_server: MailServer,
) -> None:
    payload = factories.tickets_issued()

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert subject(message) == "Your tickets for Rock & Roll Night (TF-7Q2K9M)"
    assert message["To"] == "ada@example.com"
    assert message.get_content_type() == "multipart/related"
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    row_id = Notification.objects.get().id.hex
    assert [image["Content-ID"].strip("<>") for image in images] == [
        f"qr-{row_id}-1@ticketflow",
        f"qr-{row_id}-2@ticketflow",
    ]
    assert [image.get_content_disposition() for image in images] == ["inline", "inline"]
    assert [image.get_content() for image in images] == [qr_png(t.secret) for t in payload.tickets]
    assert f'<img src="cid:qr-{row_id}-1@ticketflow" width="285" height="285"' in html
    assert 'alt="Ticket QR code for Stalls, row C, seat 12"' in html
    assert 'alt="Ticket QR code for Stalls, row C, seat 13"' in html
    assert f"  - Stalls, row C, seat 12: {payload.tickets[0].secret}\n" in text
    assert f"Your tickets as a PDF: {SITE}/bookings/{payload.booking_id}/tickets.pdf\n" in text
    assert seat_table(html) == [
        ["Section", "Row", "Seat", "Price"],
        ["Stalls", "C", "12", "€42.50"],
        ["Stalls", "C", "13", "€42.50"],
        ["Total paid", "€85.00"],
    ]
    assert "  - Section Stalls, row C, seat 12: €42.50\n  - Section Stalls, row C, seat 13: €42.50\n" in text
    assert "Total paid: €85.00" in text
    assert "Reference:  TF-7Q2K9M" in text
    assert "<strong>TF-7Q2K9M</strong>" in html
    assert "When:       Saturday 14 June 2031 at 19:30 UTC" in text
    assert "Saturday 14 June 2031 at 19:30 UTC" in html
    assert f"Your booking: {SITE}/bookings/{payload.booking_id}\n" in text
    assert f'href="{SITE}/bookings/{payload.booking_id}"' in html
    assert "Event:      Rock & Roll Night" in text
    assert "<title>Your tickets for Rock &amp; Roll Night (TF-7Q2K9M)</title>" in html


def test_the_welcome_email_greets_the_new_user(mail_server: MailServer) -> None:
    message = deliver(factories.user_registered(), mail_server)

    text, html = parts(message)
    assert subject(message) == "Welcome to TicketFlow, Grace Hopper"
    assert message["To"] == "grace@example.com"
    assert text.startswith(
        "Hi Grace Hopper,\n\nWelcome to TicketFlow. Your account for grace@example.com is ready."
    )
    assert "Welcome, Grace Hopper</h1>" in html
    assert not [part for part in message.walk() if part.get_content_maintype() == "image"]


@pytest.mark.parametrize(
    ("reason_code", "words"),
    [
        ("seats_unavailable", "Someone else booked one or more of the seats you picked just before you did."),
        ("insufficient_funds", "Your card was declined because of insufficient funds."),
        ("something_new", "Something went wrong while we were completing your booking."),
    ],
)
def test_a_failed_booking_is_explained_in_plain_words_with_a_way_to_try_again(
    mail_server: MailServer, reason_code: str, words: str
) -> None:
    payload = factories.booking_failed(reason_code=reason_code)

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert subject(message) == "We couldn't complete your booking for Rock & Roll Night"
    assert f"Why: {words}\n" in text
    assert f"<strong>Why:</strong> {escape(words)}</p>" in html
    assert "held by booking" not in text + html
    assert "You have not been charged for this booking" in text
    assert f"Try again: {SITE}/events/{payload.event_id}\n" in text
    assert f'<a href="{SITE}/events/{payload.event_id}"' in html
    assert ">Try again</a>" in html


@pytest.mark.parametrize(
    ("was_confirmed", "refund_due", "words"),
    [
        (True, True, "We are refunding what you paid to your original payment method."),
        (False, False, "The booking was not paid, so you have not been charged."),
        (True, False, "No refund is due for this booking."),
    ],
)
def test_a_cancellation_says_whether_money_comes_back(
    mail_server: MailServer, was_confirmed: bool, refund_due: bool, words: str
) -> None:
    payload = factories.booking_cancelled(was_confirmed=was_confirmed, refund_due=refund_due)

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert subject(message) == "Your booking TF-7Q2K9M for Rock & Roll Night is cancelled"
    assert "has been cancelled and its 2 seats released." in text
    assert "Reason: Cancelled at the buyer's request\n" in text
    assert words in text
    assert words in html


def test_a_partial_cancellation_names_the_seats_and_the_refund(mail_server: MailServer) -> None:
    payload = factories.booking_seats_cancelled()

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert subject(message) == "1 seat of your booking TF-7Q2K9M cancelled"
    assert (
        "1 seat of your booking TF-7Q2K9M for Rock & Roll Night has been cancelled. It is back on sale;"
        in text
    )
    assert "- Stalls, row C, seat 12 (€42.50)\n" in text
    assert "we are refunding 50% of its price, €21.25, to your original payment method" in text
    assert "we are refunding 50% of its price, <strong>€21.25</strong>" in html
    assert "The ticket for this seat no longer admits anyone at the door." in html
    assert f"{SITE}/bookings/{payload.booking_id}" in text


def test_a_partial_cancellation_past_the_refund_deadline_says_no_refund_is_due(
    mail_server: MailServer,
) -> None:
    payload = factories.booking_seats_cancelled(refund_percent=0, refund_cents=0)

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert "Under the event's refund policy no refund is due for this seat." in text
    assert "refunding" not in html


def test_an_expired_hold_says_the_seats_were_released_and_nothing_was_charged(
    mail_server: MailServer,
) -> None:
    payload = factories.booking_expired()

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert subject(message) == "Your seats for Rock & Roll Night were released"
    assert "We held 1 seat for you for Rock & Roll Night, but the payment was not completed in time" in text
    assert "You have not been charged for this booking." in html
    assert f"Try again: {SITE}/events/{payload.event_id}\n" in text


def test_a_late_payment_refund_names_the_booking_an_earlier_email_described(mail_server: MailServer) -> None:
    expired = factories.booking_expired()
    dispatch.apply(envelope(expired), "notifications")
    refund = factories.payment_refunded(booking_id=expired.booking_id, amount_cents=4250, currency="EUR")

    dispatch.apply(envelope(refund), "notifications")

    message = mail_server.messages[-1]
    text, html = parts(message)
    assert subject(message) == "We refunded €42.50 for booking TF-7Q2K9M"
    assert (
        "Your payment for booking TF-7Q2K9M (Rock & Roll Night) arrived after your seat hold had expired, "
        "and the seats had already been taken by someone else"
    ) in text
    assert "We refunded €42.50 to your original payment method." in text
    assert "We refunded <strong>€42.50</strong>" in html


def test_a_late_payment_refund_without_an_earlier_email_names_the_booking_id(mail_server: MailServer) -> None:
    refund = factories.payment_refunded(amount_cents=1200, currency="JPY")

    message = deliver(refund, mail_server)

    assert subject(message) == f"We refunded ¥1,200 for booking {refund.booking_id}"
    assert f"Your payment for booking {refund.booking_id} arrived after" in parts(message)[0]


def test_the_welcome_email_carries_the_verification_link(mail_server: MailServer) -> None:
    link = f"{SITE}/verify-email?token=abc.def"
    message = deliver(factories.user_registered(verification_url=link), mail_server)

    text, html = parts(message)
    assert f"Please confirm that this address is yours (it is where your tickets will go):\n{link}" in text
    assert f'href="{escape(link)}"' in html
    assert "Confirm my email address" in html


def test_a_sign_up_with_a_registered_address_warns_its_owner(mail_server: MailServer) -> None:
    payload = SignUpAttempted(user_id=str(uuid.uuid4()), email="grace@example.com", name="Grace Hopper")

    message = deliver(payload, mail_server)

    text, html = parts(message)
    assert subject(message) == "Someone tried to sign up with your email address"
    assert message["To"] == "grace@example.com"
    assert "This address already has an account (yours), so nothing was created and nothing changed." in text
    assert f"sign in with your password instead: {SITE}/login" in text
    assert f'href="{SITE}/login"' in html
