"""The check-in API: redeem a ticket at the door, upload offline scans, snapshot, counts, key."""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.checkin import selectors, services
from apps.checkin.error_codes import CheckinErrorCode
from apps.checkin.models import CheckinEvent
from apps.checkin.serializers import (
    BatchInput,
    BatchOutput,
    CountsOutput,
    KeyOutput,
    RedeemInput,
    ScanOutput,
    SnapshotOutput,
    scan_output,
    uploaded_output,
)
from ticketflow.browsable import BrowsableForm
from ticketflow.errors import InvalidInput, NotFound

SCAN_PERMISSION = "checkin.scan_tickets"


class CanScanTickets(BasePermission):
    """Door staff: signed in with the ``checkin.scan_tickets`` permission (superusers have it)."""

    message = "Scanning tickets needs the check-in permission."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user.is_authenticated and request.user.has_perm(SCAN_PERMISSION))


def _event_or_404(event_id: str) -> CheckinEvent:
    event = selectors.checkin_event_get(event_id=event_id)
    if event is None:
        raise NotFound("No tickets have been issued for this event.", code=CheckinErrorCode.UNKNOWN_EVENT)
    return event


class RedeemApi(BrowsableForm, APIView):
    """Scan one ticket: 200 with the answer (``ok`` or why not); the same nonce again, the same answer."""

    permission_classes = (CanScanTickets,)

    @extend_schema(
        request=RedeemInput,
        responses={
            200: ScanOutput,
            404: OpenApiResponse(description="`unknown_event`: no tickets were issued for this event."),
            409: OpenApiResponse(description="`nonce_reused`: the nonce was sent before with another scan."),
        },
    )
    def post(self, request: Request) -> Response:
        payload = RedeemInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        outcome = services.scan_redeem(
            event_id=str(data["event_id"]),
            secret=data["secret"],
            nonce=data["nonce"],
            scan_type=data["type"],
            user_id=str(request.user.pk),
            scanned_at=data.get("scanned_at"),
            force=data["force"],
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return Response(scan_output(outcome), headers=headers)


class BatchApi(BrowsableForm, APIView):
    """Upload up to 500 scans made offline; the answers come back in the order sent."""

    permission_classes = (CanScanTickets,)

    @extend_schema(request=BatchInput, responses={200: BatchOutput})
    def post(self, request: Request, event_id: str) -> Response:
        event = _event_or_404(event_id)
        payload = BatchInput(data=request.data)
        payload.is_valid(raise_exception=True)
        uploaded = services.scans_upload(
            event_id=str(event.pk),
            scans=[
                services.OfflineScan(
                    secret=scan["secret"],
                    nonce=scan["nonce"],
                    scanned_at=scan["scanned_at"],
                    scan_type=scan["type"],
                )
                for scan in payload.validated_data["scans"]
            ],
            user_id=str(request.user.pk),
        )
        return Response({"results": [uploaded_output(item) for item in uploaded]})


SINCE = OpenApiParameter(
    "since",
    datetime,
    required=False,
    description="Only tickets changed since then (a previous generated_at).",
)


class SnapshotApi(APIView):
    """The signed fingerprints of the event's valid, checked-in and revoked tickets, for offline scanning."""

    permission_classes = (CanScanTickets,)

    @extend_schema(parameters=[SINCE], responses={200: SnapshotOutput})
    def get(self, request: Request, event_id: str) -> Response:
        event = _event_or_404(event_id)
        since = None
        if raw := request.query_params.get("since"):
            try:
                since = datetime.fromisoformat(raw.replace(" ", "+"))
            except ValueError:
                raise InvalidInput(
                    "since must be an ISO 8601 time with an offset.",
                    details={"fields": {"since": ["invalid"]}},
                ) from None
            if since.tzinfo is None:
                raise InvalidInput(
                    "since must be an ISO 8601 time with an offset.", details={"fields": {"since": ["naive"]}}
                )
        return Response(selectors.snapshot_get(event=event, since=since))


class CountsApi(APIView):
    """How many tickets of the event are sold and how many are checked in, now."""

    permission_classes = (CanScanTickets,)

    @extend_schema(responses={200: CountsOutput})
    def get(self, request: Request, event_id: str) -> Response:
        event = _event_or_404(event_id)
        counts = selectors.ticket_counts(event_id=str(event.pk))
        return Response(
            {
                "event_id": str(event.pk),
                "sold": counts.sold,
                "checked_in": counts.checked_in,
                "revoked": counts.revoked,
            }
        )


class PublicKeyApi(APIView):
    """The event's Ed25519 public key: anyone may verify a ticket or a snapshot with it."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    @extend_schema(responses={200: KeyOutput})
    def get(self, request: Request, event_id: str) -> Response:
        event = _event_or_404(event_id)
        return Response({"event_id": str(event.pk), "algorithm": "Ed25519", "public_key": event.public_key})
