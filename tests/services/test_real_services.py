"""The suite really talks to PostgreSQL (both databases), Redis and Kafka."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings
from django.db import connections
from django_redis import get_redis_connection

pytestmark = pytest.mark.services


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
@pytest.mark.parametrize("alias", ["default", "documents"])
def test_each_postgresql_database_takes_a_write_and_reads_it_back(alias: str) -> None:
    marker = uuid.uuid4().hex
    with connections[alias].cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS probe (marker text PRIMARY KEY)")
        cursor.execute("INSERT INTO probe (marker) VALUES (%s)", [marker])
        cursor.execute("SELECT marker, current_database(), version() FROM probe WHERE marker = %s", [marker])
        found, database, version = cursor.fetchone()
        cursor.execute("DROP TABLE probe")

    assert found == marker
    assert database == connections[alias].settings_dict["NAME"]
    assert version.startswith("PostgreSQL")


def test_the_two_aliases_are_two_databases() -> None:
    names = {connections[alias].settings_dict["NAME"] for alias in ("default", "documents")}

    assert len(names) == 2


def test_redis_round_trip() -> None:
    client = get_redis_connection("default")
    key = f"probe:{uuid.uuid4().hex}"

    client.set(key, b"ticket", ex=10)

    assert client.get(key) == b"ticket"
    assert client.ttl(key) > 0
    assert client.info("server")["redis_version"]
    client.delete(key)


def test_a_message_goes_through_the_kafka_broker() -> None:
    bootstrap = settings.TICKETFLOW_EVENTS["BOOTSTRAP_SERVERS"]
    topic = f"{settings.TICKETFLOW_EVENTS['NAMESPACE']}probe.{uuid.uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    payload = uuid.uuid4().bytes
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    producer.produce(topic, key=b"k", value=payload)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"probe-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        received = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and not message.error():
                received = message
                break
    finally:
        consumer.close()
        admin.delete_topics([topic])

    assert received is not None, "nothing came back from the broker within 60 s"
    assert (received.key(), received.value()) == (b"k", payload)
    broker_ids = list(admin.list_topics(timeout=10).brokers)
    assert broker_ids == [1]
