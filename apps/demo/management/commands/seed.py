"""``python manage.py seed``: the README's test user, an admin, three venues and events on sale.

Idempotent: run it as often as you like; what exists is left alone (passwords included).
With the embedded default it also applies the resulting events in-process, so seats are
bookable the moment it returns; with Kafka, the relay and consumers do that.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts.services import user_ensure
from apps.catalog.layout import parse_layout_text
from apps.catalog.models import Event, EventStatus, Venue
from apps.catalog.services import EventDetails, event_create, event_publish, venue_create
from relay.engine import Relay
from ticketflow.messaging.transports import get_transport

TEST_USER = ("test@ticketflow.dev", "Test1234!", "Test User")
ADMIN_EMAIL = "admin@ticketflow.dev"


def _rows(labels: str, seats: int, category: str | None = None) -> str:
    suffix = f" {category}" if category else ""
    return "\n".join(f"{label}: 1-{seats}{suffix}" for label in labels)


VENUES: list[dict[str, Any]] = [
    {
        "name": "The Basement",
        "address": "12 Cellar Lane, Bristol",
        "timezone": "Europe/London",
        "layout": "[Floor] standard\n" + _rows("ABCD", 12) + "\n[Booths] premium\n" + _rows("E", 8),
    },
    {
        "name": "Royal Theatre",
        "address": "1 Palace Square, Edinburgh",
        "timezone": "Europe/London",
        "layout": (
            "[Stalls] standard\n"
            + _rows("ABCDE", 24, "premium")
            + "\n"
            + _rows("FGHJKLMNPQ", 24)
            + "\n[Circle] standard\n"
            + _rows("ABCDEFGH", 20)
            + "\n[Balcony] economy\n"
            + _rows("ABCDEF", 18)
        ),
    },
    {
        "name": "Riverside Arena",
        "address": "Quay Road 5, Manchester",
        "timezone": "Europe/London",
        "layout": "\n".join(
            f"[Block {block}] {'floor' if block < 103 else 'lower' if block < 107 else 'upper'}\n"
            + "\n".join(f"R{row}: 1-30" for row in range(1, 26))
            for block in range(101, 109)
        ),
    },
]

EVENTS: list[dict[str, Any]] = [
    {"name": "Midnight Jazz Session", "venue": "The Basement", "days": 7, "hour": 21,
     "prices": {"standard": 2500, "premium": 4000}, "max": 6,
     "description": "A late-night set from the city's best quartet. Doors at 8:30pm."},
    {"name": "Indie Night: New Voices", "venue": "The Basement", "days": 21, "hour": 20,
     "prices": {"standard": 1800, "premium": 3000}, "max": 4,
     "description": "Four bands you will be telling your friends about next year."},
    {"name": "Hamlet", "venue": "Royal Theatre", "days": 14, "hour": 19,
     "prices": {"premium": 6500, "standard": 4200, "economy": 2200}, "max": 8,
     "description": "Shakespeare's tragedy in a bold new staging by the Royal Company."},
    {"name": "The Nutcracker", "venue": "Royal Theatre", "days": 30, "hour": 18,
     "prices": {"premium": 7500, "standard": 4800, "economy": 2600}, "max": 8,
     "description": "The festive ballet, with the full orchestra."},
    {"name": "Aurora Live", "venue": "Riverside Arena", "days": 45, "hour": 20,
     "prices": {"floor": 9500, "lower": 6900, "upper": 3900}, "max": 10,
     "description": "The Northern Lights tour comes home for one night only."},
]  # fmt: skip


class Command(BaseCommand):
    help = "Create the test user, an admin, three venues and upcoming events on sale (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.TICKETFLOW_ENV == "production":
            raise CommandError(
                "seed creates a test user with a published password and demo events; "
                "it does not run in production. Create staff with `manage.py createsuperuser`."
            )
        user, created = user_ensure(email=TEST_USER[0], password=TEST_USER[1], name=TEST_USER[2])
        self.stdout.write(
            f"test user   {user.email} / {TEST_USER[1]}" + ("" if created else " (already there)")
        )
        password = secrets.token_urlsafe(12)
        admin, created = user_ensure(
            email=ADMIN_EMAIL, password=password, name="Box Office", is_superuser=True
        )
        if created:
            self.stdout.write(
                self.style.WARNING(f"admin       {admin.email} / {password}  (shown once; /admin/)")
            )
        else:
            self.stdout.write(
                f"admin       {admin.email} (already there; `manage.py changepassword {admin.email}`)"
            )

        venues = {venue["name"]: self._venue(venue) for venue in VENUES}
        today = timezone.now().replace(minute=0, second=0, microsecond=0)
        for spec in EVENTS:
            self._event(spec, venues[spec["venue"]], today)

        transport = get_transport()
        if not transport.remote:
            stats = Relay(transport).drain()
            self.stdout.write(f"applied {stats.published} events in-process: seats are ready")
        else:
            self.stdout.write("the relay and consumers will create the seats from the published events")

    def _venue(self, spec: dict[str, Any]) -> Venue:
        venue = Venue.objects.filter(name=spec["name"]).first()
        if venue is None:
            venue = venue_create(
                name=spec["name"],
                address=spec["address"],
                timezone_name=spec["timezone"],
                layout=parse_layout_text(spec["layout"]),
            )
            self.stdout.write(f"venue       {venue.name}: {venue.capacity} seats")
        return venue

    def _event(self, spec: dict[str, Any], venue: Venue, today: datetime) -> None:
        event = Event.objects.filter(name=spec["name"], venue=venue).first()
        if event is None:
            starts_at = (today + timedelta(days=spec["days"])).replace(hour=spec["hour"])
            event = event_create(
                details=EventDetails(
                    venue_id=str(venue.pk),
                    name=spec["name"],
                    description=spec["description"],
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(hours=3),
                    currency="GBP",
                    prices=spec["prices"],
                    max_seats_per_booking=spec["max"],
                    hold_minutes=10,
                )
            )
        if event.status == EventStatus.DRAFT:
            event = event_publish(event_id=str(event.pk))
            self.stdout.write(
                f"on sale     {event.name} at {venue.name}, {event.starts_at:%d %b %Y %H:%M} UTC"
            )
