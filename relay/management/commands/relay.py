"""``python manage.py relay``: publish every outbox to the event transport until stopped."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from relay.engine import Relay, run_workers
from relay.metrics_server import serve_metrics
from relay.signals import stop_on_signals
from ticketflow.messaging.sweeps import start_sweeper
from ticketflow.messaging.transports import get_transport, new_transport


class Command(BaseCommand):
    help = (
        "Drain the transactional outboxes (default and documents) to Kafka, or to the in-process "
        "transport in the embedded default, which also runs every context's handlers here."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Events per claim and flush.")
        parser.add_argument(
            "--poll-interval", type=float, default=None, help="Seconds between polls when idle."
        )
        parser.add_argument(
            "--alias", action="append", dest="aliases", help="Only this database alias (repeatable)."
        )
        parser.add_argument("--metrics-port", type=int, default=None, help="Serve Prometheus metrics here.")
        parser.add_argument("--once", action="store_true", help="Drain what is pending, then exit.")
        parser.add_argument(
            "--workers", type=int, default=2, help="Relay threads in this process (with Kafka); default 2."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["metrics_port"]:
            serve_metrics(options["metrics_port"])
        settings_for_relays = {
            "aliases": options["aliases"] or ("default", "documents"),
            "batch_size": options["batch_size"],
            "poll_interval": options["poll_interval"],
        }
        stop = stop_on_signals()
        transport = get_transport()
        if options["once"]:
            stats = Relay(transport, stop=stop, **settings_for_relays).drain()
            self.stdout.write(f"relay published {stats.published} events in {stats.batches} batches")
            return
        # Hold expiry and the stuck-saga sweeps run here too, so they go on while beat is down.
        start_sweeper(stop)
        if transport.remote and options["workers"] > 1:
            stats = run_workers(new_transport, workers=options["workers"], stop=stop, **settings_for_relays)
        else:
            # The in-process transport applies events on the relay's own thread: one worker.
            stats = Relay(transport, stop=stop, **settings_for_relays).run()
        self.stdout.write(f"relay published {stats.published} events in {stats.batches} batches")
