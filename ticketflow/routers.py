"""Database routers: one per bounded context, one for the event kernel, one for the platform.

Each context lives on exactly one alias (``settings.CONTEXT_DATABASES``). Relations may not
cross a context: a booking stores the id of its event, never a foreign key to it. The event
kernel's outbox and inbox tables exist on every alias, because a context writes its events
and its inbox rows in the same transaction as its own state; kernel code always names the
alias it works on. Django's own apps (auth, admin, sessions, contenttypes) stay on default.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

KERNEL_APP_LABEL = "messaging"


class ContextRouter:
    """Send one bounded context (an app label) to its database alias, and nowhere else."""

    def __init__(self, app_label: str, alias: str, contexts: tuple[str, ...] = ()) -> None:
        self.app_label = app_label
        self.alias = alias
        self.contexts = contexts

    def __repr__(self) -> str:
        return f"ContextRouter({self.app_label!r} -> {self.alias!r})"

    def _owns(self, model: type[Model] | Model) -> bool:
        return model._meta.app_label == self.app_label

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return self.alias if self._owns(model) else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return self.alias if self._owns(model) else None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        owned = (self._owns(obj1), self._owns(obj2))
        if all(owned):
            return True
        if not any(owned):
            return None
        other = obj2 if owned[0] else obj1
        # Django's own apps (auth's groups and permissions for the user model) live beside
        # the context on its alias; another context or the kernel would cross a boundary.
        if other._meta.app_label in self.contexts or other._meta.app_label == KERNEL_APP_LABEL:
            return False
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if app_label == self.app_label:
            return db == self.alias
        return None


class KernelRouter:
    """The outbox and inbox migrate on every alias; callers always pick the alias explicitly."""

    def __init__(self, aliases: tuple[str, ...]) -> None:
        self.aliases = aliases

    def __repr__(self) -> str:
        return f"KernelRouter({self.aliases!r})"

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        labels = {obj1._meta.app_label, obj2._meta.app_label}
        if KERNEL_APP_LABEL in labels:
            return labels == {KERNEL_APP_LABEL} and obj1._state.db == obj2._state.db
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if app_label == KERNEL_APP_LABEL:
            return db in self.aliases
        return None


class PlatformRouter:
    """Everything no other router claims (Django's own apps) lives on one alias only."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __repr__(self) -> str:
        return f"PlatformRouter({self.alias!r})"

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        # Kernel rows stay where they were loaded from (Django falls back to the instance's db).
        return None if model._meta.app_label == KERNEL_APP_LABEL else self.alias

    db_for_write = db_for_read

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        return db == self.alias


def database_routers(context_databases: dict[str, str]) -> list[object]:
    """``DATABASE_ROUTERS`` for a context map: one router per context, then the kernel's and the platform's."""
    contexts = tuple(context_databases)
    return [
        *(ContextRouter(label, alias, contexts) for label, alias in context_databases.items()),
        KernelRouter(aliases=("default", "documents")),
        PlatformRouter(alias="default"),
    ]
