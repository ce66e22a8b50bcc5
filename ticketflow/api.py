"""Shared API plumbing: pagination with the README's ``count/next/previous/results`` shape.

(DRF imports this module while it loads its own settings: keep its imports minimal.)
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class Pagination(PageNumberPagination):
    """Page-number pagination; ``?page=`` and ``?page_size=`` (1 or more; above 100 gives 100).

    A ``page`` or ``page_size`` that is not a positive whole number (in any of its copies, if
    sent twice) is a 400, not quietly the default: a client that sends ``page_size=abc`` has
    a bug it should hear about. A page past the last is DRF's 404.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        size = _positive_number(request, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return _positive_number(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters


def _positive_number(request: Request, name: str) -> int | None:
    """The query parameter ``name`` as a whole number from 1 (its last copy); None when absent."""
    values = request.query_params.getlist(name)
    if not values:
        return None
    if not all(value.isascii() and value.isdigit() and int(value) >= 1 for value in values):
        from ticketflow.errors import InvalidInput

        raise InvalidInput(
            f"{name} must be a whole number from 1.",
            details={"fields": {name: ["not a positive whole number"]}},
        )
    return int(values[-1])
