"""Fail closed: what production hides, forged keys, forwarded headers, the policy on pages.

Replays the probes of the security review against the embedded default and the production
switches (the settings each test overrides are those production sets).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from django.test import Client
from django.utils import timezone

from apps.accounts.services import user_ensure
from ticketflow.config import EMBEDDED_SECRET

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

ROOT = Path(__file__).resolve().parents[2]
INTERNAL = ["10.0.0.0/8"]


def test_public_health_says_up_or_down_and_nothing_more(client: Client, settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = INTERNAL

    public = client.get("/health", REMOTE_ADDR="203.0.113.5")
    probe = client.get("/health", REMOTE_ADDR="10.1.2.3")

    assert public.status_code == probe.status_code == 200
    assert public.json() == {"status": "up"}
    assert set(probe.json()["checks"]) >= {"default_database", "cache"}


def test_metrics_do_not_exist_for_the_public(client: Client, settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = INTERNAL

    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_a_forwarded_header_does_not_make_the_public_internal(client: Client, settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = INTERNAL
    settings.NUM_PROXIES = 1

    # The proxy (10.0.0.2) appended the address it saw; the client wrote the first one itself.
    response = client.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5")

    assert response.status_code == 404


def test_a_token_signed_with_the_published_development_key_is_refused(client: Client) -> None:
    user, _ = user_ensure(email="forger@example.org", password="a-long-enough-password", name="F")
    now = timezone.now()
    forged = jwt.encode(
        {
            "token_type": "access",
            "sub": str(user.id),
            "jti": "forged",
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(minutes=5)).timestamp()),
        },
        EMBEDDED_SECRET,
        algorithm="HS256",
    )

    response = client.get("/api/bookings", HTTP_AUTHORIZATION=f"Bearer {forged}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}


def test_pages_and_the_api_carry_a_content_security_policy(client: Client) -> None:
    for path in ("/", "/api/events"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy


def test_the_web_server_listens_on_loopback_unless_told_otherwise() -> None:
    environment = {name: value for name, value in os.environ.items() if name != "WEB_HOST"}
    read_bind = "import runpy; print(runpy.run_path('deploy/gunicorn.conf.py')['bind'])"
    result = subprocess.run(
        [sys.executable, "-c", read_bind],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip().startswith("127.0.0.1:")
