from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:12]
