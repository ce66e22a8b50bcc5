"""Every model lives on exactly one database alias and migrates only there."""

import pytest
from django.apps import apps
from django.conf import settings
from django.db import router

from ticketflow.routers import KERNEL_APP_LABEL

ALIASES = ("default", "documents")


def _aliases_migrating(model: type) -> set[str]:
    return {alias for alias in ALIASES if router.allow_migrate_model(alias, model)}


@pytest.mark.embedded
@pytest.mark.parametrize(
    "model",
    [m for m in apps.get_models() if m._meta.app_label != KERNEL_APP_LABEL],
    ids=lambda m: m._meta.label,
)
def test_each_model_is_claimed_by_exactly_one_alias(model: type) -> None:
    expected = settings.CONTEXT_DATABASES.get(model._meta.app_label, "default")

    assert _aliases_migrating(model) == {expected}
    assert router.db_for_read(model) == expected
    assert router.db_for_write(model) == expected


@pytest.mark.embedded
@pytest.mark.parametrize(
    "model", list(apps.get_app_config(KERNEL_APP_LABEL).get_models()), ids=lambda m: m.__name__
)
def test_the_event_kernel_tables_exist_on_every_alias(model: type) -> None:
    # Outbox and inbox rows commit with each context's own state, so every alias has them.
    assert _aliases_migrating(model) == set(ALIASES)


@pytest.mark.embedded
def test_every_bounded_context_is_routed() -> None:
    contexts = {
        "accounts",
        "catalog",
        "inventory",
        "bookings",
        "payments",
        "notifications",
        "checkin",
        "waitingroom",
    }

    assert set(settings.CONTEXT_DATABASES) - {"probe"} == contexts  # probe: the kernel's test-only context
    assert {
        settings.CONTEXT_DATABASES[c] for c in ("accounts", "inventory", "bookings", "checkin", "waitingroom")
    } == {"default"}
    assert {settings.CONTEXT_DATABASES[c] for c in ("catalog", "payments", "notifications")} == {"documents"}


@pytest.mark.embedded
def test_relations_may_not_cross_a_context() -> None:
    user_model = apps.get_model("accounts", "User")
    other = apps.get_model("messaging", "OutboxMessage")

    assert router.allow_relation(user_model(), other(id="00000000-0000-0000-0000-000000000000")) is False
