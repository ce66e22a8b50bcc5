"""Failures of the payments context.

Provider failures come in two kinds the event handlers treat differently: a transient one
(:class:`ProviderUnavailable`) propagates so the kernel retries the event, and then
dead-letters it for ``manage.py replay``; a refusal that no retry can change
(:class:`ProviderRejected`) becomes a ``PermanentFailure``. A declined card is neither: it
is an ordinary FAILED outcome.
"""

from __future__ import annotations

from apps.payments.error_codes import PaymentsErrorCode
from ticketflow.errors import ApplicationError, Conflict, NotFound


class ProviderUnavailable(RuntimeError):
    """The provider could not be reached or answered with a server error; try again later."""


class ProviderRejected(RuntimeError):
    """The provider refused the request for good (e.g. an idempotency key reused with other data)."""


class PaymentAlreadySucceeded(RuntimeError):
    """A new attempt was requested for a booking that has already been paid: charging would pay twice."""


class PaymentChangedConcurrently(Conflict):
    """Another writer changed the payment between reading and updating it; retrying is safe.

    An event handler is retried by the kernel; Stripe retries a webhook answered 409.
    """


class InvalidWebhook(ApplicationError):
    status_code = 400
    code = PaymentsErrorCode.INVALID_WEBHOOK
    default_message = "The webhook could not be verified or read."


class WebhooksDisabled(NotFound):
    default_message = "Stripe webhooks are not enabled on this server (STRIPE_WEBHOOK_SECRET is unset)."


class PaymentNotRecordedYet(Conflict):
    """A signed Stripe event names an intent of ours (its ``metadata.booking_id``) not recorded yet.

    Answered 409 without recording the event, so Stripe sends it again (with back-off) once
    the charge's transaction has committed.
    """

    code = PaymentsErrorCode.PAYMENT_NOT_RECORDED_YET
    default_message = "This PaymentIntent is not recorded yet; send the event again later."
