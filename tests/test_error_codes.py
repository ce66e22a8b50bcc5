"""docs/api.md and the error code enums say the same thing.

Every code a client can receive is a member of one of the enums below, and docs/api.md
lists each of them in its "Every error code" table (and a booking's failure codes in its
"Failure code" table). A code added to an enum and not documented, or documented and in no
enum, fails here.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from apps.accounts.error_codes import AccountsErrorCode
from apps.bookings.error_codes import BookingErrorCode
from apps.checkin.error_codes import CheckinErrorCode
from apps.inventory.error_codes import InventoryErrorCode
from apps.payments.error_codes import PaymentsErrorCode
from apps.waitingroom.error_codes import WaitingRoomErrorCode
from ticketflow.error_codes import ErrorCode
from ticketflow.messaging.codes import FAILURE_CODES

pytestmark = pytest.mark.embedded

API_MD = Path(__file__).resolve().parent.parent / "docs" / "api.md"
ERROR_ENUMS: tuple[type[StrEnum], ...] = (
    ErrorCode,
    AccountsErrorCode,
    BookingErrorCode,
    CheckinErrorCode,
    InventoryErrorCode,
    PaymentsErrorCode,
    WaitingRoomErrorCode,
)
ROW = re.compile(r"^\| `([a-z_]+)` \|")


def table_codes(header: str) -> list[str]:
    """The codes in the first column of the docs/api.md table whose header row is ``header``."""
    lines = API_MD.read_text(encoding="utf-8").splitlines()
    assert header in lines, f"docs/api.md has no table headed {header!r}"
    codes = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        match = ROW.match(line)
        assert match, f"not a code row in the table headed {header!r}: {line!r}"
        codes.append(match.group(1))
    return codes


def values(enums: tuple[type[StrEnum], ...]) -> set[str]:
    return {member.value for enum in enums for member in enum}


def test_every_error_code_of_an_enum_is_documented_and_every_documented_one_is_in_an_enum():
    documented = set(table_codes("| Code | Status | Where |"))
    declared = values(ERROR_ENUMS)

    assert sorted(declared - documented) == [], "in an enum but not in docs/api.md"
    assert sorted(documented - declared) == [], "in docs/api.md but in no enum"


def test_every_failure_code_of_the_contract_is_documented_and_nothing_else():
    documented = table_codes("| Failure code | From |")

    assert len(documented) == len(set(documented)), "a failure code is listed twice"
    assert sorted(values(FAILURE_CODES) - set(documented)) == [], "in the contract but not in docs/api.md"
    assert sorted(set(documented) - values(FAILURE_CODES)) == [], "in docs/api.md but not in the contract"


def test_the_summary_by_status_names_only_codes_that_exist():
    lines = API_MD.read_text(encoding="utf-8").splitlines()
    start = lines.index("| Status | Codes | When |")
    summary = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        summary += re.findall(r"`([a-z_]+)`", line.split("|")[2])

    assert summary, "the summary table lists no codes"
    assert sorted(set(summary) - values(ERROR_ENUMS)) == []


def test_a_shared_idea_has_one_code_across_contexts():
    assert BookingErrorCode.NOT_ON_SALE == InventoryErrorCode.NOT_ON_SALE == "not_on_sale"
    assert "event_not_on_sale" not in values(ERROR_ENUMS) | values(FAILURE_CODES)
