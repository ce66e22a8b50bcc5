"""GET /api/payments/{id} and /api/payments/booking/{booking_id}: owners and staff only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from apps.payments.models import PaymentStatus
from apps.payments.tests.conftest import PaymentFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

NOT_FOUND = {"error": {"code": "not_found", "message": "No payment with this id.", "details": {}}}


@pytest.fixture
def owner(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("ada@example.com", "a-long-password", name="Ada Lovelace")


@pytest.fixture
def stranger(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("eve@example.com", "a-long-password", name="Eve")


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(
        "box-office@example.com", "a-long-password", name="Box Office", is_staff=True
    )


def get(url: str, user: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"} if user is not None else {}
    return Client().get(url, headers=headers)


def test_the_owner_reads_their_payment(owner: Any) -> None:
    payment = PaymentFactory(
        user_id=str(owner.id),
        provider_reference="pi_owner",
        status=PaymentStatus.REFUNDED,
        refund_id="re_1",
        refund_reason_code="booking_cancelled",
        refunded_at=timezone.now(),
        completed_at=timezone.now(),
    )

    response = get(f"/api/payments/{payment.id}", owner)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": str(payment.id),
        "booking_id": payment.booking_id,
        "attempt": 1,
        "status": "REFUNDED",
        "amount_cents": 4200,
        "currency": "EUR",
        "provider": "stripe",
        "provider_reference": "pi_owner",
        "failure_code": "",
        "failure_message": "",
        "refund_id": "re_1",
        "refund_reason_code": "booking_cancelled",
        "refunded_at": body["refunded_at"],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "completed_at": body["completed_at"],
    }
    assert None not in (body["refunded_at"], body["created_at"], body["completed_at"])


def test_a_stranger_gets_not_found(owner: Any, stranger: Any) -> None:
    payment = PaymentFactory(user_id=str(owner.id))

    response = get(f"/api/payments/{payment.id}", stranger)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_staff_read_any_payment(owner: Any, staff: Any) -> None:
    payment = PaymentFactory(user_id=str(owner.id))

    response = get(f"/api/payments/{payment.id}", staff)

    assert (response.status_code, response.json()["id"]) == (200, str(payment.id))


def test_an_anonymous_request_must_sign_in(owner: Any) -> None:
    payment = PaymentFactory(user_id=str(owner.id))

    response = get(f"/api/payments/{payment.id}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("payment_id", ["not-a-uuid", "1' OR '1'='1", str(uuid.uuid4())])
def test_a_malformed_or_unknown_id_is_not_found(staff: Any, payment_id: str) -> None:
    response = get(f"/api/payments/{payment_id}", staff)

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_the_booking_endpoint_answers_the_latest_attempt(owner: Any) -> None:
    booking_id = f"bk-{uuid.uuid4()}"
    PaymentFactory(user_id=str(owner.id), booking_id=booking_id, attempt=1, status=PaymentStatus.FAILED)
    latest = PaymentFactory(user_id=str(owner.id), booking_id=booking_id, attempt=2)

    response = get(f"/api/payments/booking/{booking_id}", owner)

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["attempt"], response.json()["status"]) == (
        str(latest.id),
        2,
        "SUCCEEDED",
    )


def test_the_booking_endpoint_hides_other_peoples_bookings(owner: Any, stranger: Any, staff: Any) -> None:
    payment = PaymentFactory(user_id=str(owner.id))

    as_stranger = get(f"/api/payments/booking/{payment.booking_id}", stranger)
    as_staff = get(f"/api/payments/booking/{payment.booking_id}", staff)
    unknown = get(f"/api/payments/booking/bk-{uuid.uuid4()}", owner)

    assert (as_stranger.status_code, as_stranger.json()["error"]["code"]) == (404, "not_found")
    assert (as_staff.status_code, as_staff.json()["id"]) == (200, str(payment.id))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")


def test_the_browsable_api_renders_a_payment(client: Client, owner: Any) -> None:
    payment = PaymentFactory(user_id=str(owner.id))
    client.force_login(owner)

    response = client.get(f"/api/payments/{payment.id}", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert payment.booking_id in response.content.decode()


def test_the_schema_documents_the_payments_api(client: Client) -> None:
    response = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/payments/{payment_id}"]) == {"get"}
    assert set(paths["/api/payments/booking/{booking_id}"]) == {"get"}
    assert set(paths["/api/payments/webhooks/stripe"]) == {"post"}


def test_the_admin_lists_and_searches_payments(client: Client, django_user_model: Any) -> None:
    admin = django_user_model.objects.create_superuser("admin@example.com", "a-long-password", name="Admin")
    client.force_login(admin)
    wanted = PaymentFactory(status=PaymentStatus.FAILED)
    PaymentFactory()

    listing = client.get("/admin/payments/payment/", {"status__exact": "FAILED", "q": wanted.booking_id})
    detail = client.get(f"/admin/payments/payment/{wanted.pk}/change/")

    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [wanted]
    assert detail.status_code == 200
