"""Helpers of the catalog tests: JSON calls, signed-in staff and customers, the in-process relay."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from apps.catalog.tests.factories import UserFactory
from tests.support.api import Api


def token_for(user: Any) -> str:
    return str(RefreshToken.for_user(user).access_token)


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def staff_token() -> str:
    return token_for(UserFactory(is_staff=True))


@pytest.fixture
def customer_token() -> str:
    return token_for(UserFactory())
