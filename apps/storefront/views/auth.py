"""Signing up, in and out of the booking pages (Django sessions, beside the API's JWT)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from apps.accounts.services import user_register
from apps.storefront.forms import EmailAuthenticationForm, SignUpForm
from ticketflow.errors import InvalidInput


def safe_next(request: HttpRequest, default: str = "/") -> str:
    """Where to go after signing in: the ``next`` asked for, if it is a path on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else default


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    """``/signup``: create an account with ``user_register``, then sign in and carry on."""
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            user = user_register(
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                name=form.cleaned_data["name"],
            )
        except InvalidInput as error:
            fields = error.details.get("fields") or {}
            form.add_service_errors(fields)
            if not fields:
                form.add_error(None, error.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to TicketFlow, {user.get_short_name()}! You are signed in.")
            return redirect(next_url)
    return render(request, "storefront/signup.html", {"form": form, "next": next_url})


login_page = LoginView.as_view(
    template_name="storefront/login.html",
    authentication_form=EmailAuthenticationForm,
    redirect_authenticated_user=True,
)


class SignOutView(LogoutView):
    """``/logout``: POST signs out; GET (a typed or bookmarked URL) asks first."""

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("/")
        return render(request, "storefront/logout.html")


logout_page = SignOutView.as_view()
