"""Request and response shapes of the check-in API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apps.checkin.models import ScanResult, ScanType, Ticket, TicketStatus
from apps.checkin.services import BATCH_LIMIT, ScanOutcome, UploadedScan

NONCE_PATTERN = r"^[A-Za-z0-9_.:-]{8,64}$"
CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a device's clock may put an offline scan before it is refused."""


def _not_in_future(value: Any) -> Any:
    if value is not None and value > timezone.now() + CLOCK_SKEW:
        raise serializers.ValidationError("A scan cannot have happened in the future.")
    return value


class RedeemInput(serializers.Serializer):
    secret = serializers.CharField(max_length=512, trim_whitespace=True)
    event_id = serializers.UUIDField()
    nonce = serializers.RegexField(NONCE_PATTERN, help_text="New for each scan; a retry sends the same one.")
    scanned_at = serializers.DateTimeField(required=False, validators=[_not_in_future])
    type = serializers.ChoiceField(choices=ScanType.choices, default=ScanType.ENTRY)
    force = serializers.BooleanField(default=False, help_text="Uploading a scan that happened offline.")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["force"] and "scanned_at" not in data:
            raise serializers.ValidationError(
                {"scanned_at": ["An offline scan (force) says when it happened."]}
            )
        return data


class OfflineScanInput(serializers.Serializer):
    secret = serializers.CharField(max_length=512, trim_whitespace=True)
    nonce = serializers.RegexField(NONCE_PATTERN)
    scanned_at = serializers.DateTimeField(validators=[_not_in_future])
    type = serializers.ChoiceField(choices=ScanType.choices, default=ScanType.ENTRY)


class BatchInput(serializers.Serializer):
    # many=True hands max_length to the ListSerializer; drf-stubs only knows the child's arguments.
    scans = OfflineScanInput(many=True, allow_empty=False, max_length=BATCH_LIMIT)  # type: ignore[call-arg]

    def validate_scans(self, scans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonces = [scan["nonce"] for scan in scans]
        if len(set(nonces)) != len(nonces):
            raise serializers.ValidationError("Each scan of a batch needs its own nonce.")
        return scans


class DoorTicketOutput(serializers.ModelSerializer):
    """A ticket as the door sees it: no secret, nothing about the buyer but the reference."""

    id = serializers.CharField()
    event_id = serializers.CharField()
    booking_reference = serializers.CharField()
    status = serializers.ChoiceField(choices=TicketStatus.choices)

    class Meta:
        model = Ticket
        fields = ("id", "event_id", "booking_reference", "seat_id", "seat_label", "status", "first_scan_at")


class ScanOutput(serializers.Serializer):
    result = serializers.ChoiceField(choices=ScanResult.choices)
    ticket = DoorTicketOutput(allow_null=True)
    first_scan_at = serializers.DateTimeField(allow_null=True)
    scan_id = serializers.CharField()
    replayed = serializers.BooleanField()


def scan_output(outcome: ScanOutcome) -> dict[str, Any]:
    ticket = outcome.ticket
    return ScanOutput(
        {
            "result": outcome.result,
            "ticket": ticket,
            "first_scan_at": outcome.first_scan_at,
            "scan_id": str(outcome.scan.pk),
            "replayed": outcome.replayed,
        }
    ).data


class UploadedOutput(serializers.Serializer):
    nonce = serializers.CharField()
    result = serializers.ChoiceField(choices=ScanResult.choices, required=False)
    ticket = DoorTicketOutput(allow_null=True, required=False)
    first_scan_at = serializers.DateTimeField(allow_null=True, required=False)
    error = serializers.DictField(required=False, help_text="{code, message} when this scan was refused.")


class BatchOutput(serializers.Serializer):
    results = UploadedOutput(many=True)


def uploaded_output(item: UploadedScan) -> dict[str, Any]:
    if item.outcome is None:
        return {"nonce": item.nonce, "error": {"code": item.error_code, "message": item.error_message}}
    return {"nonce": item.nonce, **scan_output(item.outcome)}


class CountsOutput(serializers.Serializer):
    event_id = serializers.CharField()
    sold = serializers.IntegerField()
    checked_in = serializers.IntegerField()
    revoked = serializers.IntegerField()


class KeyOutput(serializers.Serializer):
    event_id = serializers.CharField()
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text="Raw 32-byte Ed25519 public key, base64url.")


class SnapshotOutput(serializers.Serializer):
    event_id = serializers.CharField()
    event_name = serializers.CharField()
    public_key = serializers.CharField()
    algorithm = serializers.CharField()
    generated_at = serializers.DateTimeField()
    since = serializers.DateTimeField(allow_null=True)
    valid = serializers.ListField(child=serializers.CharField())
    checked_in = serializers.ListField(child=serializers.CharField())
    revoked = serializers.ListField(child=serializers.CharField())
    sold = serializers.IntegerField()
    checked_in_count = serializers.IntegerField()
    signature = serializers.CharField(help_text="Ed25519 over the canonical JSON of every other field.")
