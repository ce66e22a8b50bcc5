"""The one place that knows how to open a transaction on each database alias.

The document contexts run on MongoDB in production and on SQL elsewhere. Django's own
``transaction.atomic`` is a silent no-op on django-mongodb-backend, which has its own
``atomic`` (a replica-set session transaction, no savepoints). Services therefore open their
transactions with :func:`atomic` from here, and schedule after-commit work with
:func:`on_commit`, naming the alias of their context (:func:`alias_for`).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

from django.conf import settings
from django.db import connections, transaction


def alias_for(app_label: str) -> str:
    """The database alias that owns the bounded context ``app_label``."""
    return settings.CONTEXT_DATABASES[app_label]


def is_mongodb(using: str) -> bool:
    return connections[using].vendor == "mongodb"


_unit_of_work: contextvars.ContextVar[str | None] = contextvars.ContextVar("unit_of_work", default=None)


def atomic(using: str) -> AbstractContextManager[object]:
    """A transaction on ``using``, with the engine's own transaction machinery.

    Inside a :func:`unit_of_work` on the same alias, a block joins the unit without a
    savepoint: any failure fails the whole unit anyway (an event handler is applied whole
    or not at all), and skipping the savepoint saves two round trips per block.
    """
    if is_mongodb(using):
        from django_mongodb_backend import transaction as mongo_transaction

        return mongo_transaction.atomic(using=using)
    return transaction.atomic(using=using, savepoint=_unit_of_work.get() != using)


@contextlib.contextmanager
def unit_of_work(using: str) -> Iterator[None]:
    """One transaction that commits or rolls back whole: nested :func:`atomic` blocks join it."""
    token = _unit_of_work.set(using)
    try:
        with atomic(using):
            yield
    finally:
        _unit_of_work.reset(token)


def in_transaction(using: str) -> bool:
    """True inside an :func:`atomic` block on ``using``."""
    connection = connections[using]
    if is_mongodb(using):
        return bool(getattr(connection, "in_atomic_block_mongo", False))
    return connection.in_atomic_block


def on_commit(func: Callable[[], object], using: str) -> None:
    """Run ``func`` after the current transaction on ``using`` commits (never if it rolls back)."""
    connections[using].on_commit(func) if is_mongodb(using) else transaction.on_commit(func, using=using)


def supports_skip_locked(using: str) -> bool:
    """Whether ``SELECT ... FOR UPDATE SKIP LOCKED`` really locks on this alias."""
    features = connections[using].features
    return bool(features.has_select_for_update_skip_locked) and not is_mongodb(using)
