"""Set-up of the pretix side, run *inside pretix's own venv* (``var/bench/pretix-venv``), never imported.

``python -P bench/pretix_setup.py SPEC.json`` (``-P``: bench/pretix.py must not shadow pretix) with ``PRETIX_CONFIG_FILE`` set reads a spec
``{"organizer": slug, "events": {slug: seats}}`` and prints one JSON line:
``{"token": ..., "events": {slug: [item id of seat 0, seat 1, ...]}}``.

What it creates, and why through the ORM rather than the control panel or the REST API:
- an organizer, a team with every permission on all events, and a team API token. pretix's
  docs create the token in the web UI under the team (doc/api/tokenauth); the API cannot
  create organizers, so a script does what that form does.
- per event: an event on sale (live), with pretix's default plugins plus bank transfer, the
  pending-payment provider the benchmark orders with; then one product per seat, each with
  its own quota of 1, so ten buyers of one seat contend for one quota exactly as ten
  TicketFlow buyers contend for one seat. The REST API could create the same products and
  quotas, but that is two requests per seat (2,000 for the sustained phase's event), so they
  are inserted in bulk, which pretix's availability checks treat no differently.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pretix.settings")
    import django

    django.setup()

    from django.conf import settings
    from django.utils.timezone import now
    from django_scopes import scopes_disabled
    from i18nfield.strings import LazyI18nString
    from pretix.base.models import Event, Item, Organizer, Quota, Team

    spec = json.loads(Path(sys.argv[1]).read_text())
    with scopes_disabled():
        organizer, _ = Organizer.objects.get_or_create(
            slug=spec["organizer"], defaults={"name": "TicketFlow benchmark"}
        )
        # Bank transfer is a plugin of both levels: it must be on for the organizer and the event.
        organizer.enable_plugin("pretix.plugins.banktransfer")
        organizer.save()
        team, _ = Team.objects.get_or_create(
            organizer=organizer,
            name="API",
            defaults={"all_events": True, "all_event_permissions": True, "all_organizer_permissions": True},
        )
        token = team.tokens.create(name="bench").token
        events: dict[str, list[int]] = {}
        starts = now() + timedelta(days=30)
        plugins = [*settings.PRETIX_PLUGINS_DEFAULT.split(","), "pretix.plugins.banktransfer"]
        for slug, seats in spec["events"].items():
            event = Event.objects.create(
                organizer=organizer,
                name={"en": f"Flash sale {slug}"},
                slug=slug,
                currency="EUR",
                date_from=starts,
                date_to=starts + timedelta(hours=3),
                live=True,
            )
            event.set_defaults()
            event.set_active_plugins(plugins, allow_restricted=plugins)
            event.save()
            event.settings.payment_banktransfer__enabled = True
            event.settings.payment_banktransfer_bank_details_type = "other"
            event.settings.payment_banktransfer_bank_details = LazyI18nString({"en": "Bench Bank, IBAN XX00"})
            items = Item.objects.bulk_create(
                Item(
                    event=event,
                    name={"en": f"Seat {n}"},
                    default_price=Decimal("49.00"),
                    admission=True,
                    position=n,
                )
                for n in range(seats)
            )
            quotas = Quota.objects.bulk_create(
                Quota(event=event, name=f"Seat {n}", size=1) for n in range(seats)
            )
            Quota.items.through.objects.bulk_create(
                Quota.items.through(quota_id=quota.pk, item_id=item.pk)
                for quota, item in zip(quotas, items, strict=True)
            )
            event.cache.clear()
            events[slug] = [item.pk for item in items]
    print(json.dumps({"token": token, "events": events}))


if __name__ == "__main__":
    main()
