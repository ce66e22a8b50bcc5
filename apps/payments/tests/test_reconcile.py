"""The reconciliation task: PENDING payments that waited too long are read, settled or cancelled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.payments.models import Payment, PaymentStatus
from apps.payments.tasks import reconcile_pending_payments
from apps.payments.tests.conftest import FakeStripe, PaymentFactory, emitted, payment_intent
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

DOCUMENTS = "documents"


def reconciled(action: str) -> float:
    return REGISTRY.get_sample_value("ticketflow_payments_reconciled_total", {"action": action}) or 0.0


def stale_3ds(*, age: timedelta) -> Payment:
    then = timezone.now() - age
    return PaymentFactory(
        status=PaymentStatus.PENDING,
        provider_status="requires_action",
        client_secret="pi_secret_abc",
        created_at=then,
        updated_at=then,
        submitted_at=then,
    )


def reload(payment: Payment) -> Payment:
    return Payment.objects.using(DOCUMENTS).get(pk=payment.pk)


def test_an_intent_whose_webhook_was_lost_is_settled(stripe_at_fake: FakeStripe) -> None:
    payment = stale_3ds(age=timedelta(minutes=15))
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "succeeded"))
    before = reconciled("settled")

    assert reconcile_pending_payments() == 1

    assert reload(payment).status == PaymentStatus.SUCCEEDED
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)
    assert outcome["status"] == "SUCCEEDED"
    [request] = stripe_at_fake.requests
    assert (request.method, request.path) == ("GET", f"/v1/payment_intents/{payment.provider_reference}")
    assert reconciled("settled") == before + 1


def test_a_recent_pending_payment_is_not_asked_about(stripe_at_fake: FakeStripe) -> None:
    stale_3ds(age=timedelta(minutes=1))

    assert reconcile_pending_payments() == 0

    assert stripe_at_fake.requests == []


def test_an_intent_still_waiting_is_left_and_asked_about_again_later(stripe_at_fake: FakeStripe) -> None:
    payment = stale_3ds(age=timedelta(minutes=15))
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "requires_action"))

    reconcile_pending_payments()
    reconcile_pending_payments()

    assert reload(payment).status == PaymentStatus.PENDING
    assert len(stripe_at_fake.requests) == 1  # touched: the second run does not ask again yet


def test_an_intent_pending_past_any_hold_is_cancelled(stripe_at_fake: FakeStripe) -> None:
    payment = stale_3ds(age=timedelta(hours=3))
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "canceled"))
    before = reconciled("cancelled")

    reconcile_pending_payments()

    assert (reload(payment).status, reload(payment).failure_code) == (
        PaymentStatus.FAILED,
        "payment_canceled",
    )
    [request] = stripe_at_fake.requests
    assert request.path == f"/v1/payment_intents/{payment.provider_reference}/cancel"
    assert reconciled("cancelled") == before + 1
    assert REGISTRY.get_sample_value("ticketflow_payments_intents_cancelled_total", {"reason": "abandoned"})


def test_an_intent_whose_amount_differs_is_not_settled(stripe_at_fake: FakeStripe) -> None:
    payment = stale_3ds(age=timedelta(minutes=15))
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "succeeded", amount=100))
    before = reconciled("mismatch")

    reconcile_pending_payments()

    assert reload(payment).status == PaymentStatus.PENDING
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id) == []
    assert reconciled("mismatch") == before + 1


def test_a_payment_whose_cancel_failed_is_cancelled_on_the_next_run(stripe_at_fake: FakeStripe) -> None:
    payment = stale_3ds(age=timedelta(minutes=1))
    Payment.objects.using(DOCUMENTS).filter(pk=payment.pk).update(booking_ended_at=timezone.now())
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "canceled"))

    reconcile_pending_payments()

    assert reload(payment).status == PaymentStatus.FAILED
