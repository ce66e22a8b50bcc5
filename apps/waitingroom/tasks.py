"""Periodic work of the waiting room."""

from __future__ import annotations

from celery import shared_task

from apps.waitingroom import services


@shared_task(name="waitingroom.admit")
def admit() -> int:
    """Let the next buyers in, for every queue that is on (beat runs this every few seconds)."""
    return services.queues_admit_all()
