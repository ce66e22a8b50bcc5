from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class MessagingConfig(AppConfig):
    """The event kernel: envelope, outbox, inbox, transports and the handler registry."""

    name = "ticketflow.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from ticketflow.messaging import tracing

        tracing.configure()
        # Each context declares its event handlers in <app>/consumers.py.
        autodiscover_modules("consumers")
        from ticketflow.messaging.handlers import check_registry

        check_registry()
