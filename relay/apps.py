from django.apps import AppConfig


class RelayConfig(AppConfig):
    """The processes that move events: relay (outbox -> transport), consumers, replay."""

    name = "relay"
    label = "relay"
    verbose_name = "Relay"
