"""Signing up, in and out of the booking pages (Django sessions, beside the API's JWT).

Sign-in and sign-up count against the same limits as the API (``ticketflow.ratelimit``:
``login`` per address, ``login-account`` per email tried, ``register``), and django-axes
locks out an address or account after repeated failures (its page: ``accounts/locked_out``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.services import user_sign_up, user_verify_email
from apps.storefront.forms import EmailAuthenticationForm, SignUpForm
from ticketflow.errors import InvalidInput
from ticketflow.ratelimit import Verdict, client_ip, consume

SIGNED_UP = (
    "Check your inbox: we sent an email to {email}. If you are new, it holds the link that confirms "
    "your address. Sign in with your password to carry on."
)


def safe_next(request: HttpRequest, default: str = "/") -> str:
    """Where to go after signing in: the ``next`` asked for, if it is a path on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else default


def _too_many(
    request: HttpRequest, template: str, form: object, next_url: str, verdict: Verdict
) -> HttpResponse:
    minutes = max(1, round(verdict.retry_after / 60))
    response = render(
        request,
        template,
        {
            "form": form,
            "next": next_url,
            "throttled": f"Too many attempts from here. Wait {minutes} minute{'s' if minutes > 1 else ''}, then try again.",
        },
        status=429,
    )
    response["Retry-After"] = str(verdict.retry_after)
    return response


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest) -> HttpResponse:
    """``/signup``: ``user_sign_up``, then the same answer for a new and a registered address.

    Both go on to the sign-in page with "check your inbox": signing a new account in at
    once would tell a stranger which addresses are not registered yet.
    """
    next_url = safe_next(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_bound:
        verdict = consume(request, "register", f"ip:{client_ip(request)}")
        if not verdict.allowed:
            return _too_many(request, "storefront/signup.html", form, next_url, verdict)
    if form.is_bound and form.is_valid():
        try:
            user_sign_up(
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
            messages.success(request, SIGNED_UP.format(email=form.cleaned_data["email"].strip().lower()))
            return redirect(f"{reverse('storefront:login')}?{urlencode({'next': next_url})}")
    return render(request, "storefront/signup.html", {"form": form, "next": next_url})


_login_view = LoginView.as_view(
    template_name="storefront/login.html",
    authentication_form=EmailAuthenticationForm,
    redirect_authenticated_user=True,
)


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_page(request: HttpRequest) -> HttpResponseBase:
    """``/login``: Django's login view, counted per address and per account like the API's."""
    if request.method == "POST" and not request.user.is_authenticated:
        email = str(request.POST.get("username", "")).strip().lower()[:254]
        for scope, key in (("login", f"ip:{client_ip(request)}"), ("login-account", f"account:{email}")):
            if scope == "login-account" and not email:
                continue
            verdict = consume(request, scope, key)
            if not verdict.allowed:
                return _too_many(
                    request,
                    "storefront/login.html",
                    EmailAuthenticationForm(request),
                    safe_next(request),
                    verdict,
                )
    return _login_view(request)


@require_GET
def verify_email_page(request: HttpRequest) -> HttpResponse:
    """``/verify-email?token=``: the link in the welcome email; following it twice is harmless."""
    try:
        user = user_verify_email(token=request.GET.get("token", ""))
    except InvalidInput as error:
        return render(request, "storefront/verify_email.html", {"error": error.message}, status=400)
    return render(request, "storefront/verify_email.html", {"email": user.email})


class SignOutView(LogoutView):
    """``/logout``: POST signs out; GET (a typed or bookmarked URL) asks first."""

    http_method_names = ["get", "post", "options"]

    def get(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect("/")
        return render(request, "storefront/logout.html")


logout_page = SignOutView.as_view()
