"""The seating plan a box-office person types: parsing, every error message, and the way back."""

from __future__ import annotations

import pytest

from apps.catalog.layout import LayoutError, layout_to_text, parse_layout_text, validate_layout
from ticketflow.messaging.schemas import SeatLayout

pytestmark = pytest.mark.embedded

THEATRE = """\
# The Royal's main house
[Stalls] standard
A: 1-20
B: 1-22
C: 3-24 premium

[Balcony] economy
A: 18
"""


def test_a_typed_plan_becomes_the_layout_document() -> None:
    layout = parse_layout_text(THEATRE)

    assert layout.model_dump(mode="json") == {
        "sections": [
            {
                "name": "Stalls",
                "category": "standard",
                "rows": [
                    {"label": "A", "seats": 20, "start": 1, "category": None},
                    {"label": "B", "seats": 22, "start": 1, "category": None},
                    {"label": "C", "seats": 22, "start": 3, "category": "premium"},
                ],
            },
            {
                "name": "Balcony",
                "category": "economy",
                "rows": [{"label": "A", "seats": 18, "start": 1, "category": None}],
            },
        ]
    }
    assert layout.capacity == 82
    assert layout.categories == {"standard", "premium", "economy"}


def test_spacing_windows_line_endings_and_multi_word_section_names_are_accepted() -> None:
    text = "  [Block 101]   floor  \r\n\r\n  R1 :  5 - 8 \r\n# comment\r\nR2:2   vip\r\n"

    layout = parse_layout_text(text)

    [section] = layout.sections
    assert (section.name, section.category) == ("Block 101", "floor")
    assert [(row.label, row.start, row.seats, row.category) for row in section.rows] == [
        ("R1", 5, 4, None),
        ("R2", 1, 2, "vip"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[Stalls] standard\nA 1-20",
            "line 2: expected '[Section] category' or 'ROW: FIRST-LAST', got 'A 1-20'",
        ),
        (
            "[Stalls]\nA: 1-20",
            "line 1: expected '[Section] category' or 'ROW: FIRST-LAST', got '[Stalls]'",
        ),
        (
            "[Stalls] standard\nA: one-twenty",
            "line 2: expected '[Section] category' or 'ROW: FIRST-LAST', got 'A: one-twenty'",
        ),
        ("# plan\nA: 1-20\n[Stalls] standard", "line 2: a row needs a '[Section] category' line above it"),
        ("[Stalls] standard\nA: 1-20\nB: 20-11", "line 3: the last seat (11) comes before the first (20)"),
    ],
    ids=["no colon", "section without category", "not numbers", "row before section", "backwards range"],
)
def test_each_line_error_says_where_and_why(text: str, message: str) -> None:
    with pytest.raises(LayoutError) as error:
        parse_layout_text(text)

    assert str(error.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "sections: List should have at least 1 item after validation, not 0"),
        ("# only a comment\n\n", "sections: List should have at least 1 item after validation, not 0"),
        ("[Stalls] standard", "sections.0.rows: List should have at least 1 item after validation, not 0"),
        (
            "[Stalls] standard\nA: 1-20\nA: 21-40",
            "sections.0: Value error, section 'Stalls' repeats a row label",
        ),
        (
            "[Stalls] standard\nA: 1-20\n[Stalls] premium\nB: 1-20",
            "layout: Value error, the layout repeats a section name",
        ),
        ("[Stalls] standard\nA: 0", "sections.0.rows.0.seats: Input should be greater than or equal to 1"),
        ("[Stalls] standard\nA: 1-501", "sections.0.rows.0.seats: Input should be less than or equal to 500"),
        (
            "[Stalls] standard\nA: 10001-10010",
            "sections.0.rows.0.start: Input should be less than or equal to 10000",
        ),
        (
            "[Stalls] standard\nABCDEFGHIJKLMNOPQ: 1-2",
            "sections.0.rows.0.label: String should have at most 16 characters",
        ),
    ],
    ids=[
        "empty",
        "comments only",
        "section without rows",
        "repeated row",
        "repeated section",
        "no seats",
        "too many seats in a row",
        "start too high",
        "label too long",
    ],
)
def test_each_plan_error_points_at_the_offending_part(text: str, message: str) -> None:
    with pytest.raises(LayoutError) as error:
        parse_layout_text(text)

    assert str(error.value) == message


def test_a_plan_over_100000_seats_is_refused() -> None:
    text = "\n".join(
        f"[S{s}] standard\n" + "\n".join(f"R{r}: 1-500" for r in range(1, 11)) for s in range(21)
    )

    with pytest.raises(LayoutError) as error:
        parse_layout_text(text)

    assert str(error.value) == "layout: Value error, a layout may hold at most 100,000 seats"


def test_an_absurdly_long_number_is_a_layout_error() -> None:
    with pytest.raises(LayoutError) as error:
        parse_layout_text("[Stalls] standard\nA: 1-" + "9" * 5000)

    assert str(error.value) == "line 2: 99999999... is too large for a seat number or count"


def test_validate_layout_names_unknown_and_missing_fields() -> None:
    with pytest.raises(LayoutError) as error:
        validate_layout(
            {"sections": [{"name": "Stalls", "rows": [{"label": "A", "seats": 5, "colour": "red"}]}]}
        )

    assert str(error.value) == (
        "sections.0.category: Field required; sections.0.rows.0.colour: Extra inputs are not permitted"
    )


@pytest.mark.parametrize("document", [None, [], "[Stalls] standard", {"sections": "A"}])
def test_validate_layout_refuses_what_is_not_a_layout_document(document: object) -> None:
    with pytest.raises(LayoutError):
        validate_layout(document)


def test_layout_to_text_writes_the_canonical_form() -> None:
    layout = parse_layout_text(THEATRE)

    assert layout_to_text(layout) == (
        "[Stalls] standard\nA: 1-20\nB: 1-22\nC: 3-24 premium\n[Balcony] economy\nA: 1-18"
    )


def test_text_and_document_round_trip() -> None:
    layout = parse_layout_text(THEATRE)

    text = layout_to_text(layout)

    assert parse_layout_text(text) == layout
    assert layout_to_text(parse_layout_text(text)) == text


def test_a_document_sent_as_json_round_trips_through_text() -> None:
    layout = SeatLayout.model_validate(
        {
            "sections": [
                {
                    "name": "Main Floor",
                    "category": "ga",
                    "rows": [{"label": "Pit", "seats": 300, "start": 0}],
                },
                {"name": "Box 1", "category": "box", "rows": [{"label": "1", "seats": 4, "category": "vip"}]},
                {
                    "name": "Terrace",
                    "category": "front row",
                    "rows": [
                        {"label": "T:1", "seats": 2},
                        {"label": "T:2", "seats": 2, "category": "lounge seats"},
                    ],
                },
            ]
        }
    )

    assert parse_layout_text(layout_to_text(layout)) == layout
