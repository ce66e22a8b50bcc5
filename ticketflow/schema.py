"""The OpenAPI schema's shared parts: the one error component, and the error answers of each operation.

Every failure is ``{"error": {"code", "message", "details"}}`` (``ticketflow.errors``). The
:class:`AutoSchema` documents it, as the ``Error`` component, under every status an
operation can answer with, worked out from what the view is made of:

- 400 ``invalid`` / ``malformed_request``: the operation takes a body or query/header parameters;
- 401 ``not_authenticated`` / ``authentication_failed``: the view authenticates at all (a bad
  token is refused even where signing in is optional);
- 403 ``forbidden``: a permission beyond being signed in, or an unsafe method open to session
  cookies (CSRF);
- 404 ``not_found``: an id in the path, or a page number past the last page;
- 415 ``unsupported_media_type``: a body that is not JSON;
- 429 ``throttled``: the view has a ``throttle_scope``;
- 503 ``service_unavailable`` / ``busy``: every operation (a database that does not answer).

What only the service knows (409 conflicts, a 403 or 400 decided by the domain) the view
adds with ``extend_schema(responses={409: OpenApiResponse(description="codes")})``; any
error status declared without a body gets the ``Error`` body here. Operations anyone may
call get an empty security requirement beside the token schemes, so clients see signing in
is optional there.
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular import openapi
from drf_spectacular.plumbing import get_override
from drf_spectacular.utils import extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.authentication import SessionAuthentication

from ticketflow.api import Pagination

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "details"],
    "properties": {
        "code": {
            "type": "string",
            "description": "Stable and machine-readable: what went wrong (docs/api.md lists every code).",
            "example": "not_found",
        },
        "message": {"type": "string", "description": "For a person: what went wrong and what to do."},
        "details": {
            "type": "object",
            "additionalProperties": True,
            "description": "Facts about this failure; `fields` maps each invalid field to its problems.",
        },
    },
}

_GENERIC: dict[int, str] = {
    400: "The request is not valid (`invalid`, `malformed_request`; `details.fields` names each field).",
    401: "Not signed in, or the token is not valid (`not_authenticated`, `authentication_failed`).",
    403: "Not allowed (`forbidden`): a missing permission, or a missing CSRF token with a session cookie.",
    404: "Nothing was found (`not_found`).",
    415: "The body is not JSON (`unsupported_media_type`).",
    429: "Too many requests (`throttled`); `Retry-After` says when to try again.",
    503: "A database did not answer, or the service is busy (`service_unavailable`, `busy`); see `Retry-After`.",
}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ANYONE = frozenset({permissions.AllowAny})


@extend_schema_field(ERROR_SCHEMA)
class _ErrorField(serializers.DictField):
    """The inner object of the error shape, documented in full inside the one component."""


class ErrorSerializer(serializers.Serializer):
    """``{"error": {"code", "message", "details"}}``: every 4xx and 5xx answer of the API."""

    error = _ErrorField()


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, documenting the error answers and optional sign-in."""

    def anyone_may_call(self) -> bool:
        """Whether this operation lets anonymous callers through (``AllowAny``, or a public read)."""
        checks = self.view.get_permissions()
        if not checks or all(type(check) in _ANYONE for check in checks):
            return True
        if self.method not in permissions.SAFE_METHODS:
            return False
        # ``ticketflow.permissions.requires(read="anyone")``: ask the permission itself about a
        # safe method from an anonymous caller rather than recognise it by name.
        probe = _AnonymousProbe(self.method)
        return all(check.has_permission(probe, self.view) for check in checks)  # type: ignore[arg-type]

    def get_auth(self) -> list[dict[str, Any]]:
        auths = super().get_auth()
        if auths and {} not in auths and self.anyone_may_call():
            auths.append({})
        return auths

    def _map_serializer_field(
        self, field: Any, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DictField) and not field.allow_empty:
            schema.setdefault("minProperties", 1)  # DRF's allow_empty=False, which spectacular drops
        return schema

    def _get_serializer_field_meta(self, field: Any, direction: str) -> dict[str, Any]:
        meta: dict[str, Any] = super()._get_serializer_field_meta(field, direction)
        declared = get_override(field, "field")
        if isinstance(declared, dict) and "minLength" in declared:
            # A field that declares its schema keeps its minLength (drf-spectacular would put 1,
            # for "not blank", over it).
            meta.pop("minLength", None)
        return meta

    def error_statuses(self) -> dict[int, str]:
        """The error statuses this operation can answer with, from what the view is made of."""
        statuses: dict[int, str] = {}
        has_body = self.method in _BODY_METHODS and self.get_request_serializer() is not None
        parameters = [p for p in self._get_parameters() if p.get("in") in ("query", "header")]
        if has_body or parameters:
            statuses[400] = _GENERIC[400]
        authenticators = self.view.get_authenticators()
        if authenticators:
            statuses[401] = _GENERIC[401]
        needs_permission = not self.anyone_may_call() and not self._signed_in_is_enough()
        checks_csrf = self.method not in permissions.SAFE_METHODS and any(
            isinstance(auth, SessionAuthentication) for auth in authenticators
        )
        if needs_permission or checks_csrf:
            statuses[403] = _GENERIC[403]
        if "{" in self.path or self._is_paginated():
            statuses[404] = _GENERIC[404]
        if has_body:
            statuses[415] = _GENERIC[415]
        if getattr(self.view, "throttle_scope", None):
            statuses[429] = _GENERIC[429]
        statuses[503] = _GENERIC[503]
        return statuses

    def _signed_in_is_enough(self) -> bool:
        return all(type(check) is permissions.IsAuthenticated for check in self.view.get_permissions())

    def _is_paginated(self) -> bool:
        return self.method == "GET" and isinstance(getattr(self.view, "paginator", None), Pagination)

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        # Resolving the serializer registers the component once for the whole schema.
        error = {"application/json": {"schema": self.resolve_serializer(ErrorSerializer(), "response").ref}}
        for status, description in self.error_statuses().items():
            responses.setdefault(str(status), {"description": description})
        for code, response in responses.items():
            if code.isdigit() and int(code) >= 400 and "content" not in response:
                response["content"] = error
        return dict(sorted(responses.items()))


class _AnonymousProbe:
    """The least of a request a permission looks at: a method, and a user who is not signed in."""

    def __init__(self, method: str) -> None:
        from django.contrib.auth.models import AnonymousUser

        self.method = method
        self.user = AnonymousUser()
        self.auth = None
