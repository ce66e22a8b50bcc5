"""POST /api/payments/webhooks/stripe: signed by Stripe, applied once, 400 for anything else."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client

from apps.payments.models import Payment, PaymentStatus, StripeWebhookEvent
from apps.payments.tests.conftest import PaymentFactory, emitted, payment_intent, stripe_signature
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

URL = "/api/payments/webhooks/stripe"


@pytest.fixture
def stripe_client() -> Client:
    # Stripe sends no CSRF token: the endpoint must not need one.
    return Client(enforce_csrf_checks=True)


def stripe_event(event_id: str, event_type: str, data_object: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {"id": event_id, "object": "event", "type": event_type, "data": {"object": data_object}, **extra},
        separators=(",", ":"),
    )


def post(client: Client, payload: str, signature: str | None) -> Any:
    headers = {"Stripe-Signature": signature} if signature is not None else {}
    return client.post(URL, data=payload, content_type="application/json", headers=headers)


def reload(payment: Payment) -> Payment:
    return Payment.objects.using("documents").get(pk=payment.pk)


def test_a_succeeded_intent_settles_a_pending_payment_and_announces_it_once(
    stripe_client: Client, webhook_secret: str
) -> None:
    payment = PaymentFactory(status=PaymentStatus.PENDING, provider_status="requires_action")
    payload = stripe_event(
        "evt_1", "payment_intent.succeeded", payment_intent(payment.provider_reference, "succeeded")
    )

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.status_code == 200
    assert response.json() == {"event_id": "evt_1", "type": "payment_intent.succeeded", "outcome": "applied"}
    settled = reload(payment)
    assert (settled.status, settled.provider_status, settled.version) == (
        PaymentStatus.SUCCEEDED,
        "succeeded",
        2,
    )
    assert settled.completed_at is not None
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id) == [
        {
            "booking_id": payment.booking_id,
            "payment_id": str(payment.id),
            "attempt": 1,
            "status": "SUCCEEDED",
            "amount_cents": 4200,
            "currency": "EUR",
            "provider": "stripe",
            "failure_code": None,
            "failure_message": None,
        }
    ]
    record = StripeWebhookEvent.objects.using("documents").get(stripe_event_id="evt_1")
    assert (record.type, record.outcome, record.payment_id) == (
        "payment_intent.succeeded",
        "applied",
        payment.id,
    )


def test_a_failed_intent_settles_a_pending_payment_as_failed(
    stripe_client: Client, webhook_secret: str
) -> None:
    payment = PaymentFactory(status=PaymentStatus.PENDING, provider_status="requires_action")
    intent = payment_intent(
        payment.provider_reference,
        "requires_payment_method",
        last_payment_error={
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        },
    )
    payload = stripe_event("evt_2", "payment_intent.payment_failed", intent)

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.status_code == 200
    settled = reload(payment)
    assert (settled.status, settled.failure_code, settled.decline_code, settled.failure_message) == (
        PaymentStatus.FAILED,
        "insufficient_funds",
        "insufficient_funds",
        "Your card has insufficient funds.",
    )
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)
    assert (outcome["status"], outcome["failure_code"]) == ("FAILED", "insufficient_funds")


def test_a_canceled_intent_settles_a_pending_payment_as_failed(
    stripe_client: Client, webhook_secret: str
) -> None:
    payment = PaymentFactory(status=PaymentStatus.PENDING, provider_status="requires_action")
    payload = stripe_event(
        "evt_11", "payment_intent.canceled", payment_intent(payment.provider_reference, "canceled")
    )

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.json()["outcome"] == "applied"
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)
    assert (outcome["status"], outcome["failure_code"], outcome["failure_message"]) == (
        "FAILED",
        "payment_canceled",
        "The payment did not go through (canceled).",
    )


def test_a_repeated_event_id_changes_nothing(stripe_client: Client, webhook_secret: str) -> None:
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    payload = stripe_event(
        "evt_3", "payment_intent.succeeded", payment_intent(payment.provider_reference, "succeeded")
    )
    post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    again = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert reload(payment).version == 2
    assert len(emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)) == 1
    assert StripeWebhookEvent.objects.using("documents").filter(stripe_event_id="evt_3").count() == 1


def test_an_intent_event_for_a_settled_payment_is_ignored(stripe_client: Client, webhook_secret: str) -> None:
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    payload = stripe_event(
        "evt_4", "payment_intent.succeeded", payment_intent(payment.provider_reference, "succeeded")
    )

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.json()["outcome"] == "ignored"
    assert reload(payment).version == 1
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id) == []


def test_a_full_refund_marks_the_payment_refunded_without_an_event(
    stripe_client: Client, webhook_secret: str
) -> None:
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": payment.provider_reference,
        "refunded": True,
        "refunds": {"object": "list", "data": [{"id": "re_dashboard", "object": "refund"}]},
    }
    payload = stripe_event("evt_5", "charge.refunded", charge)

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.json()["outcome"] == "applied"
    refunded = reload(payment)
    assert (refunded.status, refunded.refund_id) == (PaymentStatus.REFUNDED, "re_dashboard")
    assert emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id) == []


def test_an_unknown_event_type_is_acknowledged_and_ignored(
    stripe_client: Client, webhook_secret: str
) -> None:
    payload = stripe_event("evt_6", "customer.created", {"id": "cus_1", "object": "customer"})

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.status_code == 200
    assert response.json() == {"event_id": "evt_6", "type": "customer.created", "outcome": "ignored"}


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(None, id="missing"),
        pytest.param("t=1,v1=deadbeef", id="garbage"),
        pytest.param("signed-with-another-secret", id="wrong-secret"),
        pytest.param("expired", id="older-than-300s"),
    ],
)
def test_a_request_without_a_valid_signature_is_refused(
    stripe_client: Client, webhook_secret: str, signature: str | None
) -> None:
    payment = PaymentFactory(status=PaymentStatus.PENDING)
    payload = stripe_event(
        "evt_7", "payment_intent.succeeded", payment_intent(payment.provider_reference, "succeeded")
    )
    if signature == "signed-with-another-secret":
        signature = stripe_signature(payload, "whsec_someone_else")
    elif signature == "expired":
        signature = stripe_signature(payload, webhook_secret, timestamp=int(time.time()) - 301)

    response = post(stripe_client, payload, signature)

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error"}
    assert (body["error"]["code"], body["error"]["message"]) == (
        "invalid_signature",
        "The Stripe-Signature header is missing, expired or does not match the body.",
    )
    assert reload(payment).status == PaymentStatus.PENDING
    assert not StripeWebhookEvent.objects.using("documents").exists()


def test_a_signature_just_inside_the_tolerance_is_accepted(
    stripe_client: Client, webhook_secret: str
) -> None:
    payload = stripe_event("evt_8", "customer.created", {"id": "cus_1"})

    response = post(
        stripe_client, payload, stripe_signature(payload, webhook_secret, timestamp=int(time.time()) - 290)
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param('{"id": "evt_9", "type": ', id="truncated-json"),
        pytest.param("[]", id="not-an-object"),
        pytest.param('{"id": "evt_9", "type": "payment_intent.succeeded"}', id="no-data"),
    ],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(
    stripe_client: Client, webhook_secret: str, payload: str
) -> None:
    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "malformed_webhook",
        "The webhook body is not a Stripe event.",
    )


def test_without_a_webhook_secret_the_endpoint_is_not_there(stripe_client: Client, settings) -> None:
    settings.PAYMENTS = {**settings.PAYMENTS, "STRIPE_WEBHOOK_SECRET": None}
    payload = stripe_event("evt_10", "customer.created", {"id": "cus_1"})

    response = post(stripe_client, payload, stripe_signature(payload, "whsec_anything"))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- events that must not be lost, and events that contradict the payment --------------------------


def test_an_intent_not_yet_recorded_by_its_id_is_matched_by_its_metadata(
    stripe_client: Client, webhook_secret: str
) -> None:
    # The charge is on record, but Stripe's answer (the intent id) is not yet.
    payment = PaymentFactory(status=PaymentStatus.PENDING, provider_reference="", provider_status="")
    intent = payment_intent(
        "pi_new", "succeeded", metadata={"booking_id": payment.booking_id, "attempt": "1"}
    )
    payload = stripe_event("evt_meta", "payment_intent.succeeded", intent)

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.json()["outcome"] == "applied"
    settled = reload(payment)
    assert (settled.status, settled.provider_reference) == (PaymentStatus.SUCCEEDED, "pi_new")
    assert len(emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)) == 1


def test_an_intent_of_ours_not_recorded_at_all_is_answered_so_that_stripe_retries(
    stripe_client: Client, webhook_secret: str
) -> None:
    booking_id = "c2a1d7a4-93b2-4d8b-a8c5-0b1f3f9d1e22"
    intent = payment_intent("pi_early", "succeeded", metadata={"booking_id": booking_id, "attempt": "1"})
    payload = stripe_event("evt_early", "payment_intent.succeeded", intent, created=int(time.time()))

    first = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert first.status_code == 409
    assert first.json()["error"]["code"] == "payment_not_recorded_yet"
    assert not StripeWebhookEvent.objects.using("documents").filter(stripe_event_id="evt_early").exists()

    # Stripe's retry, once the charge's transaction has committed, is applied, not dropped.
    payment = PaymentFactory(
        booking_id=booking_id, status=PaymentStatus.PENDING, provider_reference="pi_early"
    )
    retry = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert (retry.status_code, retry.json()["outcome"]) == (200, "applied")
    assert reload(payment).status == PaymentStatus.SUCCEEDED


def test_an_unknown_intent_stops_being_retried_after_the_window(
    stripe_client: Client, webhook_secret: str
) -> None:
    intent = payment_intent("pi_gone", "succeeded", metadata={"booking_id": "bk-elsewhere", "attempt": "1"})
    payload = stripe_event("evt_old", "payment_intent.succeeded", intent, created=int(time.time()) - 7200)

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")


def test_an_intent_without_a_booking_is_not_ours_and_ignored(
    stripe_client: Client, webhook_secret: str
) -> None:
    payload = stripe_event(
        "evt_foreign", "payment_intent.succeeded", payment_intent("pi_foreign", "succeeded")
    )

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert (response.status_code, response.json()["outcome"]) == (200, "ignored")


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        pytest.param({"amount": 100}, "amount 100 != 4200", id="amount"),
        pytest.param({"currency": "usd"}, "currency USD != EUR", id="currency"),
    ],
)
def test_an_intent_that_contradicts_the_payment_is_rejected_and_changes_nothing(
    stripe_client: Client, webhook_secret: str, change: dict[str, Any], detail: str
) -> None:
    payment = PaymentFactory(status=PaymentStatus.PENDING, provider_status="requires_action")
    intent = payment_intent(payment.provider_reference, "succeeded", **change)
    payload = stripe_event("evt_bad", "payment_intent.succeeded", intent)

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert (response.status_code, response.json()["outcome"]) == (200, "rejected")
    assert reload(payment).status == PaymentStatus.PENDING
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id) == []
    record = StripeWebhookEvent.objects.using("documents").get(stripe_event_id="evt_bad")
    assert (record.outcome, record.detail, record.payment_id) == ("rejected", detail, payment.pk)


def test_a_live_mode_event_at_a_test_mode_server_is_rejected(
    stripe_client: Client, webhook_secret: str, settings
) -> None:
    settings.PAYMENTS = {**settings.PAYMENTS, "STRIPE_SECRET_KEY": "sk_test_123"}
    payment = PaymentFactory(status=PaymentStatus.PENDING, provider_status="requires_action")
    intent = payment_intent(payment.provider_reference, "succeeded")
    payload = stripe_event("evt_live", "payment_intent.succeeded", intent, livemode=True)

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.json()["outcome"] == "rejected"
    assert reload(payment).status == PaymentStatus.PENDING
    record = StripeWebhookEvent.objects.using("documents").get(stripe_event_id="evt_live")
    assert record.detail == "a live-mode event for this server"


def test_a_refund_in_another_currency_is_rejected(stripe_client: Client, webhook_secret: str) -> None:
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED)
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": payment.provider_reference,
        "refunded": True,
    }
    payload = stripe_event("evt_refund_usd", "charge.refunded", {**charge, "currency": "usd"})

    response = post(stripe_client, payload, stripe_signature(payload, webhook_secret))

    assert response.json()["outcome"] == "rejected"
    assert reload(payment).status == PaymentStatus.SUCCEEDED
