"""Commands of the accounts context."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError

from apps.accounts.models import User
from ticketflow import db
from ticketflow.errors import InvalidInput
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import UserRegistered


def _db() -> str:
    return db.alias_for("accounts")


def _normalise_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def user_register(*, email: str, password: str, name: str, is_staff: bool = False) -> User:
    """Create an account and announce it (``ticketflow.user.registered``: the welcome email).

    Raises :class:`InvalidInput` with field errors for a malformed or taken email, a blank
    name, or a password Django's validators refuse.
    """
    email = _normalise_email(email)
    name = name.strip()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    if not name:
        errors["name"] = ["Tell us your name."]
    candidate = User(email=email, name=name)
    try:
        password_validation.validate_password(password, user=candidate)
    except ValidationError as error:
        errors["password"] = list(error.messages)
    if "email" not in errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["An account with this email address already exists."]
    if errors:
        raise InvalidInput("Some of the data sent is not valid.", details={"fields": errors})
    try:
        with db.atomic(_db()):
            user = User.objects.create_user(email=email, password=password, name=name, is_staff=is_staff)
            emit(
                UserRegistered(user_id=str(user.id), email=user.email, name=user.name),
                aggregate_id=str(user.id),
                using=_db(),
            )
    except IntegrityError:
        # Two sign-ups with one address raced; the unique index let exactly one through.
        raise InvalidInput(
            "Some of the data sent is not valid.",
            details={"fields": {"email": ["An account with this email address already exists."]}},
        ) from None
    return user


def user_ensure(
    *, email: str, password: str, name: str, is_staff: bool = False, is_superuser: bool = False
) -> tuple[User, bool]:
    """Create the account if no account uses ``email`` yet (for seeding); returns (user, created).

    An existing account is left exactly as it is: its password is never reset here.
    """
    existing = User.objects.filter(email__iexact=_normalise_email(email)).first()
    if existing is not None:
        return existing, False
    user = user_register(email=email, password=password, name=name, is_staff=is_staff or is_superuser)
    if is_superuser:
        User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
        user.refresh_from_db()
    return user, True
