"""``ticketflow.db.transactional``: a service is one unit of work, alone or inside its caller's."""

from __future__ import annotations

import pytest
from django.db import connections

from tests.probe.models import ProbeSwitch
from ticketflow import db

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default"], transaction=True)]


@db.transactional("probe")
def switch_on(name: str, *, then_fail: bool = False) -> list[str]:
    """Write a row; report the savepoints open on the probe's alias while doing it."""
    ProbeSwitch.objects.create(name=name)
    if then_fail:
        raise RuntimeError("after the write")
    return [sid for sid in connections[db.alias_for("probe")].savepoint_ids if sid is not None]


def test_called_on_its_own_it_commits_or_rolls_back_whole() -> None:
    switch_on("kept")
    with pytest.raises(RuntimeError):
        switch_on("lost", then_fail=True)

    assert list(ProbeSwitch.objects.values_list("name", flat=True)) == ["kept"]


def test_inside_a_transaction_it_joins_without_a_savepoint() -> None:
    alias = db.alias_for("probe")
    with pytest.raises(RuntimeError), db.atomic(alias):
        assert switch_on("joined") == []
        switch_on("and failed", then_fail=True)

    assert not ProbeSwitch.objects.exists()  # the caller's whole unit rolled back
    assert not db.in_transaction(alias)
