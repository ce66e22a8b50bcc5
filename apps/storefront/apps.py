from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The server-rendered booking pages buyers see; composes the contexts' services."""

    name = "apps.storefront"
    label = "storefront"
    verbose_name = "Storefront"
