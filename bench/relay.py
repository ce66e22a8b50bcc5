"""Relay benchmark: outbox drain rate and commit-to-publish latency, against the raw producer.

1. Baseline: a bare confluent-kafka producer (same configuration as the relay's: idempotent,
   acks=all, lz4) sends the very messages the outbox holds, to the same broker and topic.
2. Drain: the relay publishes a pre-filled outbox of the same events (claim with SKIP
   LOCKED, produce, one flush per batch, mark sent).
3. Steady state: a writer commits one event per transaction at a fixed rate while a relay
   process runs; commit-to-publish latency is ``sent_at - created_at`` of each row.

Run: ``source deploy/local/env.sh && python -m bench relay``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid

from bench.support import RESULTS, ROOT, percentile, setup_django, table


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench relay")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=int, default=200, help="steady-state events per second")
    parser.add_argument("--seconds", type=int, default=30, help="steady-state duration")
    parser.add_argument("--workers", type=int, default=2, help="relay worker threads")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="events per claim (default: the setting)"
    )
    args = parser.parse_args(argv)

    namespace = f"bench{uuid.uuid4().hex[:6]}-"
    setup_django(namespace)

    from confluent_kafka import Producer
    from django.conf import settings
    from django.db import connections

    from relay.engine import run_workers
    from ticketflow import db
    from ticketflow.messaging.models import OutboxMessage
    from ticketflow.messaging.outbox import emit
    from ticketflow.messaging.schemas import SeatsRelease
    from ticketflow.messaging.transports.kafka import KafkaTransport

    OutboxMessage.objects.using("default").all().delete()
    transport = KafkaTransport({**settings.TICKETFLOW_EVENTS, "NAMESPACE": namespace})
    transport.ensure_topics([SeatsRelease.topic])

    def write(count: int, per_transaction: int) -> None:
        for start in range(0, count, per_transaction):
            with db.atomic("default"):
                for i in range(start, min(count, start + per_transaction)):
                    booking = f"booking-{i % 2000}"
                    payload = SeatsRelease(
                        booking_id=booking,
                        event_id="event-1",
                        hold_id=f"hold-{i}",
                        seat_ids=[str(uuid.uuid4()) for _ in range(2)],
                        reason="hold expired",
                    )
                    emit(payload, aggregate_id=booking, using="default")

    write(args.events, per_transaction=500)
    with connections["default"].cursor() as cursor:
        # A live outbox is analysed by autovacuum all the time; a freshly filled one is not.
        cursor.execute("ANALYZE ticketflow_outbox")
    rows = list(
        OutboxMessage.objects.using("default").order_by("position").values_list("aggregate_id", "body")
    )

    # --- baseline: the raw producer -------------------------------------------------------------
    producer = Producer(
        {
            "bootstrap.servers": settings.TICKETFLOW_EVENTS["BOOTSTRAP_SERVERS"],
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 200_000,
        }
    )
    topic = transport.physical(SeatsRelease.topic)
    started = time.perf_counter()
    for key, body in rows:
        producer.produce(topic, key=key.encode(), value=body.encode())
        producer.poll(0)
    assert producer.flush(60) == 0
    raw_seconds = time.perf_counter() - started
    raw_rate = len(rows) / raw_seconds

    # --- the relay draining the same events -----------------------------------------------------
    # As `manage.py relay` runs it: worker threads, each with its own connection and producer.
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def relay_in_background() -> None:
        outcome["stats"] = run_workers(
            lambda: KafkaTransport({**settings.TICKETFLOW_EVENTS, "NAMESPACE": namespace}),
            workers=args.workers,
            stop=stop,
            batch_size=args.batch_size,
            aliases=("default",),
        )

    worker = threading.Thread(target=relay_in_background)
    started = time.perf_counter()
    worker.start()
    while OutboxMessage.objects.using("default").filter(pending=True).exists():
        time.sleep(0.005)
    drain_seconds = time.perf_counter() - started
    stop.set()
    worker.join()
    stats = outcome["stats"]
    assert stats.published == len(rows), stats
    drain_rate = stats.published / drain_seconds

    # --- steady state: latency at a fixed commit rate -------------------------------------------
    OutboxMessage.objects.using("default").all().delete()
    env = {**os.environ, "LOG_LEVEL": "warning", "LOG_FORMAT": "console"}
    relay_process = subprocess.Popen(
        [sys.executable, "manage.py", "relay", "--alias", "default"], cwd=ROOT, env=env
    )
    try:
        time.sleep(3)  # let it connect, create topics and start listening
        interval = 1 / args.rate
        total = args.rate * args.seconds
        committed_at: dict[str, float] = {}
        begun = next_at = time.perf_counter()
        for _ in range(total):
            with db.atomic("default"):
                envelope = emit(
                    SeatsRelease(
                        booking_id="steady", event_id="event-1", hold_id="h", seat_ids=["s"], reason="steady"
                    ),
                    aggregate_id=f"steady-{len(committed_at) % 500}",
                    using="default",
                )
            # The clock starts when the commit returns: that is when the event exists.
            committed_at[str(envelope.id)] = time.time()
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        achieved_rate = total / (time.perf_counter() - begun)
        deadline = time.monotonic() + 60
        while OutboxMessage.objects.using("default").filter(pending=True).exists():
            assert time.monotonic() < deadline, "the relay fell behind the steady rate"
            time.sleep(0.1)
    finally:
        relay_process.terminate()
        relay_process.wait(30)
    latencies = [
        max(0.0, sent.timestamp() - committed_at[str(event_id)]) * 1000
        for event_id, sent in OutboxMessage.objects.using("default").values_list("id", "sent_at")
    ]

    result = {
        "events": len(rows),
        "raw_producer_events_per_s": round(raw_rate),
        "relay_drain_events_per_s": round(drain_rate),
        "drain_ratio_to_raw": round(drain_rate / raw_rate, 3),
        "relay_batches": stats.batches,
        "steady_rate_target_per_s": args.rate,
        "steady_rate_achieved_per_s": round(achieved_rate, 1),
        "steady_events": len(latencies),
        "commit_to_publish_ms_p50": round(percentile(latencies, 0.50), 1),
        "commit_to_publish_ms_p99": round(percentile(latencies, 0.99), 1),
        "commit_to_publish_ms_max": round(max(latencies), 1),
    }
    transport.delete_namespace()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "relay.json").write_text(json.dumps(result, indent=2))
    print(
        table(
            [
                ["raw confluent-kafka producer (baseline)", f"{raw_rate:,.0f} events/s", "1.00"],
                [
                    "relay drain (outbox -> Kafka)",
                    f"{drain_rate:,.0f} events/s",
                    f"{drain_rate / raw_rate:.2f}",
                ],
                [
                    f"commit-to-publish at {args.rate}/s",
                    f"p50 {result['commit_to_publish_ms_p50']} ms, p99 {result['commit_to_publish_ms_p99']} ms",
                    "",
                ],
            ],
            ["measurement", "result", "ratio to raw"],
        )
    )
    return result


if __name__ == "__main__":
    main()
