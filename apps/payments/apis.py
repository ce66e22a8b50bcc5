"""The payments API: read a payment, read a booking's payment, refresh it, and Stripe's webhook.

Reads answer 404 ``not_found`` alike for unknown, malformed and other people's ids, so the
API never reveals that a payment exists. A payment waiting for its buyer (3-D Secure)
carries ``next_action`` and, for its owner only, the ``client_secret`` that
``stripe.handleNextAction`` needs: the booking page (or any client) reads them here, where
it already follows the payment, rather than from the booking.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.payments.error_codes import PaymentsErrorCode
from apps.payments.exceptions import InvalidWebhook, ProviderRejected, ProviderUnavailable
from apps.payments.models import Payment, PaymentStatus
from apps.payments.selectors import payment_get, payment_get_latest_for_booking
from apps.payments.services import payment_refresh, stripe_webhook_receive
from ticketflow.errors import Busy, Conflict, NotFound
from ticketflow.permissions import holds


class NextActionSerializer(serializers.Serializer[Any]):
    """What the buyer must do to finish the payment, as the provider names it."""

    type = serializers.CharField(help_text="use_stripe_sdk (3-D Secure in the page) or redirect_to_url.")
    redirect_url = serializers.CharField(
        allow_null=True, help_text="For redirect_to_url: where to send the buyer."
    )


def next_action_of(payment: Payment) -> dict[str, Any] | None:
    """The pending payment's next action, or None when the buyer has nothing to do."""
    if payment.status != PaymentStatus.PENDING or not payment.next_action_type:
        return None
    return {"type": payment.next_action_type, "redirect_url": payment.next_action_url or None}


class PaymentOutputSerializer(serializers.ModelSerializer[Payment]):
    """A payment as its owner and staff see it: no payment method, key or issuer decline code.

    ``client_secret`` is given to the paying customer only (staff get null), and only while
    the payment waits for them: it lets whoever holds it finish the charge.
    """

    id = serializers.CharField(read_only=True)
    next_action = serializers.SerializerMethodField()
    client_secret = serializers.SerializerMethodField()

    @extend_schema_field(NextActionSerializer(allow_null=True))
    def get_next_action(self, payment: Payment) -> dict[str, Any] | None:
        return next_action_of(payment)

    @extend_schema_field(OpenApiTypes.STR)
    def get_client_secret(self, payment: Payment) -> str | None:
        viewer = self.context.get("viewer_id")
        if next_action_of(payment) is None or viewer != payment.user_id:
            return None
        return payment.client_secret or None

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
            "next_action",
            "client_secret",
            "failure_code",
            "failure_message",
            "refund_id",
            "refund_reason_code",
            "refunded_at",
            "refunded_cents",
            "created_at",
            "updated_at",
            "completed_at",
        )
        read_only_fields = fields


def _viewer(request: Request) -> dict[str, Any]:
    return {"viewer_id": str(request.user.pk), "viewer_is_staff": holds(request, "payments.view_payment")}


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
        return Response(PaymentOutputSerializer(payment, context=_viewer(request)).data)


class PaymentRefreshApi(APIView):
    """Ask the provider now where the payment stands (after 3-D Secure), instead of waiting for its webhook."""

    throttle_scope = "payment-refresh"

    @extend_schema(
        operation_id="payments_refresh",
        summary="Check a pending payment with the provider now",
        request=None,
        responses={
            200: PaymentOutputSerializer,
            409: OpenApiResponse(description="`provider_rejected`: the provider does not know this payment."),
        },
    )
    def post(self, request: Request, payment_id: str) -> Response:
        payment = payment_get(payment_id=payment_id, **_viewer(request))
        if payment is None:
            raise NotFound("No payment with this id.")
        try:
            payment = payment_refresh(payment=payment)
        except ProviderUnavailable:
            raise Busy(
                "The payment provider did not answer; the payment is settled as soon as it does."
            ) from None
        except ProviderRejected:
            raise Conflict(
                "The payment provider does not know this payment.", code=PaymentsErrorCode.PROVIDER_REJECTED
            ) from None
        return Response(PaymentOutputSerializer(payment, context=_viewer(request)).data)


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
        return Response(PaymentOutputSerializer(payment, context=_viewer(request)).data)


class WebhookReceiptSerializer(serializers.Serializer[Any]):
    """The acknowledgement Stripe gets: which event, and what became of it."""

    event_id = serializers.CharField()
    type = serializers.CharField()
    outcome = serializers.ChoiceField(choices=("applied", "ignored", "rejected", "duplicate"))


class StripeWebhookApi(APIView):
    """Stripe's webhook: authenticated by its ``Stripe-Signature``, not by a user (so no CSRF)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (JSONRenderer,)

    @extend_schema(
        operation_id="payments_webhooks_stripe",
        summary="Receive a Stripe event",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            200: WebhookReceiptSerializer,
            400: OpenApiResponse(
                description="`invalid_webhook`, `malformed_webhook`: a bad signature or body."
            ),
            404: OpenApiResponse(description="`not_found`: this server takes no webhooks (no secret set)."),
            409: OpenApiResponse(description="`payment_not_recorded_yet`: Stripe retries the event later."),
        },
        parameters=[
            OpenApiParameter(
                "Stripe-Signature", {"type": "string", "minLength": 1}, OpenApiParameter.HEADER, required=True
            )
        ],
        auth=[],
    )
    def post(self, request: Request) -> Response:
        signature = request.headers.get("Stripe-Signature")
        if not signature:
            # Malformed on any server, whether or not this one takes webhooks.
            raise InvalidWebhook(
                "The Stripe-Signature header is missing, expired or does not match the body.",
                code=PaymentsErrorCode.INVALID_SIGNATURE,
                details={"reason": "No Stripe-Signature header."},
            )
        # The signature covers the raw bytes: read the body, never the parsed data.
        receipt = stripe_webhook_receive(payload=request.body, signature=signature)
        return Response(WebhookReceiptSerializer(receipt).data)
