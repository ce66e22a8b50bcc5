"""From a catalog snapshot to a context's own copy of the event (bookings, inventory).

Each context that sells an event keeps the facts it needs in a projection model, written
from every ``event.created`` / ``event.updated`` it receives. This module is the one
mapping from the snapshot to those stored values, so two copies of a field can never be
written differently: nested models become the JSON the projection stores, and derived
facts (``capacity``) are computed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ticketflow.messaging.schemas import EventSnapshot

_DERIVED: dict[str, Callable[[EventSnapshot], Any]] = {
    "layout": lambda snapshot: snapshot.layout.model_dump(mode="json", exclude_none=True),
    "refund_policy": lambda snapshot: [step.model_dump() for step in snapshot.refund_policy],
    "capacity": lambda snapshot: snapshot.layout.capacity,
}


def projection_fields(snapshot: EventSnapshot, names: Iterable[str]) -> dict[str, Any]:
    """The values to store for ``names`` (a projection's columns) from ``snapshot``.

    Every name is a field of the snapshot or one of the derived facts above; any other is a
    ``ValueError``, so a typo in a projection's column list fails its first test.
    """
    fields: dict[str, Any] = {}
    for name in names:
        if name in _DERIVED:
            fields[name] = _DERIVED[name](snapshot)
        elif name in EventSnapshot.model_fields:
            fields[name] = getattr(snapshot, name)
        else:
            raise ValueError(f"{name!r} is neither a field of an event snapshot nor derived from one")
    return fields
