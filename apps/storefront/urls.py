"""Routes of the booking pages (mounted at /)."""

app_name = "storefront"

urlpatterns: list = []
