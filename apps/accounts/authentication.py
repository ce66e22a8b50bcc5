"""The API's bearer-token authentication: simplejwt's checks, plus the sign-in behind the token."""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import Token

from apps.accounts.models import User
from apps.accounts.selectors import user_for_token


class SignInJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <access>``: signature, expiry, audience and issuer (simplejwt),
    then the account, its password and the token's sign-in (``user_for_token``), in one query.
    """

    # simplejwt declares the result as a TypeVar bound to nothing in its signature (any user type).
    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        return user_for_token(claims=validated_token)


class SignInJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of :class:`SignInJWTAuthentication` (simplejwt's bearer JWT)."""

    target_class = "apps.accounts.authentication.SignInJWTAuthentication"
