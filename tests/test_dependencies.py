"""What `make` installs is what the lock files pin, hashed, and it satisfies pyproject.toml.

The audit (scripts/audit-dependencies) is strict: it runs pip-audit so that a release it cannot
look up fails like a vulnerable one, and says BLOCKED when no vulnerability service answers.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
ENTRY = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}.*\n)+)", re.M)


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    entries = {canonicalize_name(name): version for name, version, _ in ENTRY.findall(text)}
    declared = re.findall(r"^[A-Za-z0-9]", text, re.M)
    assert len(entries) == len(declared), f"{lock}: a pin without hashes"
    return entries


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("runtime.lock", PROJECT["dependencies"]),
        ("dev.lock", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
    ],
)
def test_each_lock_pins_with_hashes_a_release_that_satisfies_pyproject(
    lock: str, requirements: list[str]
) -> None:
    pinned = pins(lock)
    for line in requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is in pyproject.toml but not in {lock}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {requirement.name}=={pinned[name]}, outside {requirement.specifier}: run `make lock`"
        )


def test_the_advisory_floors_hold() -> None:
    pinned = pins("runtime.lock")
    assert tuple(map(int, pinned["django"].split("."))) >= (5, 2, 19)
    assert tuple(map(int, pinned["djangorestframework"].split("."))) >= (3, 17, 2)


@pytest.fixture
def audit() -> ModuleType:
    loader = SourceFileLoader("audit_dependencies", str(ROOT / "scripts" / "audit-dependencies"))
    module = ModuleType(loader.name)
    loader.exec_module(module)
    return module


def test_the_audit_runs_pip_audit_strictly_on_the_first_service_that_answers(audit, monkeypatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(audit, "answers", lambda service, name, version: service == "osv")
    monkeypatch.setattr(
        audit.subprocess,
        "run",
        lambda command, check: ran.append(command) or subprocess.CompletedProcess(command, 1),
    )

    assert audit.main(ROOT / "requirements" / "dev.lock") == 1  # pip-audit's verdict is the audit's
    (command,) = ran
    assert {"--strict", "--require-hashes", "--disable-pip"} <= set(command)
    assert command[command.index("--vulnerability-service") + 1] == "osv"


def test_with_no_service_reachable_the_audit_says_blocked_and_fails_only_when_required(
    audit, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(audit, "answers", lambda service, name, version: False)
    lock = ROOT / "requirements" / "dev.lock"

    assert audit.main(lock) == 0
    assert "BLOCKED" in capsys.readouterr().err
    monkeypatch.setenv("AUDIT_REQUIRED", "1")
    assert audit.main(lock) == 1
