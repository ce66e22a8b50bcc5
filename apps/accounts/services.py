"""Commands of the accounts context: accounts, email verification, API sign-ins, staff groups."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone
from prometheus_client import Counter
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.error_codes import AccountsErrorCode, TokenRejection
from apps.accounts.models import SignIn, SignInEnd, User
from apps.accounts.selectors import SID_CLAIM, user_for_token
from ticketflow import db
from ticketflow.errors import InvalidInput
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import SignUpAttempted, UserRegistered

logger = logging.getLogger(__name__)

SIGN_UPS = Counter(
    "ticketflow_accounts_sign_ups_total",
    "Sign-ups answered, by outcome (created, or existing: the address already had an account).",
    ["outcome"],
)
SIGN_INS_ENDED = Counter(
    "ticketflow_accounts_sign_ins_ended_total", "API sign-ins ended, by reason.", ["reason"]
)
REFRESH_REUSED = Counter(
    "ticketflow_accounts_refresh_reuse_total",
    "Spent refresh tokens presented again (possible token theft); each ends its sign-in.",
)

TAKEN = "An account with this email address already exists."
VERIFY_SALT = "accounts.verify-email"

# The staff roles, as groups of model permissions (``ticketflow.permissions``). Kept in step
# with the permissions by ``staff_groups_ensure`` after every migrate.
STAFF_GROUPS: dict[str, tuple[str, ...]] = {
    "Organisers": (
        "catalog.view_venue",
        "catalog.add_venue",
        "catalog.change_venue",
        "catalog.view_event",
        "catalog.add_event",
        "catalog.change_event",
        "inventory.view_seat",
        "bookings.view_booking",
        "bookings.change_booking",
        "payments.view_payment",
        "checkin.scan_tickets",
    ),
    "Door staff": ("checkin.scan_tickets",),
}


@dataclass(frozen=True, slots=True)
class TokenPair:
    """An access and a refresh token of one sign-in."""

    access: str
    refresh: str

    def as_dict(self) -> dict[str, str]:
        return {"access": self.access, "refresh": self.refresh}


@dataclass(frozen=True, slots=True)
class SignUp:
    """What a sign-up did. Callers answer both outcomes alike: ``created`` is for logs and tests."""

    user_id: str
    created: bool


def _db() -> str:
    return db.alias_for("accounts")


def _normalise_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def _sign_up_errors(*, email: str, password: str, name: str) -> dict[str, list[str]]:
    """Field errors of a sign-up that do not depend on whether the address has an account."""
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    if not name:
        errors["name"] = ["Tell us your name."]
    try:
        password_validation.validate_password(password, user=User(email=email, name=name))
    except ValidationError as error:
        errors["password"] = list(error.messages)
    return errors


def _verification_url(user: User) -> str:
    token = signing.dumps({"u": str(user.pk), "e": user.email}, salt=VERIFY_SALT)
    return f"{settings.PUBLIC_BASE_URL}/verify-email?token={token}"


def _create_account(*, email: str, password: str, name: str, is_staff: bool) -> User:
    """Insert the account and announce it; ``IntegrityError`` when the address is taken meanwhile."""
    with db.atomic(_db()):
        user = User.objects.create_user(email=email, password=password, name=name, is_staff=is_staff)
        emit(
            UserRegistered(
                user_id=str(user.id),
                email=user.email,
                name=user.name,
                verification_url=_verification_url(user),
            ),
            aggregate_id=str(user.id),
            using=_db(),
        )
    return user


def user_register(*, email: str, password: str, name: str, is_staff: bool = False) -> User:
    """Create an account and announce it (``ticketflow.user.registered``: the verification email).

    For trusted callers (seeding, tests): a taken address is a field error. The public
    sign-up is :func:`user_sign_up`, which does not tell. Raises :class:`InvalidInput` with
    field errors for a malformed or taken email, a blank name, or a password Django's
    validators refuse.
    """
    email = _normalise_email(email)
    name = name.strip()
    errors = _sign_up_errors(email=email, password=password, name=name)
    if "email" not in errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = [TAKEN]
    if errors:
        raise InvalidInput("Some of the data sent is not valid.", details={"fields": errors})
    try:
        return _create_account(email=email, password=password, name=name, is_staff=is_staff)
    except IntegrityError:
        # Two sign-ups with one address raced; the unique index let exactly one through.
        raise InvalidInput(
            "Some of the data sent is not valid.", details={"fields": {"email": [TAKEN]}}
        ) from None


def user_sign_up(*, email: str, password: str, name: str) -> SignUp:
    """The public sign-up: a new address gets an account, a taken one a warning to its owner.

    Both end the same way for the caller, in about the same time (the taken path hashes the
    password too): a new account is announced by ``user.registered`` (the verification
    email), an existing one by ``user.sign-up-attempted`` (the "someone tried to sign up
    with your address" email). Only input that is wrong whoever owns the address is refused
    (:class:`InvalidInput` with field errors). Racing sign-ups with one address create one
    account; the others warn its owner.
    """
    email = _normalise_email(email)
    name = name.strip()
    errors = _sign_up_errors(email=email, password=password, name=name)
    if errors:
        raise InvalidInput("Some of the data sent is not valid.", details={"fields": errors})
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        try:
            user = _create_account(email=email, password=password, name=name, is_staff=False)
        except IntegrityError:
            existing = User.objects.get(email__iexact=email)
        else:
            SIGN_UPS.labels("created").inc()
            return SignUp(user_id=str(user.pk), created=True)
    make_password(password)  # the cost a new account pays, so the answer's timing tells nothing
    with db.atomic(_db()):
        emit(
            SignUpAttempted(user_id=str(existing.pk), email=existing.email, name=existing.name),
            aggregate_id=str(existing.pk),
            using=_db(),
        )
    SIGN_UPS.labels("existing").inc()
    logger.info("sign-up with a registered address", extra={"user_id": str(existing.pk)})
    return SignUp(user_id=str(existing.pk), created=False)


def user_verify_email(*, token: str) -> User:
    """Record that the owner of the address followed the verification link; a second time changes nothing.

    Raises :class:`InvalidInput` (code ``invalid_token``) for a link that is forged, expired,
    or made for an address the account no longer has.
    """
    refused = InvalidInput(
        "This verification link is not valid or has expired; sign in to get a new one.",
        code=AccountsErrorCode.INVALID_TOKEN,
    )
    try:
        claims = signing.loads(token, salt=VERIFY_SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
        user = User.objects.filter(pk=claims["u"], email=claims["e"]).first()
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError):
        raise refused from None
    if user is None:
        raise refused
    User.objects.filter(pk=user.pk, email_verified_at__isnull=True).update(email_verified_at=timezone.now())
    user.refresh_from_db(fields=["email_verified_at"])
    return user


@db.transactional("accounts")
def sign_in_start(*, user: User) -> TokenPair:
    """Open an API sign-in for an authenticated user: its first access and refresh token."""
    sign_in = SignIn.objects.create(user=user)
    refresh = RefreshToken.for_user(user)
    refresh[SID_CLAIM] = str(sign_in.pk)
    OutstandingToken.objects.filter(jti=refresh["jti"]).update(token=str(refresh))
    return TokenPair(access=str(refresh.access_token), refresh=str(refresh))


class _SpendableRefreshToken(RefreshToken):
    """A refresh token whose blacklist entry is claimed by :func:`sign_in_refresh`, not looked up first."""

    def check_blacklist(self) -> None:
        """Looking first would let two racing refreshes both pass; the claim decides instead."""


def sign_in_refresh(*, refresh: str) -> TokenPair:
    """Spend a refresh token for a new pair of the same sign-in (rotation).

    Of concurrent presentations of one refresh token exactly one wins: blacklisting it is the
    claim (one row per token). A spent token presented again is taken for a stolen one and
    ends its sign-in, so the tokens that replaced it stop working too. Raises
    ``AuthenticationFailed`` for anything but a live refresh token of an open sign-in.
    """
    try:
        token = _SpendableRefreshToken(refresh)  # type: ignore[arg-type]  # simplejwt annotates the encoded token as a Token
    except TokenError as error:
        raise AuthenticationFailed(str(error), code=TokenRejection.TOKEN_NOT_VALID) from None
    user = user_for_token(claims=token)
    outstanding = OutstandingToken.objects.filter(jti=token["jti"]).first()
    if outstanding is None:
        raise AuthenticationFailed(
            "This refresh token was never issued here.", code=TokenRejection.TOKEN_NOT_VALID
        )
    _, spent_now = BlacklistedToken.objects.get_or_create(token=outstanding)
    if not spent_now:
        REFRESH_REUSED.inc()
        sid = token.get(SID_CLAIM)
        if sid is not None:
            _end(SignIn.objects.filter(pk=sid, ended_at__isnull=True), SignInEnd.REFRESH_REUSED)
        logger.warning("spent refresh token presented again; sign-in ended", extra={"user_id": str(user.pk)})
        raise AuthenticationFailed(
            "This refresh token was already used; sign in again.", code=TokenRejection.TOKEN_REUSED
        )
    token.set_jti()
    token.set_exp()
    token.set_iat()
    token.outstand()
    return TokenPair(access=str(token.access_token), refresh=str(token))


def _end(sign_ins: QuerySet[SignIn], reason: str) -> int:
    ended = sign_ins.update(ended_at=timezone.now(), end_reason=reason)
    if ended:
        SIGN_INS_ENDED.labels(reason).inc(ended)
    return ended


def sign_in_end(*, user: User, claims: Any, refresh: str | None = None) -> None:
    """Log out: end the sign-in of the presented access token, and blacklist ``refresh`` if sent.

    Every token of that sign-in stops working at once; other devices stay signed in. A
    second logout changes nothing. Raises :class:`InvalidInput` when ``refresh`` is not a
    refresh token of this account.
    """
    sid = claims.get(SID_CLAIM) if claims is not None else None
    if sid is not None:
        _end(SignIn.objects.filter(pk=sid, user=user, ended_at__isnull=True), SignInEnd.LOGOUT)
    if refresh is None:
        return
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]  # simplejwt annotates the encoded token as a Token
    except TokenError:
        token = None
    if token is None or str(token.get("sub")) != str(user.pk):
        raise InvalidInput(
            "Some of the data sent is not valid.",
            details={"fields": {"refresh": ["This is not a refresh token of your account."]}},
        )
    token.blacklist()
    if token.get(SID_CLAIM) is not None:
        _end(SignIn.objects.filter(pk=token[SID_CLAIM], user=user, ended_at__isnull=True), SignInEnd.LOGOUT)


def user_change_password(*, user: User, current_password: str, new_password: str) -> TokenPair:
    """Change the password after checking the current one; every sign-in ends, a new one starts.

    The model's save ends all the account's sign-ins and blacklists its refresh tokens (the
    same happens on any path that sets a password); the caller gets a fresh pair. Raises
    :class:`InvalidInput` with field errors for a wrong current password or a new password
    the validators refuse.
    """
    if not user.check_password(current_password):
        raise InvalidInput(
            "Some of the data sent is not valid.",
            details={"fields": {"current_password": ["This is not your current password."]}},
        )
    try:
        password_validation.validate_password(new_password, user=user)
    except ValidationError as error:
        raise InvalidInput(
            "Some of the data sent is not valid.", details={"fields": {"new_password": list(error.messages)}}
        ) from None
    with db.atomic(_db()):
        user.set_password(new_password)
        user.save(update_fields=["password"])
        pair = sign_in_start(user=user)
    logger.info("password changed; every sign-in ended", extra={"user_id": str(user.pk)})
    return pair


@db.transactional("accounts")
def user_ensure(
    *, email: str, password: str, name: str, is_staff: bool = False, is_superuser: bool = False
) -> tuple[User, bool]:
    """Create the account if no account uses ``email`` yet (for seeding); returns (user, created).

    An existing account is left exactly as it is: its password is never reset here. The
    password validators are not applied (the seed's published test account has a short
    password); seed data is trusted.
    """
    email = _normalise_email(email)
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing, False
    # The password policy is not applied: the demo's documented test account predates it.
    user = _create_account(
        email=email, password=password, name=name.strip(), is_staff=is_staff or is_superuser
    )
    if is_superuser:
        User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
        user.refresh_from_db()
    return user, True


def staff_groups_ensure(*, using: str = "default") -> dict[str, Group]:
    """Create the staff groups and give each exactly its permissions; running it again changes nothing.

    Permissions not created yet (a context not migrated) are skipped and added by a later run.
    """
    groups = {}
    for name, perms in STAFF_GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted += list(
                Permission.objects.using(using).filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
        groups[name] = group
    return groups
