"""Factories of the catalog tests (documents live on the "documents" alias)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

SMALL_LAYOUT = {
    "sections": [
        {
            "name": "Stalls",
            "category": "standard",
            "rows": [
                {"label": "A", "seats": 4},
                {"label": "B", "seats": 4, "start": 11, "category": "premium"},
            ],
        },
        {"name": "Balcony", "category": "economy", "rows": [{"label": "A", "seats": 2}]},
    ]
}
SMALL_PRICES = {"standard": 4500, "premium": 7900, "economy": 2500}
PASSWORD = "Correct-Horse-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.User"
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def organiser(user, create: bool, extracted: object, **kwargs: object) -> None:
        """Staff made here organise events (``organiser=False``: they do not): the API checks
        permissions, and is_staff alone grants none of them."""
        if create and user.is_staff and extracted is not False:
            user.groups.add(*Group.objects.filter(name="Organisers"))


class VenueFactory(factory.django.DjangoModelFactory):
    """A venue of 10 seats: 4 standard and 4 premium in the stalls, 2 economy on the balcony."""

    class Meta:
        model = "catalog.Venue"
        database = "documents"

    name = factory.Sequence(lambda n: f"Hall {n}")
    address = "1 Main Street"
    timezone = "Europe/Berlin"
    layout = factory.LazyFunction(lambda: SMALL_LAYOUT)
    capacity = 10


class EventFactory(factory.django.DjangoModelFactory):
    """A draft event ten days ahead (published, with ``published_at``, it has its venue's plan)."""

    class Meta:
        model = "catalog.Event"
        database = "documents"

    venue = factory.SubFactory(VenueFactory)
    name = factory.Sequence(lambda n: f"Concert {n}")
    description = "An evening of music."
    starts_at = factory.LazyFunction(lambda: (timezone.now() + timedelta(days=10)).replace(microsecond=0))
    ends_at = factory.LazyAttribute(lambda event: event.starts_at + timedelta(hours=3))
    currency = "EUR"
    prices = factory.LazyFunction(lambda: dict(SMALL_PRICES))
    published_at = None
    layout = factory.LazyAttribute(lambda event: event.venue.layout if event.published_at else None)


def published(**fields: Any) -> Any:
    """An event published now, on sale unless ``status`` says otherwise."""
    fields.setdefault("status", "on_sale")
    return EventFactory(published_at=timezone.now(), **fields)


def announced_updates() -> list[dict[str, Any]]:
    """The payloads of the ``event.updated`` messages in the outbox, oldest first."""
    from ticketflow.messaging.models import OutboxMessage
    from ticketflow.messaging.topics import Topic

    rows = OutboxMessage.objects.using("documents").filter(topic=Topic.EVENT_UPDATED).order_by("position")
    return [json.loads(row.body)["payload"] for row in rows]
