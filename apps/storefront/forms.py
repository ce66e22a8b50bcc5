"""Forms of the booking pages: finding events, signing up and in, and paying for seats."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import RegexValidator

# Stripe's test payment methods, which the simulated provider (and Stripe in test mode) honour.
# (payment method, what the buyer sees, the card number Stripe documents for it)
TEST_CARDS = (
    ("pm_card_visa", "Visa — succeeds", "4242 4242 4242 4242"),
    ("pm_card_chargeDeclined", "Visa — declined", "4000 0000 0000 0002"),
    ("pm_card_chargeDeclinedInsufficientFunds", "Visa — insufficient funds", "4000 0000 0000 9995"),
)
PAYMENT_METHOD = RegexValidator(r"^pm_[A-Za-z0-9_]{1,250}$", "Enter your card details to pay.")
TOKEN = RegexValidator(r"^[A-Za-z0-9_-]{16,64}$", "This checkout form has expired; please reload the page.")


def new_checkout_token() -> str:
    """A fresh idempotency key for one checkout form: submitting it twice makes one booking."""
    return secrets.token_urlsafe(24)


class EventFilterForm(forms.Form):
    q = forms.CharField(
        label="Search events",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Artist, show or venue", "autocomplete": "off"}
        ),
    )
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        start: date | None = cleaned.get("start")
        end: date | None = cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "Choose a date on or after the first one.")
        return cleaned


class SignUpForm(forms.Form):
    name = forms.CharField(
        label="Your name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Email address", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        help_text="At least 12 characters; not a common password and not all numbers.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def add_service_errors(self, fields: Mapping[str, list[str]]) -> None:
        """Show the field errors ``user_register`` raised next to the fields they concern."""
        for field, messages in fields.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form, with email addresses compared as they are stored (lower case)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email address and password do not match an account. Check them and try again.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email address"
        self.fields["username"].widget = forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class SeatsField(forms.Field):
    """The chosen seat ids (repeated hidden inputs), without duplicates, in the order given."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        return list(dict.fromkeys(str(item).strip() for item in values if str(item).strip()))


class CheckoutForm(forms.Form):
    """The seats, how to pay, and the per-checkout idempotency token."""

    seat = SeatsField(required=False)
    payment_method = forms.CharField(max_length=255, validators=[PAYMENT_METHOD])
    token = forms.CharField(widget=forms.HiddenInput, validators=[TOKEN])
    # The waiting list's offer, when the buyer books seats kept for them (ticketflow.waitlist_offers).
    offer = forms.CharField(widget=forms.HiddenInput, required=False, max_length=2000)

    def __init__(
        self, *args: Any, seat_ids: Collection[str], max_seats: int, test_cards: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.seat_ids = seat_ids
        self.max_seats = max_seats
        if test_cards:
            self.fields["payment_method"] = forms.ChoiceField(
                label="Test card",
                choices=[(value, label) for value, label, _ in TEST_CARDS],
                initial=TEST_CARDS[0][0],
                widget=forms.RadioSelect,
                error_messages={
                    "required": "Choose a card to pay with.",
                    "invalid_choice": "Choose a card to pay with.",
                },
            )
        else:
            self.fields["payment_method"].widget = forms.HiddenInput()
            self.fields["payment_method"].error_messages["required"] = "Enter your card details to pay."

    def clean_seat(self) -> list[str]:
        seats: list[str] = self.cleaned_data["seat"]
        if not seats:
            raise forms.ValidationError("Choose at least one seat.")
        if any(seat not in self.seat_ids for seat in seats):
            raise forms.ValidationError(
                "Some of the seats in your order are not part of this event. Please choose your seats again."
            )
        if len(seats) > self.max_seats:
            raise forms.ValidationError(
                f"You can book at most {self.max_seats} seats at once for this event."
            )
        return seats
