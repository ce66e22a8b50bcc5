"""A seating plan a box-office person can type, and its conversion to the layout document.

::

    [Stalls] standard
    A: 1-20
    B: 1-22
    C: 1-22 premium
    [Balcony] economy
    A: 18

A ``[Section] category`` line opens a section; each row line is ``LABEL: FIRST-LAST``
(or ``LABEL: COUNT`` for seats 1..COUNT), optionally followed by the row's own category.
Lines starting with ``#`` are comments.
"""

from __future__ import annotations

import re
from typing import cast

from pydantic import ValidationError

from ticketflow.messaging.schemas import SeatLayout

# Categories may be several words and labels may hold a colon: the layout document allows
# both, and the admin edits every venue's plan in this form.
_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*(?P<category>\S.*)$")
_ROW = re.compile(
    r"^(?P<label>.+?):\s*(?:(?P<first>\d+)\s*-\s*(?P<last>\d+)|(?P<count>\d+))(?:\s+(?P<category>\S.*))?$"
)


class LayoutError(ValueError):
    """The text or document is not a valid seating plan; the message says where and why."""


def _number(digits: str, line: int) -> int:
    # int() refuses strings of thousands of digits with a plain ValueError; no plan needs 7.
    if len(digits) > 6:
        raise LayoutError(f"line {line}: {digits[:8]}... is too large for a seat number or count")
    return int(digits)


def parse_layout_text(text: str) -> SeatLayout:
    """Turn the compact text form into a validated :class:`SeatLayout`."""
    sections: list[dict[str, object]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := _SECTION.match(line):
            sections.append({"name": match["name"].strip(), "category": match["category"], "rows": []})
            continue
        match = _ROW.match(line)
        if match is None:
            raise LayoutError(
                f"line {number}: expected '[Section] category' or 'ROW: FIRST-LAST', got {line!r}"
            )
        if not sections:
            raise LayoutError(f"line {number}: a row needs a '[Section] category' line above it")
        if match["count"]:
            first, count = 1, _number(match["count"], number)
        else:
            first, last = _number(match["first"], number), _number(match["last"], number)
            if last < first:
                raise LayoutError(f"line {number}: the last seat ({last}) comes before the first ({first})")
            count = last - first + 1
        row: dict[str, object] = {"label": match["label"].strip(), "seats": count, "start": first}
        if match["category"]:
            row["category"] = match["category"]
        cast("list[dict[str, object]]", sections[-1]["rows"]).append(row)
    return validate_layout({"sections": sections})


def validate_layout(document: object) -> SeatLayout:
    """Validate a layout document, with messages that point at the offending part."""
    try:
        return SeatLayout.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'layout'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise LayoutError(problems) from None


def layout_to_text(layout: SeatLayout) -> str:
    """The compact text form of a layout (what the admin shows for editing)."""
    lines: list[str] = []
    for section in layout.sections:
        lines.append(f"[{section.name}] {section.category}")
        for row in section.rows:
            span = f"{row.start}-{row.start + row.seats - 1}"
            lines.append(f"{row.label}: {span}" + (f" {row.category}" if row.category else ""))
    return "\n".join(lines)
