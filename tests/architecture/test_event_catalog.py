"""docs/event-catalog.md and the code agree on every topic, field, producer and consumer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ticketflow.messaging.handlers import subscribers
from ticketflow.messaging.schemas import REGISTRY
from ticketflow.messaging.topics import Topic

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "event-catalog.md"
CONTEXTS = ("accounts", "catalog", "inventory", "bookings", "payments", "notifications", "checkin")
ROW = re.compile(
    r"^\| `(?P<topic>[^`]+)` \| (?P<producer>[^|]+) \| (?P<consumers>[^|]+) \| (?P<fields>[^|]+) \|"
)

pytestmark = pytest.mark.embedded


def documented() -> dict[str, dict[str, set[str]]]:
    rows = {}
    for line in CATALOGUE.read_text().splitlines():
        if match := ROW.match(line):
            rows[match["topic"]] = {
                "producers": {p.strip() for p in match["producer"].split(",")},
                "consumers": {c.strip() for c in match["consumers"].split(",") if c.strip() != "-"},
                "fields": {f.strip() for f in match["fields"].split(",")},
            }
    return rows


def product_topics() -> dict[str, type]:
    """Catalogue topics only: test-only event types (the kernel's probe) are not the product's."""
    return {topic: schema for topic, schema in REGISTRY.items() if topic in set(Topic)}


def constructed_payloads(context: str) -> set[str]:
    """Payload classes a context's (non-test) code builds: ``Schema(...)`` or ``A if x else B``."""
    names = {schema.__name__ for schema in REGISTRY.values()}
    built: set[str] = set()
    for path in (ROOT / "apps" / context).rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            candidates = []
            if isinstance(node, ast.Call):
                candidates.append(node.func)
            if isinstance(node, ast.IfExp):
                candidates += [node.body, node.orelse]
            built |= {c.id for c in candidates if isinstance(c, ast.Name) and c.id in names}
    return built


def test_every_topic_is_documented_and_every_documented_topic_exists() -> None:
    assert set(documented()) == set(product_topics())


@pytest.mark.parametrize("topic", sorted(Topic))
def test_the_documented_payload_fields_are_the_schema_fields(topic: str) -> None:
    assert documented()[topic]["fields"] == set(REGISTRY[topic].model_fields)


@pytest.mark.parametrize("topic", sorted(Topic))
def test_the_documented_consumers_are_the_registered_handlers(topic: str) -> None:
    assert documented()[topic]["consumers"] == set(subscribers(topic))


@pytest.mark.parametrize("topic", sorted(Topic))
def test_the_documented_producers_are_the_contexts_that_build_the_payload(topic: str) -> None:
    schema = REGISTRY[topic].__name__
    producers = {context for context in CONTEXTS if schema in constructed_payloads(context)}

    assert documented()[topic]["producers"] == producers


def test_every_topic_has_a_producer_and_a_consumer() -> None:
    rows = documented()

    assert all(row["producers"] for row in rows.values())
    assert all(row["consumers"] for row in rows.values())
