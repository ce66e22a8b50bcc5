"""Request and response shapes of the accounts API."""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainSerializer

from apps.accounts.models import User
from apps.accounts.services import sign_in_start

PASSWORD_MIN_LENGTH = 12
"""What ``settings.AUTH_PASSWORD_VALIDATORS`` asks of a new password's length (a test keeps them in step)."""


@extend_schema_field(
    {
        "type": "string",
        "format": "password",
        "writeOnly": True,
        "minLength": PASSWORD_MIN_LENGTH,
        "maxLength": 128,
        "description": (
            f"At least {PASSWORD_MIN_LENGTH} characters, not a common password, not only digits, "
            "not like your email address or name."
        ),
    }
)
class NewPasswordField(serializers.CharField):
    """A new password. The service's validators check it, all rules at once, so a client hears
    every problem in one answer; the schema declares the length they ask for."""


def _new_password() -> serializers.CharField:
    return NewPasswordField(max_length=128, write_only=True, style={"input_type": "password"})


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = _new_password()
    name = serializers.CharField(max_length=150)


class DetailOutput(serializers.Serializer):
    detail = serializers.CharField()


class UserOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "email", "name")


class MeOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    role = serializers.SerializerMethodField()
    email_verified = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "email", "name", "role", "email_verified", "date_joined")

    def get_role(self, user: User) -> str:
        """``admin`` (superuser), ``staff`` (may open the admin) or ``customer``; what staff may do is their permissions."""
        if user.is_superuser:
            return "admin"
        return "staff" if user.is_staff else "customer"

    def get_email_verified(self, user: User) -> bool:
        return user.email_verified_at is not None


class LoginInput(TokenObtainSerializer):
    """``{"email", "password"}`` -> ``{"access", "refresh"}`` of a new sign-in; emails match in any case."""

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        attrs[self.username_field] = attrs[self.username_field].strip().lower()
        super().validate(attrs)  # sets self.user, or raises AuthenticationFailed
        return sign_in_start(user=cast(User, self.user)).as_dict()


class TokenPairOutput(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class LogoutInput(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096, required=False)


class PasswordChangeInput(serializers.Serializer):
    current_password = serializers.CharField(max_length=128, style={"input_type": "password"})
    new_password = _new_password()


class VerifyEmailInput(serializers.Serializer):
    token = serializers.CharField(max_length=1024)
