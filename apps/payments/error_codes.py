"""The error codes the payments API answers (``docs/api.md``, "Payments").

A charge that fails is not an API error: it is a ``payment.processed`` event whose
``failure_code`` is one of the contract's ``PaymentFailureCode``s (or an issuer's
decline code).
"""

from __future__ import annotations

from enum import StrEnum

from ticketflow.messaging.codes import PaymentFailureCode


class PaymentsErrorCode(StrEnum):
    PROVIDER_REJECTED = PaymentFailureCode.PROVIDER_REJECTED
    """409 to a refresh: the provider does not know the payment's intent."""
    INVALID_WEBHOOK = "invalid_webhook"
    MALFORMED_WEBHOOK = "malformed_webhook"
    INVALID_SIGNATURE = "invalid_signature"
    PAYMENT_NOT_RECORDED_YET = "payment_not_recorded_yet"
