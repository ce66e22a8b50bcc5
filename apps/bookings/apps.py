from django.apps import AppConfig


class BookingsConfig(AppConfig):
    """The booking aggregate and its reactions to the saga's events. Lives on "default"."""

    name = "apps.bookings"
    label = "bookings"
    verbose_name = "Bookings"
