"""``python manage.py replay``: publish past events again, or re-drive dead letters.

Examples::

    # Publish again every event of one booking (any alias that holds some)
    python manage.py replay --aggregate 3f0c...e1
    # Publish again what the documents outbox wrote between two instants
    python manage.py replay --alias documents --since 2026-11-20T10:00 --until 2026-11-20T11:00
    # Publish again two events by id
    python manage.py replay --id 8b1e... --id 77aa...
    # After fixing a handler: apply every dead-lettered message of the payments consumer
    python manage.py replay --dead-letters --context payments

Re-published events reach every consumer group again, and each group's inbox ignores the
ones it already applied: a replay only changes what some consumer never applied (a new
consumer group, a reset one, or one whose inbox was pruned). Dead letters are different:
they were never applied, so re-driving runs the (fixed) handler for its context right here,
through the same inbox, retries and dead-letter path as the consumers.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import TopicPartition
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ticketflow import db
from ticketflow.messaging.dispatch import deliver
from ticketflow.messaging.handlers import consumer_group, contexts, topics_for
from ticketflow.messaging.models import DeadLetter
from ticketflow.messaging.outbox import OutboxStore
from ticketflow.messaging.topics import DEAD_LETTER_SUFFIX
from ticketflow.messaging.transports import get_transport
from ticketflow.messaging.transports.inprocess import record_dead_letter
from ticketflow.messaging.transports.kafka import KafkaTransport, position


def _instant(value: str) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"{value!r} is not an ISO 8601 date and time (e.g. 2026-11-20T10:00:00Z)")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _event_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not an event id (a UUID)") from None


class Command(BaseCommand):
    help = "Re-publish outbox events by id, time range or aggregate, or re-drive dead-lettered messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alias", action="append", dest="aliases", help="Outbox alias (default: all).")
        parser.add_argument(
            "--id", action="append", dest="ids", type=_event_id, help="An event id (repeatable)."
        )
        parser.add_argument("--since", type=_instant, help="Events written at or after this instant.")
        parser.add_argument("--until", type=_instant, help="Events written before this instant.")
        parser.add_argument("--aggregate", help="Every event of this aggregate (e.g. a booking id).")
        parser.add_argument("--topic", help="Only this event type.")
        parser.add_argument("--dead-letters", action="store_true", help="Re-drive dead-lettered messages.")
        parser.add_argument(
            "--context", action="append", dest="contexts", help="With --dead-letters: only these."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be replayed; change nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dead_letters"]:
            self._redrive(options)
        else:
            self._republish(options)

    # --- outbox ------------------------------------------------------------------------------

    def _republish(self, options: dict[str, Any]) -> None:
        selection = {
            "ids": options["ids"],
            "since": options["since"],
            "until": options["until"],
            "aggregate_id": options["aggregate"],
        }
        if all(value is None for value in selection.values()):
            raise CommandError("Say what to replay: --id, --since/--until, --aggregate or --dead-letters.")
        if options["since"] and options["until"] and options["since"] >= options["until"]:
            raise CommandError("--since must be earlier than --until.")
        selection["topic"] = options["topic"]
        total = 0
        for alias in options["aliases"] or ["default", "documents"]:
            store = OutboxStore(alias, locking=False)
            if options["dry_run"]:
                count = store.count_sent(**selection)
                self.stdout.write(f"{alias}: {count} events would be queued again")
            else:
                count = store.requeue(**selection)
                self.stdout.write(f"{alias}: {count} events queued again")
            total += count
        if not options["dry_run"]:
            self.stdout.write(self.style.SUCCESS(f"{total} events queued; the relay publishes them next."))

    # --- dead letters ---------------------------------------------------------------------------

    def _chosen_contexts(self, options: dict[str, Any]) -> list[str]:
        known = contexts()
        chosen = options["contexts"] or known
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise CommandError(f"No handlers for {', '.join(unknown)}; choose from {', '.join(known)}.")
        return chosen

    def _redrive(self, options: dict[str, Any]) -> None:
        chosen = self._chosen_contexts(options)
        transport = get_transport()
        if isinstance(transport, KafkaTransport):
            outcomes = self._redrive_kafka(transport, chosen, options)
        else:
            outcomes = self._redrive_table(chosen, options)
        summary = ", ".join(f"{outcome}: {count}" for outcome, count in sorted(outcomes.items())) or "nothing"
        self.stdout.write(self.style.SUCCESS(f"dead letters re-driven -- {summary}"))

    def _redrive_table(self, chosen: list[str], options: dict[str, Any]) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        for context in chosen:
            alias = db.alias_for(context)
            letters = DeadLetter.objects.using(alias).filter(
                consumer=consumer_group(context), redriven_at=None
            )
            if options["topic"]:
                letters = letters.filter(topic=options["topic"])
            for letter in letters.order_by("created_at"):
                if options["dry_run"]:
                    self.stdout.write(f"would re-drive {letter.topic} {letter.event_id} for {context}")
                    continue
                outcome = deliver(letter.body.encode(), letter.topic, context, record_dead_letter)
                DeadLetter.objects.using(alias).filter(pk=letter.pk).update(redriven_at=timezone.now())
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes

    def _redrive_kafka(
        self, transport: KafkaTransport, chosen: list[str], options: dict[str, Any]
    ) -> dict[str, int]:
        """Read each context's dead-letter topics up to where they ended when replay began.

        Stopping at the starting end matters: a message that fails again is dead-lettered
        anew, after that point, and is left for the next replay instead of looping forever.
        """
        outcomes: dict[str, int] = {}
        for context in chosen:
            group = consumer_group(context)
            topics = [t for t in topics_for(context) if options["topic"] in (None, t)]
            if not topics:
                continue
            transport.ensure_topics(topics)
            consumer = transport.consumer(f"{group}.replay")
            try:
                ends = self._dead_letter_ends(consumer, [transport.dead_letter_topic(t) for t in topics])
                consumer.assign([TopicPartition(topic, partition) for topic, partition in ends])
                while ends:
                    message = consumer.poll(5.0)
                    if message is None:
                        break
                    if message.error():
                        raise CommandError(f"reading {message.topic()}: {message.error()}")
                    physical, partition, offset = position(message)
                    where = (physical, partition)
                    if where not in ends:
                        continue
                    if offset >= ends[where]:
                        del ends[where]
                        continue
                    if offset == ends[where] - 1:
                        del ends[where]
                    headers = dict(message.headers() or [])
                    if headers.get("consumer") != group.encode():
                        consumer.store_offsets(message=message)
                        continue
                    topic = transport.logical(physical).removesuffix(DEAD_LETTER_SUFFIX)
                    if options["dry_run"]:
                        self.stdout.write(f"would re-drive {topic}@{message.offset()} for {context}")
                        continue
                    outcome = deliver(
                        message.value() or b"",
                        topic,
                        context,
                        functools.partial(transport.dead_letter, group=group, key=message.key()),
                    )
                    consumer.store_offsets(message=message)
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
            finally:
                consumer.close()
        return outcomes

    @staticmethod
    def _dead_letter_ends(consumer: Any, topics: list[str]) -> dict[tuple[str, int], int]:
        """Partitions with unread dead letters, and the offset each one ended at."""
        ends: dict[tuple[str, int], int] = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            for partition in metadata.partitions:
                tp = TopicPartition(topic, partition)
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                committed = consumer.committed([tp], timeout=10)[0].offset
                if high > max(committed, 0):
                    ends[(topic, partition)] = high
        return ends
