"""Reads of the accounts context."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from apps.accounts.error_codes import TokenRejection
from apps.accounts.models import SignIn, User

SID_CLAIM = "sid"


def user_for_token(*, claims: Any) -> User:
    """The user a signature-checked token speaks for, in one query, or ``AuthenticationFailed``.

    Refused: an unknown or deactivated user, a token issued under another password (its
    ``hash_password`` claim), and a token whose sign-in (``sid``) has ended or belongs to
    someone else. Tokens minted by trusted code with ``RefreshToken.for_user`` (tests,
    benches) carry no ``sid`` and are judged by the rest.
    """
    user_id = claims.get("sub")
    sid = claims.get(SID_CLAIM)
    users = User.objects.filter(pk=user_id)
    try:
        if sid is not None:
            open_sign_in = SignIn.objects.filter(pk=sid, user_id=OuterRef("pk"), ended_at__isnull=True)
            users = users.annotate(signed_in=Exists(open_sign_in))
        user = users.first() if user_id else None
    except (ValidationError, ValueError, TypeError):  # a sub or sid that is no UUID
        user = None
    if user is None:
        raise AuthenticationFailed("The token names no account.", code=TokenRejection.USER_NOT_FOUND)
    if not user.is_active:
        raise AuthenticationFailed("This account is deactivated.", code=TokenRejection.USER_INACTIVE)
    if claims.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise AuthenticationFailed(
            "The password changed since this token was issued; sign in again.",
            code=TokenRejection.PASSWORD_CHANGED,
        )
    if sid is not None and not getattr(user, "signed_in", False):  # annotated above when there is a sid
        raise AuthenticationFailed("This sign-in has ended; sign in again.", code=TokenRejection.SIGNED_OUT)
    return user
