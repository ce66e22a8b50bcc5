from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users, registration, login (JWT) and roles. Lives on the "default" alias."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"
