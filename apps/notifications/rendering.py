"""From a notification row to an email: subject, plain text, HTML, and inline images.

Each kind has three templates under ``notifications/email/<kind>/``: ``subject.txt``,
``body.txt`` and ``body.html`` (extending ``base.txt`` / ``base.html``). The row's
``context`` holds the event's facts as they arrived; this module turns them into what a
reader wants to see (money as "€42.50", times in words, links, reasons in plain language).

The confirmation is sent once checkin has issued the booking's tickets (``tickets.issued``
carries the booking's facts and one signed secret per seat). Each ticket gets its own QR
code, which encodes the secret itself, not a URL: the door scanner verifies it offline with
the event's public key, and it stays valid if the public site moves. The HTML links to the
booking page (and its PDF) separately; the text part prints each ticket's code for people
without the HTML.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from email.mime.image import MIMEImage
from typing import Any

import segno
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from apps.notifications.formatting import format_event_time, format_money
from apps.notifications.models import Notification, NotificationKind
from ticketflow.messaging.failure_reasons import failure_reason

QR_SCALE = 5
QR_BORDER = 4

Presentation = dict[str, Any]


def render_subject(*, kind: str, context: Mapping[str, Any]) -> str:
    """The subject line of a ``kind`` email about ``context``, on one line."""
    text = render_to_string(f"notifications/email/{kind}/subject.txt", _present(kind, context))
    return " ".join(text.split())[:255]


def build_message(*, notification: Notification) -> EmailMultiAlternatives:
    """The complete email for ``notification``: text and HTML alternatives, inline images.

    The Message-ID is derived from the notification id, so if a crash makes a worker send
    the same row twice, mailbox providers that de-duplicate by Message-ID show it once.
    """
    presentation = _present(notification.kind, notification.context)
    presentation["subject"] = notification.subject
    images: list[MIMEImage] = []
    if notification.kind in (NotificationKind.BOOKING_CONFIRMED, NotificationKind.TRANSFER_RECEIVED):
        for number, ticket in enumerate(presentation["tickets"], start=1):
            content_id = f"qr-{notification.id.hex}-{number}@ticketflow"
            image, size = _qr_image(ticket["secret"], content_id=content_id, number=number)
            ticket.update(qr_cid=content_id, qr_size=size)
            images.append(image)

    text = _tidy(render_to_string(f"notifications/email/{notification.kind}/body.txt", presentation))
    html = render_to_string(f"notifications/email/{notification.kind}/body.html", presentation)
    sender_domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip("> ") or "ticketflow"
    message = EmailMultiAlternatives(
        subject=notification.subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.recipient],
        headers={
            "Message-ID": f"<{notification.id}@{sender_domain}>",
            "Auto-Submitted": "auto-generated",
            "X-TicketFlow-Notification": str(notification.id),
        },
    )
    message.attach_alternative(html, "text/html")
    if images:
        # multipart/related keeps the image beside the HTML that shows it ("cid:") instead of
        # presenting it as a separate download.
        message.mixed_subtype = "related"
        for image in images:
            message.attach(image)
    return message


QR_MASK = 2


def _qr_image(payload: str, *, content_id: str, number: int) -> tuple[MIMEImage, int]:
    """A ticket's QR code as an inline PNG, and its width in pixels.

    The HTML shows it at exactly that size: scaling by a fraction blurs the modules' edges,
    which is what makes codes hard to scan from a phone screen.
    """
    # Any of the eight masks scans equally well; scoring all eight (segno's default) costs
    # more than the rest of the email put together.
    code = segno.make(payload, error="m", mask=QR_MASK)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=QR_SCALE, border=QR_BORDER)
    image = MIMEImage(buffer.getvalue(), "png")
    image.add_header("Content-ID", f"<{content_id}>")
    image.add_header("Content-Disposition", "inline", filename=f"ticket-{number}-qr.png")
    width, _ = code.symbol_size(scale=QR_SCALE, border=QR_BORDER)
    return image, int(width)  # whole pixels: the scale and border are whole numbers


def _tidy(text: str) -> str:
    """Template tags leave blank lines and trailing spaces behind; plain text shows them."""
    lines = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines) + "\n"


# --- what each kind shows -----------------------------------------------------------------------


def _site(path: str = "/") -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _booking(context: Mapping[str, Any]) -> Presentation:
    """What every booking email says about the booking and its event."""
    return {
        "name": context["customer"]["name"],
        "reference": context["reference"],
        "event_name": context["event_name"],
        "starts_at": format_event_time(context["event_starts_at"]),
        "venue_name": context["venue_name"],
        "event_url": _site(f"/events/{context['event_id']}"),
        "booking_url": _site(f"/bookings/{context['booking_id']}"),
        "site_url": _site(),
    }


def _welcome(context: Mapping[str, Any]) -> Presentation:
    return {
        "name": context["name"],
        "email": context["email"],
        "site_url": _site(),
        "verification_url": context.get("verification_url") or "",
    }


def _sign_up_attempted(context: Mapping[str, Any]) -> Presentation:
    return {
        "name": context["name"],
        "email": context["email"],
        "login_url": _site("/login"),
        "site_url": _site(),
    }


def _booking_confirmed(context: Mapping[str, Any]) -> Presentation:
    currency = context["currency"]
    seats = [
        {
            "section": seat["section"],
            "row": seat["row"],
            "number": seat["number"],
            "price": format_money(seat["price_cents"], currency),
        }
        for seat in context["seats"]
    ]
    labels = {
        seat["seat_id"]: f"{seat['section']}, row {seat['row']}, seat {seat['number']}"
        for seat in context["seats"]
    }
    tickets = [
        {"seat": labels.get(ticket["seat_id"], "Seat"), "secret": ticket["secret"]}
        for ticket in context["tickets"]
    ]
    return {
        **_booking(context),
        "seats": seats,
        "tickets": tickets,
        "total": format_money(context["total_cents"], currency),
        "pdf_url": _site(f"/bookings/{context['booking_id']}/tickets.pdf"),
    }


def _booking_failed(context: Mapping[str, Any]) -> Presentation:
    # The event's own ``reason`` is written for operators; the buyer reads the contract's words.
    return {**_booking(context), "reason": failure_reason(context["reason_code"]).explanation}


def _booking_cancelled(context: Mapping[str, Any]) -> Presentation:
    return {
        **_booking(context),
        "seat_count": len(context["seat_ids"]),
        "was_confirmed": context["was_confirmed"],
        "refund_due": context["refund_due"],
        "reason": context["reason"],
    }


def _seats_cancelled(context: Mapping[str, Any]) -> Presentation:
    currency = context["currency"]
    seats = [
        {
            "label": f"{seat['section']}, row {seat['row']}, seat {seat['number']}",
            "price": format_money(seat["price_cents"], currency),
        }
        for seat in context["seats"]
    ]
    return {
        **_booking(context),
        "seat_count": len(seats),
        "seats": seats,
        "paid": any(seat["price_cents"] for seat in context["seats"]),
        "refund_percent": context["refund_percent"],
        "refund": format_money(context["refund_cents"], currency) if context["refund_cents"] else "",
    }


def _booking_expired(context: Mapping[str, Any]) -> Presentation:
    return {**_booking(context), "seat_count": len(context["seat_ids"])}


def _late_payment_refund(context: Mapping[str, Any]) -> Presentation:
    # The refund event knows the booking only by id; the reference and event name come from
    # an earlier email about the same booking when there was one.
    return {
        "name": context["customer"]["name"],
        "amount": format_money(context["amount_cents"], context["currency"]),
        "booking": context.get("booking_reference") or context["booking_id"],
        "event_name": context.get("event_name", ""),
        "site_url": _site(),
    }


def _transfer_offered(context: Mapping[str, Any]) -> Presentation:
    return {
        **_booking(context),
        "sender": context["customer"]["name"],
        "seats": context["seat_labels"],
        "accept_url": context["accept_url"],
        "expires_at": format_event_time(context["expires_at"]),
        "signup_url": _site("/signup"),
    }


def _transfer_received(context: Mapping[str, Any]) -> Presentation:
    return {
        "name": context["recipient"]["name"],
        "event_name": context["event_name"],
        "starts_at": format_event_time(context["event_starts_at"]),
        "venue_name": context["venue_name"],
        "tickets": [
            {"seat": ticket["seat_label"], "secret": ticket["secret"]} for ticket in context["tickets"]
        ],
        "site_url": _site(),
    }


def _waitlist_offered(context: Mapping[str, Any]) -> Presentation:
    return {
        "name": context["customer"]["name"],
        "event_name": context["event_name"],
        "starts_at": format_event_time(context["event_starts_at"]),
        "seats": [
            f"{seat['section']}, row {seat['row']}, seat {seat['number']}" for seat in context["seats"]
        ],
        "total": format_money(context["total_cents"], context["currency"]),
        "offer_url": context["offer_url"],
        "expires_at": format_event_time(context["expires_at"]),
        "site_url": _site(),
    }


_PRESENTERS: dict[str, Callable[[Mapping[str, Any]], Presentation]] = {
    NotificationKind.WELCOME: _welcome,
    NotificationKind.SIGN_UP_ATTEMPTED: _sign_up_attempted,
    NotificationKind.BOOKING_CONFIRMED: _booking_confirmed,
    NotificationKind.BOOKING_FAILED: _booking_failed,
    NotificationKind.BOOKING_CANCELLED: _booking_cancelled,
    NotificationKind.BOOKING_EXPIRED: _booking_expired,
    NotificationKind.SEATS_CANCELLED: _seats_cancelled,
    NotificationKind.LATE_PAYMENT_REFUND: _late_payment_refund,
    NotificationKind.TRANSFER_OFFERED: _transfer_offered,
    NotificationKind.TRANSFER_RECEIVED: _transfer_received,
    NotificationKind.WAITLIST_OFFERED: _waitlist_offered,
}


def _present(kind: str, context: Mapping[str, Any]) -> Presentation:
    return _PRESENTERS[kind](context)
