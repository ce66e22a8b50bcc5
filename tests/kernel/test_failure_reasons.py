"""Every way a booking can fail has words for its buyer, and unknown codes get general ones."""

import pytest

from ticketflow.messaging.codes import FAILURE_CODES, LockFailure
from ticketflow.messaging.failure_reasons import FAILURE_REASONS, GENERIC_FAILURE, failure_reason

pytestmark = pytest.mark.embedded


@pytest.mark.parametrize("code", [member for enum in FAILURE_CODES for member in enum], ids=str)
def test_every_failure_code_is_explained(code):
    reason = FAILURE_REASONS[code]

    assert reason is not GENERIC_FAILURE
    assert reason.title
    assert reason.explanation.endswith(".")
    assert reason.advice.endswith(".")


def test_a_stored_code_finds_its_reason_and_an_unknown_one_the_general_words():
    assert failure_reason("not_on_sale") is FAILURE_REASONS[LockFailure.NOT_ON_SALE]
    assert failure_reason("do_not_honor") is GENERIC_FAILURE
    assert failure_reason("event_not_on_sale") is GENERIC_FAILURE
