"""The accounts services: seeding accounts, and one account per address however sign-ups race."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from apps.accounts.services import user_ensure, user_register, user_sign_up
from apps.accounts.tests.conftest import Api
from apps.accounts.tests.factories import PASSWORD as FACTORY_PASSWORD
from apps.accounts.tests.factories import UserFactory
from ticketflow.errors import InvalidInput
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

User = get_user_model()

PASSWORD = "Analytical-Engine-1843"


@pytest.mark.embedded
@pytest.mark.django_db(databases=["default", "documents"])
def test_user_ensure_creates_once_and_never_touches_an_existing_password() -> None:
    first, created = user_ensure(email="Grace@Example.com", password=PASSWORD, name="Grace Hopper")
    again, created_again = user_ensure(email="grace@example.com", password="Another-Secret-99", name="Other")

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    user = User.objects.get()
    assert (user.email, user.name) == ("grace@example.com", "Grace Hopper")
    assert user.check_password(PASSWORD)
    assert not user.check_password("Another-Secret-99")
    assert OutboxMessage.objects.using("default").filter(topic=Topic.USER_REGISTERED).count() == 1


@pytest.mark.embedded
@pytest.mark.django_db(databases=["default", "documents"])
def test_user_ensure_makes_a_superuser_staff() -> None:
    user, _ = user_ensure(email="boss@example.com", password=PASSWORD, name="Boss", is_superuser=True)

    assert (user.is_staff, user.is_superuser) == (True, True)
    assert User.objects.get(pk=user.pk).is_superuser


@pytest.mark.services
@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_racing_sign_ups_with_one_address_create_one_account() -> None:
    # Given twelve sign-ups with the same address (in different cases) released at once
    start = threading.Barrier(12)
    outcomes: list[str] = []

    spellings = ("race@example.com", "RACE@example.com", "Race@Example.COM")

    def sign_up(index: int) -> None:
        try:
            start.wait()
            user_register(email=spellings[index % 3], password=PASSWORD, name=f"Racer {index}")
            outcomes.append("created")
        except InvalidInput as error:
            outcomes.append(f"refused: {error.details}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then exactly one account exists and was announced; every other sign-up got a field error
    refused = "refused: {'fields': {'email': ['An account with this email address already exists.']}}"
    assert sorted(outcomes) == ["created"] + [refused] * 11
    assert User.objects.filter(email="race@example.com").count() == 1
    assert OutboxMessage.objects.using("default").filter(topic=Topic.USER_REGISTERED).count() == 1


@pytest.mark.services
@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_racing_refreshes_of_one_token_mint_one_new_pair() -> None:
    # Given one refresh token presented by ten clients at once
    UserFactory(email="ada@example.com")
    refresh = Api(Client()).login("ada@example.com", FACTORY_PASSWORD)["refresh"]
    start = threading.Barrier(10)
    statuses: list[int] = []

    def spend() -> None:
        try:
            start.wait()
            statuses.append(Api(Client()).post("/api/users/token/refresh", {"refresh": refresh}).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=spend) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then exactly one got a new pair; the rest were refused as reuse
    assert sorted(statuses) == [200] + [401] * 9


@pytest.mark.services
@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_racing_public_sign_ups_with_one_address_make_one_account_and_warn_its_owner() -> None:
    # Given eight public sign-ups with the same address released at once
    start = threading.Barrier(8)
    outcomes: list[bool] = []

    def sign_up(index: int) -> None:
        try:
            start.wait()
            outcomes.append(
                user_sign_up(email="Rush@Example.com", password=PASSWORD, name=f"Rush {index}").created
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then one account was made and announced, and its owner is warned of each other attempt
    assert sorted(outcomes) == [False] * 7 + [True]
    assert User.objects.filter(email="rush@example.com").count() == 1
    outbox = OutboxMessage.objects.using("default")
    assert outbox.filter(topic=Topic.USER_REGISTERED).count() == 1
    assert outbox.filter(topic=Topic.SIGN_UP_ATTEMPTED).count() == 7
