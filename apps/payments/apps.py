from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """Payment attempts, providers (Stripe, simulated) and webhooks. Lives on "documents"."""

    name = "apps.payments"
    label = "payments"
    verbose_name = "Payments"
