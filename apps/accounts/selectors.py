"""Reads of the accounts context."""

from __future__ import annotations

from apps.accounts.models import User


def user_get(*, user_id: str) -> User | None:
    """The active user with ``user_id``, or None."""
    return User.objects.filter(pk=user_id, is_active=True).first()
