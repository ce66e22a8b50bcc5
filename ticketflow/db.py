"""The one place that knows how to open a transaction on each database alias.

The document contexts run on MongoDB in production and on SQL elsewhere. Django's own
``transaction.atomic`` is a silent no-op on django-mongodb-backend, which has its own
``atomic`` (a replica-set session transaction, no savepoints). Services therefore open their
transactions with :func:`atomic` from here, and schedule after-commit work with
:func:`on_commit`, naming the alias of their context (:func:`alias_for`). A service that is
one unit of work as a whole says so with :func:`transactional`. Ruff's ``banned-api`` rule
keeps ``django.db.transaction`` out of every other module.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import connections, transaction


def alias_for(app_label: str) -> str:
    """The database alias that owns the bounded context ``app_label``."""
    return settings.CONTEXT_DATABASES[app_label]


def is_mongodb(using: str) -> bool:
    return connections[using].vendor == "mongodb"


P = ParamSpec("P")
R = TypeVar("R")

_unit_of_work: contextvars.ContextVar[str | None] = contextvars.ContextVar("unit_of_work", default=None)


def atomic(using: str, *, savepoint: bool | None = None) -> AbstractContextManager[object]:
    """A transaction on ``using``, with the engine's own transaction machinery.

    Nested in another block, it is a savepoint unless ``savepoint=False``. Inside a
    :func:`unit_of_work` on the same alias, a block joins the unit without one: any failure
    fails the whole unit anyway (an event handler is applied whole or not at all), and
    skipping the savepoint saves two round trips per block. MongoDB has no savepoints:
    there a nested block always joins the outer transaction.
    """
    if is_mongodb(using):
        from django_mongodb_backend import transaction as mongo_transaction

        return mongo_transaction.atomic(using=using)
    if savepoint is None:
        savepoint = _unit_of_work.get() != using
    return transaction.atomic(using=using, savepoint=savepoint)


def transactional(app_label: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make the decorated service one unit of work on the database of context ``app_label``.

    Called on its own, it runs in a transaction of its own: committed when it returns, rolled
    back when it raises. Called inside one (the consumer's, with the event's inbox row, or
    another service's of the same context), it joins that transaction without a savepoint,
    as Zulip's ``@transaction.atomic(savepoint=False)`` services do: a failure fails the
    caller's whole unit, which is what the caller wants. The alias is looked up per call, so
    settings overridden in tests apply.
    """

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def unit(*args: P.args, **kwargs: P.kwargs) -> R:
            with atomic(alias_for(app_label), savepoint=False):
                return func(*args, **kwargs)

        return unit

    return decorator


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
