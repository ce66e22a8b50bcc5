"""Factories of the accounts tests."""

from __future__ import annotations

import factory

PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    """A customer who can log in with :data:`PASSWORD`."""

    class Meta:
        model = "accounts.User"
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    name = factory.Sequence(lambda n: f"Buyer {n}")
    password = factory.django.Password(PASSWORD)
