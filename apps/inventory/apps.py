from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Seats per event, holds and availability. Lives on "default", guarded by Redis locks."""

    name = "apps.inventory"
    label = "inventory"
    verbose_name = "Inventory"
