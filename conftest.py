"""Suite-wide fixtures and the rule that nothing is silently skipped.

``make test`` runs the suite twice: against the real services (everything not marked
``embedded_only``), then on the embedded default (``embedded`` and ``embedded_only``). A
test marked ``services`` that finds the services unconfigured fails with instructions; it
never skips.
"""

from __future__ import annotations

import pytest
from django.conf import settings


def _services_configured() -> bool:
    return (
        settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
        and settings.DATABASES["documents"]["ENGINE"] == "django.db.backends.postgresql"
        and settings.TICKETFLOW_EVENTS["TRANSPORT"] == "kafka"
        and bool(settings.REDIS_URL)
    )


@pytest.fixture(autouse=True)
def _require_real_services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("services") and not _services_configured():
        pytest.fail(
            "This test needs the real PostgreSQL, Redis and Kafka: run `make test`, or "
            "`deploy/local/up.sh && source deploy/local/env.sh` before pytest.",
            pytrace=False,
        )
    if request.node.get_closest_marker("embedded_only") and _services_configured():
        pytest.fail("This test checks the embedded default: run it without service variables.", pytrace=False)


@pytest.fixture
def both_databases() -> list[str]:
    return ["default", "documents"]
