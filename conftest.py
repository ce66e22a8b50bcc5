"""Suite-wide fixtures and the rule that nothing is silently skipped.

``make test`` runs the suite twice: against the real services (everything not marked
``embedded_only``), then on the embedded default (``embedded`` and ``embedded_only``). A
test marked ``services`` that finds the services unconfigured fails with instructions; it
never skips.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError

from relay.engine import Relay
from ticketflow import seat_claims
from ticketflow.celery import app as celery_app
from ticketflow.messaging.transports import get_transport
from ticketflow.messaging.transports.inprocess import InProcessTransport

pytest_plugins = ["tests.support.saga", "tests.support.stack"]


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


@pytest.fixture(autouse=True)
def _fresh_seat_claims() -> Iterator[None]:
    """Each test starts with no seat claims: the database rolls back, the claim store does not."""
    yield
    with contextlib.suppress(RedisConnectionError, OSError):  # a test that stopped Redis
        seat_claims.clear()


@pytest.fixture
def fast_retries(settings) -> None:
    settings.TICKETFLOW_EVENTS = {**settings.TICKETFLOW_EVENTS, "CONSUMER_BACKOFF_SECONDS": 0.01}


@pytest.fixture
def inprocess_transport(settings, fast_retries: None) -> Iterator[None]:
    """Select the embedded default's transport for this test, whatever the session runs on."""
    settings.TICKETFLOW_EVENTS = {**settings.TICKETFLOW_EVENTS, "TRANSPORT": "inprocess"}
    get_transport.cache_clear()
    yield
    get_transport.cache_clear()


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run Celery tasks inline (emails are sent where the handler's transaction commits)."""
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(task_always_eager=previous[0], task_eager_propagates=previous[1])


@pytest.fixture
def inprocess_relay(inprocess_transport: None) -> Relay:
    """A relay over both outboxes that applies events in this process (the embedded transport)."""
    return Relay(InProcessTransport(), poll_interval=0.01)


@pytest.fixture(scope="session", autouse=True)
def _drop_session_topics() -> Iterator[None]:
    """Leave the broker as we found it: delete the topics this session's namespace created."""
    yield
    options = settings.TICKETFLOW_EVENTS
    if options["TRANSPORT"] == "kafka" and options["NAMESPACE"]:
        from ticketflow.messaging.transports.kafka import KafkaTransport

        KafkaTransport(options).delete_namespace()
