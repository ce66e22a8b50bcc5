from django.apps import AppConfig


class WaitingroomConfig(AppConfig):
    """The virtual waiting room: a fair queue in front of a sale. State in Redis; lives on "default"."""

    name = "apps.waitingroom"
    label = "waitingroom"
    verbose_name = "Waiting room"

    def ready(self) -> None:
        from apps.waitingroom import schema  # noqa: F401  (registers the OpenAPI extension)
