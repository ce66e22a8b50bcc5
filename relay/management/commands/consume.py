"""``python manage.py consume <context>|--all``: run Kafka consumer groups until stopped."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relay.consumers import ConsumerRunner
from relay.metrics_server import serve_metrics
from relay.signals import stop_on_signals
from ticketflow.messaging.handlers import contexts
from ticketflow.messaging.sweeps import start_sweeper
from ticketflow.messaging.transports import get_transport
from ticketflow.messaging.transports.kafka import KafkaTransport


class Command(BaseCommand):
    help = "Consume events for one bounded context (consumer group ticketflow.<context>), or --all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("contexts", nargs="*", help="Contexts to consume for, e.g. bookings inventory.")
        parser.add_argument("--all", action="store_true", help="Every context that handles events.")
        parser.add_argument("--metrics-port", type=int, default=None, help="Serve Prometheus metrics here.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=1,
            help="Consumers per context in this process (same group: Kafka splits the partitions).",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Most messages applied in one transaction (default: CONSUMER_BATCH_SIZE, 100).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        transport = get_transport()
        if not isinstance(transport, KafkaTransport):
            raise CommandError(
                "No KAFKA_BOOTSTRAP_SERVERS configured: the in-process transport applies events inside "
                "`manage.py relay`, so there are no consumers to run."
            )
        known = contexts()
        chosen = known if options["all"] else options["contexts"]
        if not chosen:
            raise CommandError(f"Name a context ({', '.join(known)}) or pass --all.")
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise CommandError(f"No handlers for {', '.join(unknown)}; choose from {', '.join(known)}.")
        if options["metrics_port"]:
            serve_metrics(options["metrics_port"])
        stop = stop_on_signals()
        if not 1 <= options["concurrency"] <= 64:
            raise CommandError("--concurrency must be between 1 and 64.")
        if options["batch_size"] is not None and not 1 <= options["batch_size"] <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        runners = [
            ConsumerRunner(context, transport, stop, batch_size=options["batch_size"])
            for context in chosen
            for _ in range(options["concurrency"])
        ]
        failures: list[BaseException] = []

        def run(runner: ConsumerRunner) -> None:
            try:
                runner.run()
            except BaseException as error:
                failures.append(error)
                stop.set()
                raise

        threads = [threading.Thread(target=run, args=(r,), name=r.group, daemon=True) for r in runners]
        # Hold expiry and the stuck-saga sweeps run here too, so they go on while beat is down.
        start_sweeper(stop)
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)
        if failures:
            raise CommandError(f"a consumer failed: {failures[0]}")
        self.stdout.write(f"consumed {sum(r.processed for r in runners)} messages")
