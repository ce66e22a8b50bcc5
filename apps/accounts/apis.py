"""The accounts API: register, verify the email, log in and out (JWT), refresh, who am I, password."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from apps.accounts.lockout import attempted_email, lockout_response
from apps.accounts.serializers import (
    DetailOutput,
    LoginInput,
    LogoutInput,
    MeOutput,
    PasswordChangeInput,
    RefreshInput,
    RegisterInput,
    TokenPairOutput,
    VerifyEmailInput,
)
from apps.accounts.services import (
    sign_in_end,
    sign_in_refresh,
    user_change_password,
    user_sign_up,
    user_verify_email,
)
from ticketflow.browsable import BrowsableForm
from ticketflow.permissions import signed_in
from ticketflow.ratelimit import consume

# One answer whether or not the address already had an account (ASVS V2: no account enumeration).
SIGN_UP_ANSWER = (
    "Check your inbox: we sent an email to this address. If you are new, it holds the link that "
    "confirms your address; you can sign in with your password right away."
)


class RegisterApi(BrowsableForm, APIView):
    """Sign up. Anyone may; the answer is the same whether or not the address has an account."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_scope = "register"

    @extend_schema(request=RegisterInput, responses={202: DetailOutput})
    def post(self, request: Request) -> Response:
        payload = RegisterInput(data=request.data)
        payload.is_valid(raise_exception=True)
        user_sign_up(**payload.validated_data)
        return Response({"detail": SIGN_UP_ANSWER}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailApi(BrowsableForm, APIView):
    """Confirm the email address with the token from the verification email's link."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_scope = "register"

    @extend_schema(request=VerifyEmailInput, responses={200: DetailOutput})
    def post(self, request: Request) -> Response:
        payload = VerifyEmailInput(data=request.data)
        payload.is_valid(raise_exception=True)
        user_verify_email(token=payload.validated_data["token"])
        return Response({"detail": "Your email address is confirmed."})


class LoginApi(BrowsableForm, TokenObtainPairView):
    """Exchange email and password for an access and a refresh token.

    Counted per client address (``login``) and per account tried (``login-account``), and
    behind django-axes' lockout of an address or account after repeated failures.
    """

    serializer_class = LoginInput
    authentication_classes = ()
    throttle_scope = "login"

    # simplejwt declares Response, but a view may answer any HttpResponse (axes' lockout page).
    @extend_schema(
        request=LoginInput,
        responses={
            200: TokenPairOutput,
            401: OpenApiResponse(description="`authentication_failed`: wrong email or password."),
            429: OpenApiResponse(
                description="`throttled` or `locked_out`; `Retry-After` says when to try again."
            ),
        },
    )
    def post(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:  # type: ignore[override]
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if isinstance(email, str) and email.strip():
            verdict = consume(
                request._request, "login-account", f"account:{attempted_email(request, {'email': email})}"
            )
            if not verdict.allowed:
                raise Throttled(wait=verdict.retry_after)
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            # django-axes refused the attempt before any password was checked: say so.
            if getattr(request, "axes_locked_out", False):
                return lockout_response(request._request)
            raise


class RefreshApi(BrowsableForm, APIView):
    """Spend a refresh token for a new access token and a new refresh token (the old one is void)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_scope = "token-refresh"

    def get_authenticate_header(self, request: Request) -> str:
        # A refused token is 401 with a challenge (DRF makes it 403 for a view without one).
        return 'Bearer realm="api"'

    @extend_schema(
        request=RefreshInput,
        responses={
            200: TokenPairOutput,
            401: OpenApiResponse(
                description="`authentication_failed`: a spent, revoked or forged refresh token."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        payload = RefreshInput(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(sign_in_refresh(refresh=payload.validated_data["refresh"]).as_dict())


class LogoutApi(BrowsableForm, APIView):
    """End this sign-in: its access and refresh tokens stop working at once (other devices stay in)."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(request=LogoutInput, responses={204: None})
    def post(self, request: Request) -> Response:
        payload = LogoutInput(data=request.data)
        payload.is_valid(raise_exception=True)
        sign_in_end(
            user=signed_in(request.user), claims=request.auth, refresh=payload.validated_data.get("refresh")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """The signed-in user's profile."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: MeOutput})
    def get(self, request: Request) -> Response:
        return Response(MeOutput(request.user).data)


class PasswordApi(BrowsableForm, APIView):
    """Change the password: every sign-in of the account ends; the answer is a new token pair."""

    permission_classes = (IsAuthenticated,)
    throttle_scope = "password-change"

    @extend_schema(request=PasswordChangeInput, responses={200: TokenPairOutput})
    def post(self, request: Request) -> Response:
        payload = PasswordChangeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        tokens = user_change_password(user=signed_in(request.user), **payload.validated_data)
        return Response(tokens.as_dict())
