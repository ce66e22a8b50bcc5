"""Request and response shapes of the accounts API."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from apps.accounts.models import User


class RegisterInput(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, style={"input_type": "password"})
    name = serializers.CharField(max_length=150)


class UserOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ("id", "email", "name")


class MeOutput(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "email", "name", "role", "date_joined")

    def get_role(self, user: User) -> str:
        """``admin`` (superuser), ``staff`` (runs venues and events) or ``customer``."""
        if user.is_superuser:
            return "admin"
        return "staff" if user.is_staff else "customer"


class LoginInput(TokenObtainPairSerializer):
    """``{"email", "password"}`` -> ``{"access", "refresh"}``; emails match case-insensitively."""

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        attrs[self.username_field] = attrs[self.username_field].strip().lower()
        return super().validate(attrs)
