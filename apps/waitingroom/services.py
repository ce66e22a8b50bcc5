"""Commands of the waiting room: keep each event's settings, join, leave, admit.

The fairness model (docs/waiting-room.md): whoever joins before the sale starts gets a
random place at the start; after that it is first in, first out; one place per account
per event. Admission moves on a Celery beat step and, lazily, on reads (at most once a
second per event and process), so it keeps moving if beat is slow. When the queue's store
cannot be reached the queue answers ``closed``: nobody is admitted, no token is issued,
and bookings still refuse whoever has none.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from redis.exceptions import RedisError

from apps.waitingroom import metrics, passes
from apps.waitingroom.error_codes import WaitingRoomErrorCode
from apps.waitingroom.models import QueuedEvent
from apps.waitingroom.store import Place, QueueStore, RedisQueues, Rules, Step, get_store
from ticketflow import admission_tokens, db, longpoll
from ticketflow.errors import NotFound
from ticketflow.messaging.schemas import EventSnapshot
from ticketflow.values import is_uuid

logger = logging.getLogger(__name__)

LAZY_ADMIT_SECONDS = 1.0
SETTINGS_CACHE_SECONDS = 1.0
_lot = random.SystemRandom()
STORE_ERRORS = (RedisError, OSError, TimeoutError)


class StoreUnavailable(Exception):
    """The queue's store could not be asked."""


def _db() -> str:
    return db.alias_for("waitingroom")


# --- the events' settings ---------------------------------------------------------------------


def queued_event_apply_snapshot(*, snapshot: EventSnapshot) -> bool:
    """Keep the local copy of an event's queue settings; False for a snapshot no newer than ours."""
    fields = {
        "name": snapshot.name,
        "status": snapshot.status,
        "ends_at": snapshot.ends_at,
        "sale_starts_at": snapshot.sale_starts_at,
        "sale_ends_at": snapshot.sale_ends_at,
        "queue_enabled": snapshot.queue_enabled,
        "queue_opens_at": snapshot.queue_opens_at,
        "queue_paused": snapshot.queue_paused,
        "admit_per_minute": snapshot.admit_per_minute,
        "max_active_shoppers": snapshot.max_active_shoppers,
        "shopping_window_minutes": snapshot.shopping_window_minutes,
        "revision": snapshot.revision,
    }
    with db.atomic(_db()):
        current = QueuedEvent.objects.select_for_update().filter(pk=snapshot.event_id).first()
        if current is None:
            QueuedEvent.objects.create(event_id=snapshot.event_id, **fields)
        elif current.revision >= snapshot.revision:
            return False
        else:
            QueuedEvent.objects.filter(pk=snapshot.event_id).update(**fields)
    _settings_cache.clear()
    _publish_rules(QueuedEvent.objects.get(pk=snapshot.event_id))
    return True


_settings_cache: dict[str, tuple[float, QueuedEvent | None]] = {}


def queued_event_get(*, event_id: str) -> QueuedEvent | None:
    """An event's queue settings, cached a second per process: every long poll reads them."""
    key = str(event_id)
    cached = _settings_cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    event = QueuedEvent.objects.filter(pk=key).first() if is_uuid(key) else None
    _settings_cache[key] = (time.monotonic() + SETTINGS_CACHE_SECONDS, event)
    if event is not None:
        _publish_rules(event)
    return event


def fast_path_rules(event: QueuedEvent) -> dict[str, str]:
    """What the ASGI fast path needs to answer a waiting buyer without Django (epoch seconds)."""
    closes = min(t.timestamp() for t in (event.ends_at, event.sale_ends_at) if t is not None)
    opens = _opens_at(event)
    return {
        "on": "1" if event.queue_enabled and event.status == "on_sale" else "0",
        "paused": "1" if event.queue_paused else "0",
        "rate": str(event.admit_per_minute),
        "opens": repr(opens.timestamp()) if opens else "",
        "starts": repr(event.sale_starts_at.timestamp()) if event.sale_starts_at else "",
        "closes": repr(closes),
    }


def _publish_rules(event: QueuedEvent) -> None:
    """Best effort: a missing or stale copy only sends the fast path's requests to Django."""
    store = get_store()
    if isinstance(store, RedisQueues):
        try:
            store.publish_rules(str(event.event_id), fast_path_rules(event))
        except STORE_ERRORS as error:
            logger.warning("could not publish queue settings for the fast path: %s", error)


