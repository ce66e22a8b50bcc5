"""Shared API plumbing: pagination with the README's ``count/next/previous/results`` shape.

(DRF imports this module while it loads its own settings: keep its imports minimal.)
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pagination(PageNumberPagination):
    """Page-number pagination; ``?page=`` and ``?page_size=`` (1 or more; above 100 gives 100).

    A ``page_size`` that is not a positive whole number is a 400, not quietly the default: a
    client that sends ``page_size=abc`` has a bug it should hear about.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            from ticketflow.errors import InvalidInput

            raise InvalidInput(
                "page_size must be a whole number from 1 (at most 100 are given).",
                details={"fields": {self.page_size_query_param: ["not a positive whole number"]}},
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters
