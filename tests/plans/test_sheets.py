"""A plan exported as CSV and XLSX (plans/sheets.py): its columns, every step with owners,
dates and statuses, and no cell a spreadsheet would run as a formula."""

import csv
import io

from openpyxl import load_workbook

from plans.models import Milestone, Plan
from plans.sheets import COLUMNS
from tests.helpers import url


def test_a_plan_exports_as_csv_and_xlsx_with_the_same_rows(alice_client, acme_deal):
    plan = Plan.objects.get(deal=acme_deal)
    step = plan.milestones.order_by("phase", "position").first()
    Milestone.objects.filter(pk=step.pk).update(
        title='=HYPERLINK("https://evil.test","click")', shared_notes="+1 call @legal"
    )
    csv_response = alice_client.get(
        url("plans:plan-export", deal_id=acme_deal.public_id, fmt="csv")
    )
    assert csv_response["Content-Disposition"] == 'attachment; filename="Initech-plan.csv"'
    table = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert table[0] == COLUMNS
    assert len(table) == 1 + plan.milestones.count()
    first = dict(zip(COLUMNS, table[1], strict=True))
    assert first["Step"] == '\'=HYPERLINK("https://evil.test","click")'
    assert first["Notes"] == "'+1 call @legal"
    assert first["Due date"] == step.due_date.isoformat()

    xlsx = alice_client.get(url("plans:plan-export", deal_id=acme_deal.public_id, fmt="xlsx"))
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == COLUMNS and len(cells) == len(table)
    title_cell = sheet.cell(row=2, column=1)
    assert title_cell.data_type == "s"  # a string, never a formula
    assert title_cell.value == '=HYPERLINK("https://evil.test","click")'
    assert cells[1][6].date() == step.due_date
    for csv_row, xlsx_row in zip(table[2:], cells[2:], strict=True):
        assert csv_row[0] == xlsx_row[0] and csv_row[8] == xlsx_row[8]


def test_export_is_the_workspaces_own(charlie, acme_deal, alice_client):
    from django.test import Client

    client = Client()
    client.force_login(charlie)
    for org in ("globex", "acme"):
        path = url("plans:plan-export", org_slug=org, deal_id=acme_deal.public_id, fmt="csv")
        assert client.get(path).status_code == 404
    path = url("plans:plan-export", deal_id=acme_deal.public_id, fmt="pdf")
    assert alice_client.get(path).status_code == 404
    path = url("plans:plan-export", deal_id=acme_deal.public_id, fmt="csv")
    assert alice_client.get(path).status_code == 200
