"""The shared limiter: who a request counts against, and one counter for API and pages.

Runs on both profiles: against Redis on the real services, on the shared file cache on the
embedded default.
"""

from __future__ import annotations

import uuid

import pytest
from django.test import RequestFactory
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from ticketflow import network, ratelimit

pytestmark = pytest.mark.embedded


@pytest.fixture
def scope(settings) -> str:
    """A scope of its own per test, allowing three requests a minute."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, name: "3/m"}
    return name


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/", **extra)


def test_without_proxies_a_forwarded_header_is_the_clients_own_words(settings) -> None:
    settings.NUM_PROXIES = 0
    assert network.client_ip(request_from("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_behind_one_proxy_the_client_is_the_hop_that_proxy_appended(settings) -> None:
    settings.NUM_PROXIES = 1
    request = request_from("10.0.0.2", "1.2.3.4, 198.51.100.7")
    assert network.client_ip(request) == "198.51.100.7"


def test_behind_two_proxies_only_the_last_two_hops_are_believed(settings) -> None:
    settings.NUM_PROXIES = 2
    request = request_from("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1")
    assert network.client_ip(request) == "198.51.100.7"


def test_a_rotating_forwarded_header_still_counts_against_one_address(settings, scope: str) -> None:
    settings.NUM_PROXIES = 0
    verdicts = [
        ratelimit.consume(request, scope, ratelimit.requester_key(request))
        for request in (request_from("203.0.113.9", f"198.51.100.{i}") for i in range(5))
    ]
    assert [verdict.allowed for verdict in verdicts] == [True, True, True, False, False]
    assert 1 <= verdicts[-1].retry_after <= 60


def test_keys_are_counted_apart(scope: str) -> None:
    request = request_from("203.0.113.9")
    for _ in range(3):
        assert ratelimit.consume(request, scope, "account:a").allowed
    assert not ratelimit.consume(request, scope, "account:a").allowed
    assert ratelimit.consume(request, scope, "account:b").allowed


def test_an_unknown_scope_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="RATE_LIMITS"):
        ratelimit.consume(request_from("203.0.113.9"), "no-such-scope", "k")


def test_the_api_throttle_answers_429_in_the_error_shape_with_retry_after(scope: str) -> None:
    class Limited(APIView):
        authentication_classes = ()
        permission_classes = ()
        throttle_scope = scope

        def post(self, request):
            return Response({"ok": True})

    view = Limited.as_view()
    factory = APIRequestFactory()
    statuses = [view(factory.post("/", REMOTE_ADDR="192.0.2.44")).status_code for _ in range(3)]
    refused = view(factory.post("/", REMOTE_ADDR="192.0.2.44"))
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.data["error"]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
