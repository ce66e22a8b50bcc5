"""GET /api/payments/{id} and /api/payments/booking/{booking_id}: owners and staff only."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from apps.payments.models import PaymentStatus
from apps.payments.tests.conftest import FakeStripe, PaymentFactory, payment_intent

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
    user = django_user_model.objects.create_user(
        "box-office@example.com", "a-long-password", name="Box Office", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Organisers"))  # staff see payments by permission
    return user


def get(url: str, user: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"} if user is not None else {}
    return Client().get(url, headers=headers)


def test_the_owner_reads_their_payment(owner: Any) -> None:
    payment = PaymentFactory(
        user_id=str(owner.id),
        provider_reference="pi_owner",
        status=PaymentStatus.REFUNDED,
        refunded_cents=4200,
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
        "next_action": None,
        "client_secret": None,
        "failure_code": "",
        "failure_message": "",
        "refund_id": "re_1",
        "refund_reason_code": "booking_cancelled",
        "refunded_at": body["refunded_at"],
        "refunded_cents": 4200,
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


# --- 3-D Secure: what the buyer's page needs, and checking the outcome without the webhook ---------


def waiting_for_3ds(owner: Any) -> Any:
    return PaymentFactory(
        user_id=str(owner.id),
        status=PaymentStatus.PENDING,
        provider_reference="pi_3ds",
        provider_status="requires_action",
        client_secret="pi_3ds_secret_abc",
        next_action_type="use_stripe_sdk",
    )


def test_the_owner_gets_what_finishes_3d_secure_on_the_booking_endpoint(owner: Any) -> None:
    payment = waiting_for_3ds(owner)

    body = get(f"/api/payments/booking/{payment.booking_id}", owner).json()

    assert (body["status"], body["next_action"], body["client_secret"]) == (
        "PENDING",
        {"type": "use_stripe_sdk", "redirect_url": None},
        "pi_3ds_secret_abc",
    )


def test_staff_see_the_action_but_never_the_client_secret(owner: Any, staff: Any) -> None:
    payment = waiting_for_3ds(owner)

    body = get(f"/api/payments/{payment.id}", staff).json()

    assert (body["next_action"]["type"], body["client_secret"]) == ("use_stripe_sdk", None)


def test_a_settled_payment_has_no_action_and_no_secret(owner: Any) -> None:
    # Whatever was left in the row, a settled payment offers nothing to act on.
    payment = PaymentFactory(user_id=str(owner.id), client_secret="stale", next_action_type="use_stripe_sdk")

    body = get(f"/api/payments/{payment.id}", owner).json()

    assert (body["next_action"], body["client_secret"]) == (None, None)


def post(url: str, user: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}"} if user is not None else {}
    return Client().post(url, headers=headers)


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_refresh_settles_a_payment_the_buyer_just_authenticated(
    owner: Any, stripe_at_fake: FakeStripe
) -> None:
    payment = waiting_for_3ds(owner)
    stripe_at_fake.answer(200, payment_intent("pi_3ds", "succeeded"))

    response = post(f"/api/payments/{payment.id}/refresh", owner)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["client_secret"]) == ("SUCCEEDED", None)
    [request] = stripe_at_fake.requests
    assert (request.method, request.path) == ("GET", "/v1/payment_intents/pi_3ds")


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_refresh_of_a_settled_payment_asks_no_one(owner: Any, stripe_at_fake: FakeStripe) -> None:
    payment = PaymentFactory(user_id=str(owner.id))

    response = post(f"/api/payments/{payment.id}/refresh", owner)

    assert (response.status_code, response.json()["status"]) == (200, "SUCCEEDED")
    assert stripe_at_fake.requests == []


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_refresh_while_stripe_is_down_is_busy_not_an_error(owner: Any, stripe_at_fake: FakeStripe) -> None:
    payment = waiting_for_3ds(owner)
    stripe_at_fake.answer(
        503, {"error": {"type": "api_error", "message": "down"}}, headers={"Stripe-Should-Retry": "false"}
    )

    response = post(f"/api/payments/{payment.id}/refresh", owner)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "busy"


def test_refresh_of_someone_elses_payment_is_not_found(owner: Any, stranger: Any) -> None:
    payment = waiting_for_3ds(owner)

    response = post(f"/api/payments/{payment.id}/refresh", stranger)

    assert response.status_code == 404
