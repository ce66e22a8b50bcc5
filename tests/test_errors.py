"""Whatever a client sends, the answer is a clear 4xx in the site's or the API's error shape."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/%F0%9F%98%80", "Nothing was found here."),
        ("/api/nowhere", "Nothing was found here."),
        ("/api/events/%E2%9C%93", "No event has this id."),
    ],
)
def test_unknown_api_paths_are_json_404s_whatever_their_characters(path: str, message: str) -> None:
    response = Client(raise_request_exception=True).get(path)

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": message, "details": {}}}


def test_unknown_pages_are_the_sites_404_page_whatever_their_characters() -> None:
    response = Client(raise_request_exception=True).get("/%F0%9F%98%80")

    assert response.status_code == 404
    assert b"We couldn" in response.content


def test_a_form_sent_without_its_csrf_token_gets_the_sites_403_page() -> None:
    response = Client(enforce_csrf_checks=True).post("/login", {"username": "a", "password": "b"})

    assert response.status_code == 403
    assert b"Please try that again" in response.content