# --- where a buyer stands ---------------------------------------------------------------------


@dataclass(frozen=True)
class QueueStatus:
    """The answer of the queue API and page.

    ``status`` is ``waiting``, ``admitted`` or ``closed`` (``reason`` says why: ``no_queue``,
    ``not_open``, ``sale_ended``, ``unavailable``). ``token`` is set only when admitted.
    """

    status: str
    position: int | None = None
    estimated_wait_s: int | None = None
    admitted_until: datetime | None = None
    token: str | None = None
    queue_pass: str | None = None
    reason: str | None = None
    paused: bool = False
    opens_at: datetime | None = None
    sale_starts_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "status": self.status,
            "position": self.position,
            "estimated_wait_s": self.estimated_wait_s,
            "paused": self.paused,
        }
        if self.queue_pass is not None:
            body["queue_pass"] = self.queue_pass
        if self.admitted_until is not None:
            body["admitted_until"] = self.admitted_until.isoformat().replace("+00:00", "Z")
            body["token"] = self.token
        if self.reason:
            body["reason"] = self.reason
        if self.sale_starts_at is not None:
            body["sale_starts_at"] = self.sale_starts_at.isoformat().replace("+00:00", "Z")
        if self.opens_at is not None:
            body["opens_at"] = self.opens_at.isoformat().replace("+00:00", "Z")
        return body


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _opens_at(event: QueuedEvent) -> datetime | None:
    return event.queue_opens_at or event.sale_starts_at


def _closed_reason(event: QueuedEvent | None, now: float) -> str | None:
    """Why nobody may join now, or None when the queue is open (pre-queue included)."""
    if event is None or not event.queue_enabled or event.status != "on_sale":
        return "no_queue"
    if now >= event.ends_at.timestamp() or (event.sale_ends_at and now >= event.sale_ends_at.timestamp()):
        return "sale_ended"
    opens = _opens_at(event)
    if opens is not None and now < opens.timestamp():
        return "not_open"
    return None


def _rules(event: QueuedEvent, now: float) -> Rules:
    started = event.sale_starts_at is None or now >= event.sale_starts_at.timestamp()
    return Rules(
        admitting=_closed_reason(event, now) is None and started and not event.queue_paused,
        admit_per_minute=event.admit_per_minute,
        max_active=event.max_active_shoppers,
        window_seconds=event.shopping_window_minutes * 60.0,
    )


def _estimate(event: QueuedEvent, position: int, now: float) -> int:
    """Seconds until ``position`` is let in at the configured rate (plus the time to the start)."""
    until_start = max(0.0, (_epoch(event.sale_starts_at) or now) - now)
    return math.ceil(until_start + position * 60 / event.admit_per_minute)


def _status_of(event: QueuedEvent, user_id: str, place: Place, now: float) -> QueueStatus:
    common: dict[str, Any] = {
        "paused": event.queue_paused,
        "sale_starts_at": event.sale_starts_at,
        "queue_pass": passes.issue(user_id=user_id, event_id=str(event.event_id)),
    }
    if place.state == "admitted" and place.admitted_until is not None:
        token = admission_tokens.issue(
            user_id=user_id, event_id=str(event.event_id), expires_at=place.admitted_until
        )
        return QueueStatus(
            "admitted", position=0, estimated_wait_s=0, admitted_until=_moment(place.admitted_until), token=token,
            **common,
        )  # fmt: skip
    if place.state == "waiting" and place.position is not None:
        return QueueStatus(
            "waiting",
            position=place.position,
            estimated_wait_s=_estimate(event, place.position, now),
            **common,
        )
    raise NotFound(
        "You are not in this event's queue: join it first.", code=WaitingRoomErrorCode.NOT_IN_QUEUE
    )


def _closed(event: QueuedEvent | None, reason: str) -> QueueStatus:
    metrics.closed(reason)
    return QueueStatus(
        "closed",
        reason=reason,
        paused=bool(event and event.queue_paused),
        opens_at=_opens_at(event) if event else None,
        sale_starts_at=event.sale_starts_at if event else None,
    )


def _event_or_404(event_id: str) -> QueuedEvent:
    event = queued_event_get(event_id=event_id)
    if event is None:
        raise NotFound("No event with this id sells tickets here.")
    return event


