"""The accounts API: register, log in (JWT), refresh, and who am I."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from apps.accounts.serializers import LoginInput, MeOutput, RegisterInput, UserOutput
from apps.accounts.services import user_register
from ticketflow.browsable import BrowsableForm


class RegisterApi(BrowsableForm, APIView):
    """Create an account. Anyone may register; the welcome email follows."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_scope = "register"

    @extend_schema(request=RegisterInput, responses={201: UserOutput})
    def post(self, request: Request) -> Response:
        payload = RegisterInput(data=request.data)
        payload.is_valid(raise_exception=True)
        user = user_register(**payload.validated_data)
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class LoginApi(BrowsableForm, TokenObtainPairView):
    """Exchange email and password for an access and a refresh token."""

    serializer_class = LoginInput
    authentication_classes = ()
    throttle_scope = "login"


class RefreshApi(BrowsableForm, TokenRefreshView):
    """Exchange a refresh token for a new access token."""

    authentication_classes = ()


class MeApi(APIView):
    """The signed-in user's profile."""

    permission_classes = (IsAuthenticated,)

    @extend_schema(responses={200: MeOutput})
    def get(self, request: Request) -> Response:
        return Response(MeOutput(request.user).data)
