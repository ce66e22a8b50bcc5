"""POST-only API routes that a browser can still open in the browsable API."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.request import Request
from rest_framework.response import Response


class BrowsableForm:
    """A POST-only route that a browser can open: the browsable API shows its form (200).

    JSON clients still get 405 for GET; the schema documents only POST, and so does ``Allow``.
    """

    @property
    def allowed_methods(self) -> list[str]:
        """``Allow`` names the methods of the API, not the browsable API's page (GET, HEAD)."""
        methods: list[str] = super().allowed_methods  # type: ignore[misc]
        return [method for method in methods if method not in ("GET", "HEAD")]

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        if getattr(request.accepted_renderer, "format", None) != "api":
            raise MethodNotAllowed(request.method or "GET")
        return Response({"detail": "Send the form below with POST."})
