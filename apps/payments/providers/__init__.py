"""Payment providers, chosen by ``settings.PAYMENTS["PROVIDER"]`` when a charge is made."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.payments.providers.base import ChargeResult, ChargeStatus, PaymentProvider, RefundResult
from apps.payments.providers.simulated import SimulatedProvider
from apps.payments.providers.stripe_provider import StripeProvider

__all__ = ["ChargeResult", "ChargeStatus", "PaymentProvider", "RefundResult", "get_provider"]


def get_provider(name: str | None = None) -> PaymentProvider:
    """The provider called ``name`` (default: the configured one), built from the settings now.

    A refund names the provider that took the charge, which may differ from today's
    configuration.
    """
    options = settings.PAYMENTS
    name = name or options["PROVIDER"]
    if name == StripeProvider.name:
        if not options["STRIPE_SECRET_KEY"]:
            raise ImproperlyConfigured("The Stripe provider needs PAYMENTS['STRIPE_SECRET_KEY'].")
        return StripeProvider(api_key=options["STRIPE_SECRET_KEY"], api_base=options["STRIPE_API_BASE"])
    if name == SimulatedProvider.name:
        return SimulatedProvider()
    raise ImproperlyConfigured(f"Unknown payment provider {name!r}: expected 'stripe' or 'simulated'.")
