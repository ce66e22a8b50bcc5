"""Users in the admin: an account added there can sign in to the API like any other."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.tests.conftest import Api
from apps.accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

User = get_user_model()


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(UserFactory(email="boss@example.com", is_staff=True, is_superuser=True))
    return client


def test_an_account_added_in_the_admin_signs_in_whatever_the_case_of_its_email(
    admin_client: Client, api: Api
) -> None:
    assert admin_client.get("/admin/accounts/user/add/").status_code == 200

    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Grace.Hopper@Example.com",
            "name": "Grace Hopper",
            "password1": "Compiler-Pioneer-1952",
            "password2": "Compiler-Pioneer-1952",
            "usable_password": "true",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(name="Grace Hopper")
    for email in ("grace.hopper@example.com", "Grace.Hopper@Example.com", "GRACE.HOPPER@EXAMPLE.COM"):
        login = api.post("/api/users/login", {"email": email, "password": "Compiler-Pioneer-1952"})
        assert login.status_code == 200, email
    assert api.get("/api/users/me", token=login.json()["access"]).json()["id"] == str(user.pk)


def test_the_admin_finds_people_by_email(admin_client: Client) -> None:
    UserFactory(email="ada@example.com", name="Ada Lovelace")
    UserFactory(email="alan@example.com", name="Alan Turing")

    response = admin_client.get("/admin/accounts/user/", {"q": "ada@"})

    assert response.status_code == 200
    assert [u.email for u in response.context["cl"].result_list] == ["ada@example.com"]


def test_a_customer_cannot_open_the_users_admin(client: Client) -> None:
    client.force_login(UserFactory(email="buyer@example.com"))

    response = client.get("/admin/accounts/user/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
