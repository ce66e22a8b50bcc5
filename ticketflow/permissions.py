"""API permissions on Django's model permissions, shared by every context.

Staff are not trusted for being staff (``is_staff`` only opens the admin): each write needs
the permission that names it, granted through a group ("Organisers", "Door staff", see
``apps.accounts.services.STAFF_GROUPS``) or to the user directly. Superusers hold them all.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


def _holds(request: Request, perms: tuple[str, ...]) -> bool:
    user = request.user  # AnonymousUser when nobody signed in (UNAUTHENTICATED_USER), never None
    return bool(user.is_authenticated and user.has_perms(perms))


def requires(*perms: str, read: str = "perms") -> type[BasePermission]:
    """A permission class: the request's user must hold every one of ``perms``.

    ``read="anyone"`` lets safe methods (GET, HEAD, OPTIONS) through for everybody, and
    ``read="perms"`` asks the permissions of them too. Use it as
    ``permission_classes = (requires("catalog.add_event", read="anyone"),)``.
    """
    if read not in ("anyone", "perms"):
        raise ValueError(f"read must be 'anyone' or 'perms', not {read!r}")
    needed = tuple(perms)

    class Requires(BasePermission):
        message = "Your account lacks the permission this needs."

        def has_permission(self, request: Request, view: Any) -> bool:
            if read == "anyone" and request.method in SAFE_METHODS:
                return True
            return _holds(request, needed)

    Requires.__name__ = Requires.__qualname__ = f"Requires({', '.join(needed)})"
    return Requires


def holds(request: Request, perm: str) -> bool:
    """Whether the request's user holds ``perm`` (for what a view shows, not whether it runs)."""
    return _holds(request, (perm,))


_Account = TypeVar("_Account")


def signed_in(user: _Account | AnonymousUser) -> _Account:
    """``request.user`` as the account it is behind ``IsAuthenticated`` (``NotAuthenticated`` if anonymous).

    Typed for the checker: ``request.user`` is declared as "the account model or anonymous".
    """
    if isinstance(user, AnonymousUser):
        raise NotAuthenticated()
    return user
