from django.apps import AppConfig


class ProbeConfig(AppConfig):
    """A test-only bounded context that exercises the event kernel (installed when TICKETFLOW_ENV=test)."""

    name = "tests.probe"
    label = "probe"
    default_auto_field = "django.db.models.BigAutoField"
