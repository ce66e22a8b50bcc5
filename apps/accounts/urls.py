"""Routes of the accounts API (mounted at /api/users/)."""

from django.urls import path

from apps.accounts import apis

app_name = "accounts"

urlpatterns = [
    path("register", apis.RegisterApi.as_view(), name="register"),
    path("verify-email", apis.VerifyEmailApi.as_view(), name="verify-email"),
    path("login", apis.LoginApi.as_view(), name="login"),
    path("logout", apis.LogoutApi.as_view(), name="logout"),
    path("token/refresh", apis.RefreshApi.as_view(), name="token-refresh"),
    path("me", apis.MeApi.as_view(), name="me"),
    path("me/password", apis.PasswordApi.as_view(), name="password"),
]
