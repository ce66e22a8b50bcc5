from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Emails rendered from templates, and the log of what was sent. Lives on "documents"."""

    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"
