"""Routes of the payments API (mounted at /api/payments/)."""

from django.urls import path

from apps.payments.apis import BookingPaymentApi, PaymentDetailApi, PaymentRefreshApi, StripeWebhookApi

app_name = "payments"

urlpatterns = [
    path("webhooks/stripe", StripeWebhookApi.as_view(), name="webhook-stripe"),
    path("booking/<str:booking_id>", BookingPaymentApi.as_view(), name="booking-payment"),
    path("<str:payment_id>/refresh", PaymentRefreshApi.as_view(), name="payment-refresh"),
    path("<str:payment_id>", PaymentDetailApi.as_view(), name="payment-detail"),
]
