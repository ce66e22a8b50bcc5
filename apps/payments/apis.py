"""The payments API: read a payment, read a booking's payment, and Stripe's webhook.

Reads answer 404 ``not_found`` alike for unknown, malformed and other people's ids, so the
API never reveals that a payment exists.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.payments.models import Payment
from apps.payments.selectors import payment_get, payment_get_latest_for_booking
from apps.payments.services import stripe_webhook_receive
from ticketflow.errors import NotFound


class PaymentOutputSerializer(serializers.ModelSerializer[Payment]):
    """A payment as its owner and staff see it: no payment method, key or issuer decline code."""

    id = serializers.CharField(read_only=True)

    class Meta:
        model = Payment
        fields = (
            "id",
            "booking_id",
            "attempt",
            "status",
            "amount_cents",
            "currency",
            "provider",
            "provider_reference",
            "failure_code",
            "failure_message",
            "refund_id",
            "refund_reason_code",
            "refunded_at",
            "created_at",
            "updated_at",
            "completed_at",
        )
        read_only_fields = fields


def _viewer(request: Request) -> dict[str, Any]:
    return {"viewer_id": str(request.user.pk), "viewer_is_staff": bool(request.user.is_staff)}


class PaymentDetailApi(APIView):
    """One payment, to its owner or staff."""

    @extend_schema(
        operation_id="payments_retrieve",
        summary="Get a payment",
        responses={200: PaymentOutputSerializer},
    )
    def get(self, request: Request, payment_id: str) -> Response:
        payment = payment_get(payment_id=payment_id, **_viewer(request))
        if payment is None:
            raise NotFound("No payment with this id.")
        return Response(PaymentOutputSerializer(payment).data)


class BookingPaymentApi(APIView):
    """A booking's latest payment attempt (the highest ``attempt``), to its owner or staff."""

    @extend_schema(
        operation_id="payments_booking_retrieve",
        summary="Get a booking's latest payment attempt",
        responses={200: PaymentOutputSerializer},
    )
    def get(self, request: Request, booking_id: str) -> Response:
        payment = payment_get_latest_for_booking(booking_id=booking_id, **_viewer(request))
        if payment is None:
            raise NotFound("No payment for this booking.")
        return Response(PaymentOutputSerializer(payment).data)


class WebhookReceiptSerializer(serializers.Serializer[Any]):
    """The acknowledgement Stripe gets: which event, and what became of it."""

    event_id = serializers.CharField()
    type = serializers.CharField()
    outcome = serializers.ChoiceField(choices=("applied", "ignored", "duplicate"))


class StripeWebhookApi(APIView):
    """Stripe's webhook: authenticated by its ``Stripe-Signature``, not by a user (so no CSRF)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (JSONRenderer,)

    @extend_schema(
        operation_id="payments_webhooks_stripe",
        summary="Receive a Stripe event",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: WebhookReceiptSerializer},
        parameters=[
            OpenApiParameter("Stripe-Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        # The signature covers the raw bytes: read the body, never the parsed data.
        receipt = stripe_webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        return Response(WebhookReceiptSerializer(receipt).data)
