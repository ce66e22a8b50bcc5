"""A booking's tickets as a PDF: one A6-sized page per ticket, its QR code drawn as vectors.

The QR code is drawn module by module from segno's matrix (runs of dark modules merged into
one rectangle), so it prints sharp at any size and the file stays small. fpdf2's built-in
Helvetica covers Latin-1: typographic dashes and quotes print as their plain forms, and
other characters outside it as "?" rather than failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import segno
from fpdf import FPDF

PAGE = (105.0, 148.0)  # A6 portrait, millimetres
QR_SIZE = 70.0
QUIET_ZONE = 4


@dataclass(frozen=True, slots=True)
class TicketPage:
    event_name: str
    when: str
    venue: str
    seat: str
    reference: str
    holder: str
    ticket_id: str
    secret: str


# Typographic punctuation that Latin-1 lacks, as its plain equivalent (names often have it).
_PLAIN = str.maketrans(
    {
        "\u2014": "-",
        "\u2013": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
    }
)


def _latin1(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _draw_qr(pdf: FPDF, secret: str, *, x: float, y: float, size: float) -> None:
    matrix = segno.make(secret, error="m").matrix
    modules = len(matrix) + 2 * QUIET_ZONE
    step = size / modules
    pdf.set_fill_color(23, 21, 43)
    for row_index, row in enumerate(matrix):
        top = y + (row_index + QUIET_ZONE) * step
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            pdf.rect(x + (start + QUIET_ZONE) * step, top, (column - start) * step, step, style="F")


def tickets_pdf(pages: Sequence[TicketPage], *, title: str) -> bytes:
    """The PDF of ``pages``, one ticket each, in order."""
    pdf = FPDF(orientation="portrait", unit="mm", format=PAGE)
    pdf.set_title(_latin1(title))
    pdf.set_creator("TicketFlow")
    pdf.set_auto_page_break(auto=False)
    width = PAGE[0] - 16
    for number, page in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_margins(8, 8, 8)
        pdf.set_xy(8, 8)
        pdf.set_font("Helvetica", style="B", size=9)
        pdf.set_text_color(91, 33, 182)
        pdf.cell(width, 5, f"TICKETFLOW  -  TICKET {number} OF {len(pages)}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(23, 21, 43)
        pdf.set_font("Helvetica", style="B", size=15)
        pdf.multi_cell(width, 7, _latin1(page.event_name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(width, 5, _latin1(f"{page.when}\n{page.venue}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font("Helvetica", style="B", size=12)
        pdf.multi_cell(width, 6, _latin1(page.seat), new_x="LMARGIN", new_y="NEXT")
        _draw_qr(pdf, page.secret, x=(PAGE[0] - QR_SIZE) / 2, y=pdf.get_y() + 2, size=QR_SIZE)
        pdf.set_xy(8, PAGE[1] - 30)
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(
            width,
            4.5,
            _latin1(f"Booking {page.reference} - {page.holder}\nTicket {page.ticket_id}"),
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
        pdf.set_font("Helvetica", style="I", size=8)
        pdf.multi_cell(
            width,
            4,
            "One person per ticket. Show this code at the door.",
            align="C",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    return bytes(pdf.output())
