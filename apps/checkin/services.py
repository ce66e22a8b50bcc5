"""Commands of the checkin context: issue tickets, revoke them, and redeem them at the door.

Tickets follow the booking saga: a confirmed booking gets one ticket per seat, each with its
own signed secret; a cancelled or refunded booking's tickets are revoked. Every scan is one
:class:`~apps.checkin.models.Scan` row, written with the ticket's row locked
(``SELECT ... FOR UPDATE``), so however many doors scan one ticket at once exactly one entry
is accepted. The scanner's ``nonce`` is unique: a retried request finds its first answer.

Offline scans are uploaded with ``force`` and the time they happened (``scanned_at``). The
server stays authoritative and the earliest accepted entry wins: an uploaded entry earlier
than the one that admitted the ticket takes its place (that one is kept, re-labelled as a
duplicate); any later entry is stored as a failed scan with its reason. Answers already
given are never rewritten, so a retried nonce still gets the answer it got.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from apps.checkin import metrics, signing
from apps.checkin.error_codes import CheckinErrorCode
from apps.checkin.models import (
    CheckinEvent,
    Scan,
    ScanResult,
    ScanType,
    Ticket,
    TicketStatus,
    TicketTransfer,
    WithdrawnBooking,
    WithdrawnSeat,
)
from ticketflow import db
from ticketflow.errors import Conflict, NotFound
from ticketflow.messaging import schemas
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import (
    BookingConfirmed,
    IssuedTicket,
    TicketScanned,
    TicketsIssued,
    TicketsRevoked,
    TicketsTransferred,
    TicketTransferAccepted,
    TransferredTicket,
)

logger = logging.getLogger(__name__)

BATCH_LIMIT = 500


def _db() -> str:
    return db.alias_for("checkin")


# --- tickets ------------------------------------------------------------------------------------


def _checkin_event_ensure(*, event_id: str, name: str, venue_name: str, starts_at: datetime) -> CheckinEvent:
    """The event's row with its key pair, created on its first confirmed booking.

    Two first bookings of one event may race: the insert ignores a conflict, so both read
    the one key pair that won.
    """
    event = CheckinEvent.objects.filter(pk=event_id).first()
    if event is not None:
        return event
    pair = signing.key_pair_new(event_id=event_id)
    CheckinEvent.objects.bulk_create(
        [
            CheckinEvent(
                event_id=event_id,
                name=name,
                venue_name=venue_name,
                starts_at=starts_at,
                public_key=pair.public_key,
                sealed_private_key=pair.sealed_private_key,
            )
        ],
        ignore_conflicts=True,
    )
    return CheckinEvent.objects.get(pk=event_id)


def _seat_label(section: str, row: str, number: int) -> str:
    return f"{section}, row {row}, seat {number}"


def tickets_issue(*, payload: BookingConfirmed) -> list[Ticket]:
    """Issue one signed ticket per seat of a confirmed booking and announce them.

    Returns the booking's tickets. A booking that already has tickets gets nothing new and
    nothing is announced again; a booking already cancelled or refunded gets none, and seats
    already cancelled from it (a partial cancellation that overtook this event) get none.
    """
    with db.atomic(_db()):
        existing = list(Ticket.objects.filter(booking_id=payload.booking_id))
        if existing:
            return existing
        if WithdrawnBooking.objects.filter(pk=payload.booking_id).exists():
            logger.info("booking %s was withdrawn before its confirmation arrived", payload.booking_id)
            return []
        withdrawn = set(
            WithdrawnSeat.objects.filter(booking_id=payload.booking_id).values_list("seat_id", flat=True)
        )
        seats = [seat for seat in payload.seats if seat.seat_id not in withdrawn]
        event = _checkin_event_ensure(
            event_id=payload.event_id,
            name=payload.event_name,
            venue_name=payload.venue_name,
            starts_at=payload.event_starts_at,
        )
        tickets = []
        for seat in seats:
            ticket = Ticket(
                event=event,
                booking_id=payload.booking_id,
                booking_reference=payload.reference,
                seat_id=seat.seat_id,
                seat_label=_seat_label(seat.section, seat.row, seat.number),
            )
            ticket.secret = signing.secret_new(
                ticket_id=str(ticket.id), event_id=str(event.pk), sealed_private_key=event.sealed_private_key
            )
            ticket.fingerprint = signing.fingerprint(ticket.secret)
            tickets.append(ticket)
        Ticket.objects.bulk_create(tickets)
        emit(
            TicketsIssued(
                **payload.model_dump(
                    include=set(TicketsIssued.model_fields) - {"tickets", "seats", "total_cents"}
                ),
                seats=seats,
                total_cents=payload.total_cents if not withdrawn else sum(seat.price_cents for seat in seats),
                tickets=[
                    IssuedTicket(ticket_id=str(t.id), seat_id=t.seat_id, secret=t.secret) for t in tickets
                ],
            ),
            aggregate_id=payload.booking_id,
            using=_db(),
        )
    return tickets


def tickets_revoke(*, booking_id: str, reason_code: str) -> int:
    """Revoke every ticket of ``booking_id`` that is not revoked yet; returns how many.

    Remembers the booking as withdrawn, so a confirmation that arrives later issues nothing.
    Again: nothing is left to revoke, nothing is announced.
    """
    with db.atomic(_db()):
        WithdrawnBooking.objects.bulk_create(
            [WithdrawnBooking(booking_id=booking_id, reason_code=reason_code)], ignore_conflicts=True
        )
        tickets = list(
            Ticket.objects.select_for_update()
            .filter(booking_id=booking_id)
            .exclude(status=TicketStatus.REVOKED)
            .order_by("pk")
        )
        if tickets:
            _revoke(booking_id, tickets, reason_code=reason_code)
    return len(tickets)


def tickets_revoke_seats(*, booking_id: str, seat_ids: Sequence[str], reason_code: str) -> int:
    """Revoke the tickets of some seats of a booking that goes on; returns how many.

    Every ticket of those seats that is not revoked yet is: the buyer's, and a transfer
    recipient's. The seats are remembered, so a confirmation that arrives later issues no
    ticket for them (the booking's other tickets are untouched). Again: nothing is left to
    revoke, nothing is announced.
    """
    with db.atomic(_db()):
        WithdrawnSeat.objects.bulk_create(
            [
                WithdrawnSeat(booking_id=booking_id, seat_id=seat_id, reason_code=reason_code)
                for seat_id in seat_ids
            ],
            ignore_conflicts=True,
        )
        tickets = list(
            Ticket.objects.select_for_update()
            .filter(booking_id=booking_id, seat_id__in=list(seat_ids))
            .exclude(status=TicketStatus.REVOKED)
            .order_by("pk")
        )
        if tickets:
            _revoke(booking_id, tickets, reason_code=reason_code)
    return len(tickets)


def _revoke(booking_id: str, tickets: list[Ticket], *, reason_code: str) -> None:
    """Revoke ``tickets`` (locked, none revoked yet) of one booking and announce it."""
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
        status=TicketStatus.REVOKED,
        revoked_reason=reason_code,
        updated_at=timezone.now(),
        version=F("version") + 1,
    )
    emit(
        TicketsRevoked(
            booking_id=booking_id,
            event_id=str(tickets[0].event_id),
            ticket_ids=[str(t.pk) for t in tickets],
            reason_code=cast("schemas.RevocationReason", reason_code),  # the event validates it
        ),
        aggregate_id=booking_id,
        using=_db(),
    )


# --- transfers ----------------------------------------------------------------------------------


def _transfer_refusal(tickets: list[Ticket], *, wanted: int, booking_id: str) -> str:
    """Why these locked tickets cannot change hands now; empty when they can."""
    if len(tickets) != wanted:
        return "a ticket of this transfer is not a ticket of the booking"
    if WithdrawnBooking.objects.filter(pk=booking_id).exists():
        return "the booking was cancelled or refunded"
    for ticket in tickets:
        if ticket.status == TicketStatus.CHECKED_IN:
            return f"{ticket.seat_label} is already checked in"
        if ticket.status == TicketStatus.REVOKED:
            return f"{ticket.seat_label} is no longer valid ({ticket.revoked_reason or 'revoked'})"
    return ""


def tickets_transfer(*, payload: TicketTransferAccepted) -> list[Ticket]:
    """Revoke the tickets of an accepted transfer and issue each seat anew to its recipient.

    The new ticket has a new id, so its signed secret differs and the old QR code is refused
    at every door. Tickets revoked, checked in or already transferred meanwhile (the booking
    was cancelled after the acceptance, say) are not reissued: the transfer is answered
    ``refused``. Returns the new tickets. Again: the transfer was already answered; nothing
    is issued or announced.
    """
    with db.atomic(_db()):
        # A concurrent second delivery waits on this row's key, then finds it taken.
        _, first = TicketTransfer.objects.get_or_create(
            transfer_id=payload.transfer_id, defaults={"booking_id": payload.booking_id}
        )
        if not first:
            return []
        wanted = sorted(set(payload.ticket_ids))
        olds = list(
            # Only the tickets' rows: locking their event's row too would queue every scan's
            # and transfer's transaction of the event behind this one.
            Ticket.objects.select_for_update(of=("self",))
            .select_related("event")
            .filter(pk__in=wanted, booking_id=payload.booking_id)
            .order_by("pk")
        )
        refusal = _transfer_refusal(olds, wanted=len(wanted), booking_id=payload.booking_id)
        event = olds[0].event if olds else CheckinEvent.objects.filter(pk=payload.event_id).first()
        news: list[Ticket] = []
        if not refusal:
            now = timezone.now()
            Ticket.objects.filter(pk__in=[t.pk for t in olds]).update(
                status=TicketStatus.REVOKED,
                revoked_reason="transferred",
                updated_at=now,
                version=F("version") + 1,
            )
            for old in olds:
                ticket = Ticket(
                    event=old.event,
                    booking_id=old.booking_id,
                    booking_reference=old.booking_reference,
                    seat_id=old.seat_id,
                    seat_label=old.seat_label,
                    transferred_from=old,
                    holder_email=payload.recipient.email,
                    issued_at=now,
                    updated_at=now,
                )
                ticket.secret = signing.secret_new(
                    ticket_id=str(ticket.id),
                    event_id=str(old.event_id),
                    sealed_private_key=old.event.sealed_private_key,
                )
                ticket.fingerprint = signing.fingerprint(ticket.secret)
                news.append(ticket)
            Ticket.objects.bulk_create(news)
        TicketTransfer.objects.filter(pk=payload.transfer_id).update(
            outcome="refused" if refusal else "transferred", reason=refusal[:200]
        )
        if event is None:
            # Checkin never issued tickets for this event: nothing to answer about.
            logger.warning("transfer %s names an event without tickets", payload.transfer_id)
            return []
        emit(
            TicketsTransferred(
                transfer_id=payload.transfer_id,
                booking_id=payload.booking_id,
                event_id=str(event.pk),
                event_name=event.name,
                event_starts_at=event.starts_at,
                venue_name=event.venue_name,
                recipient=payload.recipient,
                outcome="refused" if refusal else "transferred",
                reason=refusal,
                tickets=[
                    TransferredTicket(
                        ticket_id=str(t.pk),
                        replaces=str(t.transferred_from_id),
                        seat_id=t.seat_id,
                        seat_label=t.seat_label,
                        secret=t.secret,
                    )
                    for t in news
                ],
            ),
            aggregate_id=payload.booking_id,
            using=_db(),
        )
    return news


# --- scanning -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """The answer to one scan."""

    result: str
    ticket: Ticket | None
    first_scan_at: datetime | None
    scan: Scan
    replayed: bool = False
    """True when the nonce had been seen: this is the first answer again."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a scan decides, before it is written: the answer and what it does to the ticket."""

    result: str
    accepted: bool
    reason: str = ""
    first_scan_at: datetime | None = None
    takes_over: bool = False


def _replay(*, nonce: str, event_id: str, secret_fingerprint: str) -> ScanOutcome | None:
    """The first answer to ``nonce``, if it was used; a conflict if it was used for another scan."""
    scan = Scan.objects.select_related("ticket").filter(nonce=nonce).first()
    if scan is None:
        return None
    if str(scan.event_id) != str(event_id) or scan.secret_fingerprint != secret_fingerprint:
        raise Conflict(
            "This nonce was already used for another scan; send a new nonce for each scan.",
            code=CheckinErrorCode.NONCE_REUSED,
        )
    return ScanOutcome(
        result=scan.result, ticket=scan.ticket, first_scan_at=scan.first_scan_at, scan=scan, replayed=True
    )


def _identify(secret: str, event: CheckinEvent) -> tuple[str | None, str, str]:
    """``(ticket id, result so far, reason)``: whose ticket the secret is, if genuine.

    A genuine secret of another event of ours is ``wrong_event`` (its ticket id is kept for
    the log); anything else that fails the signature is ``unknown``.
    """
    try:
        parsed = signing.secret_parse(secret)
    except signing.MalformedSecret as error:
        return None, ScanResult.UNKNOWN, f"not a ticket: {error}"
    if parsed.event_id != str(event.pk):
        other = CheckinEvent.objects.filter(pk=parsed.event_id).first()
        if other is not None and signing.secret_verify(parsed, public_key=other.public_key):
            return parsed.ticket_id, ScanResult.WRONG_EVENT, f"a ticket for {other.name}"
        return None, ScanResult.UNKNOWN, "signature does not verify"
    if not signing.secret_verify(parsed, public_key=event.public_key):
        return None, ScanResult.UNKNOWN, "signature does not verify"
    return parsed.ticket_id, "", ""


def _decide(
    ticket: Ticket | None, *, scan_type: str, when: datetime, force: bool, identified: str, reason: str
) -> Verdict:
    """Decide a scan of ``ticket`` (locked by the caller) that happened at ``when``."""
    if ticket is None:
        return Verdict(ScanResult.UNKNOWN, accepted=False, reason=reason or "no such ticket")
    if identified == ScanResult.WRONG_EVENT:
        return Verdict(ScanResult.WRONG_EVENT, accepted=False, reason=reason)
    if ticket.status == TicketStatus.REVOKED:
        return Verdict(ScanResult.REVOKED, accepted=False, reason=f"revoked: {ticket.revoked_reason}")
    if scan_type == ScanType.EXIT:
        # A ticket admits once; leaving is logged and never refused.
        return Verdict(ScanResult.OK, accepted=True, first_scan_at=ticket.first_scan_at)
    if ticket.status == TicketStatus.VALID:
        return Verdict(ScanResult.OK, accepted=True, first_scan_at=when)
    first = ticket.first_scan_at
    if force and first is not None and when < first:
        return Verdict(
            ScanResult.OK,
            accepted=True,
            reason=f"earlier than the entry at {first}",
            first_scan_at=when,
            takes_over=True,
        )
    return Verdict(
        ScanResult.ALREADY_REDEEMED,
        accepted=False,
        reason=f"already redeemed at {first}",
        first_scan_at=first,
    )


def scan_redeem(
    *,
    event_id: str,
    secret: str,
    nonce: str,
    scan_type: str = ScanType.ENTRY,
    user_id: str = "",
    scanned_at: datetime | None = None,
    force: bool = False,
) -> ScanOutcome:
    """Answer one scan of ``secret`` at the door of ``event_id`` and record it.

    ``scanned_at`` counts only with ``force`` (an offline scan being uploaded); a live scan
    happens now. The same ``nonce`` again returns the first answer and writes nothing; the
    same nonce for a different ticket or event is a ``409 nonce_reused``.
    """
    event = CheckinEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise NotFound("No tickets have been issued for this event.", code=CheckinErrorCode.UNKNOWN_EVENT)
    secret = secret.strip()
    secret_fingerprint = signing.fingerprint(secret)
    previous = _replay(nonce=nonce, event_id=event_id, secret_fingerprint=secret_fingerprint)
    if previous is not None:
        return previous
    now = timezone.now()
    when = scanned_at if force and scanned_at is not None else now
    ticket_id, identified, reason = _identify(secret, event)
    try:
        with db.atomic(_db()):
            ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first() if ticket_id else None
            if ticket is not None and ticket.secret != secret:
                ticket = None
            verdict = _decide(
                ticket, scan_type=scan_type, when=when, force=force, identified=identified, reason=reason
            )
            scan = Scan.objects.create(
                nonce=nonce,
                event_id=event_id,
                ticket=ticket,
                secret_fingerprint=secret_fingerprint,
                type=scan_type,
                result=verdict.result,
                accepted=verdict.accepted,
                forced=force,
                reason=verdict.reason[:200],
                first_scan_at=verdict.first_scan_at,
                scanned_at=when,
                received_at=now,
                user_id=user_id,
            )
            if ticket is not None:
                _record_on_ticket(ticket, scan, verdict, now)
    except IntegrityError:
        # The same nonce committed by a concurrent request first: answer as it was answered.
        previous = _replay(nonce=nonce, event_id=event_id, secret_fingerprint=secret_fingerprint)
        if previous is None:
            raise
        return previous
    db.on_commit(lambda: metrics.scanned(scan_type, verdict.result), using=_db())
    return ScanOutcome(result=verdict.result, ticket=ticket, first_scan_at=verdict.first_scan_at, scan=scan)


def _record_on_ticket(ticket: Ticket, scan: Scan, verdict: Verdict, now: datetime) -> None:
    """Admit the ticket (or move its admission to an earlier scan) and announce the scan."""
    if scan.type == ScanType.ENTRY and verdict.accepted:
        if verdict.takes_over and ticket.admitted_by_id:
            Scan.objects.filter(pk=ticket.admitted_by_id).update(
                accepted=False, reason=f"duplicate: an earlier offline scan at {scan.scanned_at} admitted it"
            )
        ticket.status = TicketStatus.CHECKED_IN
        ticket.first_scan_at = scan.scanned_at
        ticket.admitted_by = scan
        ticket.updated_at = now
        ticket.version += 1
        ticket.save(update_fields=["status", "first_scan_at", "admitted_by", "updated_at", "version"])
    emit(
        TicketScanned(
            booking_id=str(ticket.booking_id),
            event_id=str(scan.event_id),
            ticket_id=str(ticket.pk),
            seat_id=ticket.seat_id,
            scan_id=str(scan.pk),
            type=cast("schemas.ScanType", scan.type),  # the model's choices are the schema's values
            result=cast("schemas.ScanResult", scan.result),
            accepted=scan.accepted,
            forced=scan.forced,
            scanned_at=scan.scanned_at,
            reason=scan.reason,
        ),
        aggregate_id=str(ticket.booking_id),
        using=_db(),
    )


@dataclass(frozen=True, slots=True)
class OfflineScan:
    secret: str
    nonce: str
    scanned_at: datetime
    scan_type: str = ScanType.ENTRY


@dataclass(frozen=True, slots=True)
class UploadedScan:
    nonce: str
    outcome: ScanOutcome | None
    error_code: str = ""
    error_message: str = ""


def scans_upload(*, event_id: str, scans: Sequence[OfflineScan], user_id: str = "") -> list[UploadedScan]:
    """Record up to :data:`BATCH_LIMIT` offline scans of ``event_id``; answers in the order sent.

    They are applied in the order they happened (``scanned_at``), each as a forced scan in
    its own transaction, so two devices' offline scans of one ticket resolve to the earlier.
    A nonce already used for another scan fails that item alone.
    """
    if CheckinEvent.objects.filter(pk=event_id).first() is None:
        raise NotFound("No tickets have been issued for this event.", code=CheckinErrorCode.UNKNOWN_EVENT)
    answers: dict[str, UploadedScan] = {}
    for item in sorted(scans, key=lambda scan: scan.scanned_at):
        try:
            outcome = scan_redeem(
                event_id=event_id,
                secret=item.secret,
                nonce=item.nonce,
                scan_type=item.scan_type,
                user_id=user_id,
                scanned_at=item.scanned_at,
                force=True,
            )
        except Conflict as error:
            answers[item.nonce] = UploadedScan(item.nonce, None, error.code, error.message)
        else:
            answers[item.nonce] = UploadedScan(item.nonce, outcome)
    return [answers[item.nonce] for item in scans]
