from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """Venues with their seat layouts, and the events held in them. Lives on "documents"."""

    name = "apps.catalog"
    label = "catalog"
    verbose_name = "Catalog"
