"""Routes of the booking pages (mounted at /)."""

from django.urls import path

from apps.storefront.views import auth, bookings, checkout, events, transfers, waiting_room, waitlist

app_name = "storefront"

urlpatterns = [
    path("", events.event_list_page, name="event-list"),
    path("events/<str:event_id>", events.event_page, name="event-detail"),
    path("events/<str:event_id>/seats", events.event_seat_states, name="event-seats"),
    path("events/<str:event_id>/checkout", checkout.checkout_page, name="checkout"),
    path("events/<str:event_id>/queue", waiting_room.waiting_room_page, name="waiting-room"),
    path("events/<str:event_id>/waitlist", waitlist.waitlist_page, name="waitlist"),
    path("signup", auth.signup_page, name="signup"),
    path("login", auth.login_page, name="login"),
    path("verify-email", auth.verify_email_page, name="verify-email"),
    path("logout", auth.logout_page, name="logout"),
    path("bookings", bookings.booking_list_page, name="booking-list"),
    path("bookings/<str:booking_id>", bookings.booking_page, name="booking-detail"),
    path("bookings/<str:booking_id>/tickets.pdf", bookings.booking_tickets_pdf, name="booking-tickets-pdf"),
    path("bookings/<str:booking_id>/status", bookings.booking_status_partial, name="booking-status"),
    path("bookings/<str:booking_id>/cancel", bookings.booking_cancel_page, name="booking-cancel"),
    path("bookings/<str:booking_id>/transfer", transfers.booking_transfer_page, name="booking-transfer"),
    path("transfers", transfers.transfers_received_page, name="transfers-received"),
    path("transfers/<str:token>", transfers.transfer_accept_page, name="transfer-accept"),
]
