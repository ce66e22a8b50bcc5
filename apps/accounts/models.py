"""The accounts context's data: users who buy tickets and staff who run the box office."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken


class UserManager(BaseUserManager["User"]):
    """Creates users keyed by a normalised, case-insensitive email address."""

    use_in_migrations = True

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        """The user whose email matches ``username`` in any case (so every sign-in path agrees).

        Accounts made outside the services (the admin's add form) keep the email as typed;
        the unique index on ``lower(email)`` makes this match at most one row, and uses it.
        """
        return self.alias(email_lower=Lower("email")).get(email_lower=(username or "").lower())

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an email address. Staff run venues and events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    name = models.CharField(max_length=150)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False,
        help_text="May open the admin; what staff may do there and in the API is their groups' permissions.",
    )
    date_joined = models.DateTimeField(default=timezone.now)
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owner followed the link in the verification email."
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["name"]

    class Meta:
        ordering = ("email",)
        constraints = (models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),)

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name.split(" ", 1)[0] if self.name else self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save; a new password (``set_password`` anywhere: API, admin, ``changepassword``) ends every sign-in.

        Access tokens already die with the old password (their ``hash_password`` claim no
        longer matches); this also ends the API sign-ins and blacklists every outstanding
        refresh token, so none can mint a new access token.
        """
        password_changed = self._password is not None and not self._state.adding  # type: ignore[attr-defined]  # set by set_password(); missing from django-stubs
        super().save(*args, **kwargs)
        if password_changed:
            SignIn.objects.end_all(user_id=self.pk, reason=SignInEnd.PASSWORD_CHANGED)


class SignInEnd(models.TextChoices):
    LOGOUT = "logout", "Signed out"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    REFRESH_REUSED = "refresh_reused", "A spent refresh token was presented again"


class SignInManager(models.Manager["SignIn"]):
    def end_all(self, *, user_id: Any, reason: str) -> int:
        """End every open sign-in of the user and blacklist their live refresh tokens; returns how many ended."""
        now = timezone.now()
        ended = self.filter(user_id=user_id, ended_at__isnull=True).update(ended_at=now, end_reason=reason)
        live = OutstandingToken.objects.filter(
            user_id=user_id, expires_at__gt=now, blacklistedtoken__isnull=True
        )
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
        )
        return ended


class SignIn(models.Model):
    """One API sign-in: the ``sid`` claim every access and refresh token of it carries.

    Rotation replaces the refresh token but keeps the sign-in; logging out, a password change
    or reuse of a spent refresh token ends it, and with it every token that names it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sign_ins")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, choices=SignInEnd.choices, blank=True, default="")

    objects: ClassVar[SignInManager] = SignInManager()

    class Meta:
        indexes = (models.Index(fields=("user", "ended_at"), name="signin_user_open_idx"),)

    def __str__(self) -> str:
        return f"{self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"
