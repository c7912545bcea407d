"""Plans as spreadsheets: a plan's steps exported as CSV or XLSX, with the columns an import
reads back (issue: sheets and calendars). Every cell is text or a date, never a formula:
a value that a spreadsheet would run (`=`, `+`, `-`, `@`, tab, carriage return first) is
written with a leading apostrophe in CSV and as a plain string in XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.utils import get_column_letter

from .models import Milestone, Plan

COLUMNS = [
    "Step",
    "Phase",
    "Buyer owner",
    "Buyer owner email",
    "Seller owner",
    "Seller owner email",
    "Due date",
    "Duration (days)",
    "Status",
    "Risk",
    "Visibility",
    "Notes",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows(plan: Plan):
    """The plan's steps as rows of COLUMNS (dates as dates), close plan first. One query."""
    steps = (
        Milestone.objects.filter(plan=plan)
        .select_related("buyer_owner", "seller_owner")
        .order_by("phase", "position")
    )
    for step in sorted(steps, key=lambda m: (m.phase != "close", m.position)):
        buyer, seller = step.buyer_owner, step.seller_owner
        yield [
            step.title,
            step.get_phase_display(),
            buyer.name if buyer else "",
            buyer.email if buyer else "",
            seller.name if seller else "",
            seller.email if seller else "",
            step.due_date,
            step.duration_days,
            step.get_status_display(),
            step.get_risk_display() if step.risk else "",
            step.get_visibility_display(),
            step.shared_notes,
        ]


def neutral(value):
    """A text a spreadsheet would run as a formula, made plain text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def as_csv(plan: Plan) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows(plan):
        writer.writerow(
            [value.isoformat() if hasattr(value, "isoformat") else neutral(value) for value in row]
        )
    # A BOM, so that Excel reads the UTF-8 (names with accents) as such.
    return ("\ufeff" + out.getvalue()).encode()


def as_xlsx(plan: Plan) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Plan"
    sheet.append(COLUMNS)
    for row in rows(plan):
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING  # never a formula, whatever it starts with
            elif cell.value is not None and hasattr(cell.value, "isoformat"):
                cell.number_format = "yyyy-mm-dd"
    for index, width in enumerate([40, 18, 22, 28, 22, 28, 12, 10, 14, 14, 26, 40], start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
