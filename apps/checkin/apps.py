from django.apps import AppConfig


class CheckinConfig(AppConfig):
    """Tickets at the door: issuing signed tickets, revoking them, and scanning. Lives on "default"."""

    name = "apps.checkin"
    label = "checkin"
    verbose_name = "Check-in"
