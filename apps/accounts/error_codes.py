"""The error codes the accounts API answers (``docs/api.md``, "Accounts")."""

from __future__ import annotations

from enum import StrEnum


class AccountsErrorCode(StrEnum):
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a code, not a secret)
    """A forged, expired or stale email verification link."""
    LOCKED_OUT = "locked_out"
    """Too many failed logins from one address or against one account (django-axes)."""


class TokenRejection(StrEnum):
    """Why a bearer or refresh token was refused, for DRF's ``AuthenticationFailed(code=...)``.

    Not error codes of the API: clients get ``authentication_failed`` with the message in
    ``details.reason``; these name the cause in DRF's ``get_codes()`` and in the logs.
    """

    TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 (a code, not a secret)
    TOKEN_REUSED = "token_reused"  # noqa: S105 (a code, not a secret)
    USER_NOT_FOUND = "user_not_found"
    USER_INACTIVE = "user_inactive"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a code, not a secret)
    SIGNED_OUT = "signed_out"
