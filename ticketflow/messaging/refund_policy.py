"""An event's refund policy and the one function that reads it (part of the event contract).

A policy is a list of steps ``(hours_before, percent)``: a booking cancelled at least
``hours_before`` hours before the event starts gets ``percent`` of its price back. Steps are
ordered from the earliest deadline to the latest (hours strictly decreasing) and never refund
more for cancelling later (percent non-increasing). Cancelling later than the last step's
deadline refunds nothing. The empty policy is the behaviour from before policies existed: a
full refund until the event starts.

Every context that needs the percent (bookings when it cancels, the storefront when it shows
the terms) calls :func:`refund_percent`, so they cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

MAX_STEPS = 10


class RefundStep(BaseModel):
    """Cancelled at least ``hours_before`` hours before the start: ``percent`` is refunded."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    hours_before: Annotated[int, Field(ge=0, le=24 * 366, strict=True)]
    percent: Annotated[int, Field(ge=0, le=100, strict=True)]


def check_policy(steps: list[RefundStep]) -> list[RefundStep]:
    """Return ``steps`` unchanged, or raise ``ValueError`` saying what is out of order."""
    for earlier, later in pairwise(steps):
        if later.hours_before >= earlier.hours_before:
            raise ValueError("list the steps from the most hours before the start to the fewest, each once")
        if later.percent > earlier.percent:
            raise ValueError("cancelling later cannot refund more: percents must not increase")
    return steps


RefundPolicy = Annotated[list[RefundStep], Field(max_length=MAX_STEPS)]

_adapter: TypeAdapter[list[RefundStep]] = TypeAdapter(RefundPolicy)


def parse_policy(raw: object) -> list[RefundStep]:
    """Validate a policy as stored or sent (a list of ``{hours_before, percent}``); ``ValueError`` if not."""
    return check_policy(_adapter.validate_python(raw if raw is not None else []))


def refund_percent(*, policy: list[RefundStep], starts_at: datetime, at: datetime) -> int:
    """The percent refunded for cancelling at ``at`` an event starting at ``starts_at``.

    Zero once the event has started, whatever the policy.
    """
    if at >= starts_at:
        return 0
    if not policy:
        return 100
    hours_left = (starts_at - at).total_seconds() / 3600
    for step in policy:
        if hours_left >= step.hours_before:
            return step.percent
    return 0


def refund_cents(*, amount_cents: int, percent: int) -> int:
    """``percent`` of ``amount_cents``, rounded down to whole cents (never more than was paid)."""
    return amount_cents * percent // 100
