from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (``manage.py seed``): composes the contexts through their services."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data"
