"""OpenAPI description of the queue pass, so the schema shows how a waiting buyer polls."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from apps.waitingroom import passes


class QueuePassScheme(OpenApiAuthenticationExtension):
    """``X-Queue-Pass``: an API key in a header, valid for reading one's own place only."""

    target_class = "apps.waitingroom.passes.QueuePassAuthentication"
    name = "queuePass"

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[Any]]]:
        """Only reading one's place takes the pass (``QueuePassAuthentication`` ignores it elsewhere)."""
        return [{self.name: []}] if auto_schema.method == "GET" else []

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": passes.HEADER,
            "description": "The queue_pass from POST /api/events/{id}/queue; GET of that queue only.",
        }
