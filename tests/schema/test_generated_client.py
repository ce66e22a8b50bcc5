"""A typed Python client generated from the served schema works: proof that clients can use it.

openapi-python-client (pinned in the dev extra, no network needed) generates the client into a
temporary folder; the test imports it and lists the public events, and reads a missing one,
through the Django application in process (httpx's WSGI transport), with the client's own
models parsing both the page and the documented ``Error`` answer.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client as DjangoClient
from django.utils import timezone

from apps.catalog.layout import parse_layout_text
from apps.catalog.services import EventDetails, event_create, venue_create

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

PACKAGE = "ticketflow_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[ModuleType]:
    schema = DjangoClient().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    # No post hooks: formatting the generated code is not what is being tested.
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "schema.json"),
            "--meta",
            "none",
            "--config",
            str(tmp_path / "config.yaml"),
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout, result.stdout
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def in_process() -> Iterator[httpx.WSGITransport]:
    """The Django application as an httpx transport, keeping the test's database connection open
    across requests, as Django's own test client does."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield httpx.WSGITransport(app=get_wsgi_application())
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


def test_the_generated_client_lists_events_and_reads_errors(
    generated: ModuleType, in_process: httpx.WSGITransport
) -> None:
    venue = venue_create(
        name="Hall",
        address="1 Road",
        timezone_name="UTC",
        layout=parse_layout_text("[Hall] standard\nA: 1-4"),
    )
    starts = timezone.now() + timedelta(days=3)
    event = event_create(
        details=EventDetails(
            venue_id=str(venue.pk),
            name="Quartet",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            prices={"standard": 2000},
        ),
        publish=True,
    )
    client = generated.Client(base_url="http://testserver", httpx_args={"transport": in_process})
    events_list = importlib.import_module(f"{PACKAGE}.api.events.events_list")
    events_retrieve = importlib.import_module(f"{PACKAGE}.api.events.events_retrieve")
    models = importlib.import_module(f"{PACKAGE}.models")

    page = events_list.sync(client=client, page_size=10)
    missing = events_retrieve.sync_detailed(client=client, event_id="3f1f0000-0000-4000-8000-000000000000")

    assert isinstance(page, models.PaginatedEventOutputList)
    assert (page.count, [(e.id, e.name) for e in page.results]) == (1, [(str(event.pk), "Quartet")])
    assert page.results[0].prices[0].price_cents == 2000
    assert missing.status_code == 404
    assert isinstance(missing.parsed, models.Error)
    assert missing.parsed.error.code == "not_found"
