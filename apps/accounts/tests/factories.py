"""Factories of the accounts tests."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    """A customer who can log in with :data:`PASSWORD`."""

    class Meta:
        model = "accounts.User"
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    name = factory.Sequence(lambda n: f"Buyer {n}")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def organiser(user, create: bool, extracted: object, **kwargs: object) -> None:
        """Staff made here organise events (``organiser=False``: they do not): the API checks
        permissions, and is_staff alone grants none of them."""
        if create and user.is_staff and extracted is not False:
            user.groups.add(*Group.objects.filter(name="Organisers"))
