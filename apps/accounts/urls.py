"""Routes of the accounts API (mounted at /api/users/)."""

from django.urls import path

from apps.accounts import apis

app_name = "accounts"

urlpatterns = [
    path("register", apis.RegisterApi.as_view(), name="register"),
    path("login", apis.LoginApi.as_view(), name="login"),
    path("token/refresh", apis.RefreshApi.as_view(), name="token-refresh"),
    path("me", apis.MeApi.as_view(), name="me"),
]