def queue_join(*, event_id: str, user_id: str) -> QueueStatus:
    """Take a place in the event's queue, or return the place already held (one per account).

    Before the sale starts the place is a random lot among everyone in the pre-queue; after,
    it is the back of the line. An account whose window ended joins at the back again.
    """
    event = _event_or_404(event_id)
    now = time.time()
    reason = _closed_reason(event, now)
    if reason is not None:
        return _closed(event, reason)
    prequeue = event.sale_starts_at is not None and now < event.sale_starts_at.timestamp()
    try:
        store = get_store()
        _admit_lazily(event, store=store, now=now)
        place = store.join(str(event.event_id), str(user_id), now=now, prequeue=prequeue, lot=_lot.random())
    except STORE_ERRORS as error:
        logger.warning("waiting room store unavailable, the queue is closed: %s", error)
        return _closed(event, "unavailable")
    if place.joined:
        metrics.joined(prequeue=prequeue)
        logger.info("joined the queue of event %s at %s", event.event_id, place.position)
    return _status_of(event, str(user_id), place, now)


def queue_status(*, event_id: str, user_id: str) -> QueueStatus:
    """Where the account stands now (moving admission along first if it is due).

    :class:`NotFound` (``not_in_queue``) for an account that holds no place.
    """
    event = _event_or_404(event_id)
    now = time.time()
    reason = _closed_reason(event, now)
    if reason is not None:
        return _closed(event, reason)
    try:
        store = get_store()
        _admit_lazily(event, store=store, now=now)
        place = store.place(str(event.event_id), str(user_id), now=now)
    except STORE_ERRORS as error:
        logger.warning("waiting room store unavailable, the queue is closed: %s", error)
        return _closed(event, "unavailable")
    return _status_of(event, str(user_id), place, now)


def queue_leave(*, event_id: str, user_id: str) -> bool:
    """Give up the account's place (waiting or shopping), freeing it for the next; False if none."""
    event = _event_or_404(event_id)
    try:
        left = get_store().leave(str(event.event_id), str(user_id))
    except STORE_ERRORS as error:
        logger.warning("waiting room store unavailable, cannot leave: %s", error)
        return False
    if left == "waiting":
        metrics.abandoned("left")
    elif left == "admitted":
        metrics.left_shopping()
    return left is not None


# --- admission --------------------------------------------------------------------------------

_last_lazy: dict[str, float] = {}
_lazy_lock = threading.Lock()


def _admit_lazily(event: QueuedEvent, *, store: QueueStore, now: float) -> None:
    key = str(event.event_id)
    with _lazy_lock:
        if now - _last_lazy.get(key, 0.0) < LAZY_ADMIT_SECONDS:
            return
        _last_lazy[key] = now
    _admit(event, store=store, now=now)


def _admit(event: QueuedEvent, *, store: QueueStore, now: float) -> Step:
    step = store.admit(str(event.event_id), _rules(event, now), now=now)
    sale_start = _epoch(event.sale_starts_at) or 0.0
    for user_id, joined_at in step.admitted:
        metrics.admitted(wait_seconds=max(0.0, now - max(joined_at, sale_start)))
        longpoll.announce(admission_channel(str(event.event_id), user_id), "admitted")
    if step.expired:
        metrics.windows_ended(step.expired)
    if step.admitted:
        logger.info("admitted %d to event %s", len(step.admitted), event.event_id)
    return step


def queue_admit(*, event_id: str) -> int:
    """Run one admission step for an event; how many were let in. Safe to run at any time."""
    event = _event_or_404(event_id)
    return len(_admit(event, store=get_store(), now=time.time()).admitted)


def queues_admit_all() -> int:
    """One admission step for every event whose queue is on (Celery beat, every few seconds)."""
    admitted = 0
    store = get_store()
    moment = timezone.now()
    events = QueuedEvent.objects.filter(queue_enabled=True, status="on_sale", ends_at__gt=moment)
    for event in events:
        try:
            admitted += len(_admit(event, store=store, now=time.time()).admitted)
        except STORE_ERRORS as error:
            logger.warning("waiting room store unavailable, nobody admitted: %s", error)
            break
    return admitted


def admission_channel(event_id: str, user_id: str) -> str:
    """The long-poll channel an account's admission to an event is announced on."""
    return f"tf:wr-admit:{settings.REDIS_NAMESPACE}{event_id}:{user_id}"


def queue_clear() -> int:
    """Drop every queue of this namespace (a fresh test, a reset staging)."""
    _last_lazy.clear()
    _settings_cache.clear()
    return get_store().clear()
