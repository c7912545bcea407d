"""Benchmark: importing a 500-row XLSX into a plan (plans/sheet_import.py): reading the
workbook, the preview (header, columns, dates, owners) and applying it in one transaction,
timed together, beside exporting the same plan back to XLSX. A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_bench \\
        .venv/bin/python bench/sheet_import.py

It migrates that database and (re)creates a "bench-sheet" workspace with a deal whose plan
is empty; the workbook has the usual MAP layout (Milestone | Owner (Buyer / Seller) | Due
Date | Status | Notes) with the deal's people as owners. Target: under 2 s.
"""

from __future__ import annotations

import io
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

for _name, _value in {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DEBUG": "0",
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "LOG_LEVEL": "WARNING",
}.items():
    os.environ.setdefault(_name, _value)

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from openpyxl import Workbook  # noqa: E402

ROWS = 500
STATUSES = ["Done", "In progress", "", "Blocked", "not started"]


def build():
    from deals.models import Deal, Membership, Organization, User
    from plans.models import Plan
    from stakeholders.models import Stakeholder

    Organization.objects.filter(slug="bench-sheet").delete()
    org = Organization.objects.create(name="Bench Sheet", slug="bench-sheet")
    user = User.objects.filter(email="bench-sheet@example.com").first()
    if user is None:
        user = User.objects.create_user(email="bench-sheet@example.com", full_name="Sam Seller")
    Membership.objects.create(organization=org, user=user, role="admin")
    deal = Deal.objects.create(
        organization=org,
        account_name="Initech",
        name="Rollout",
        owner=user,
        target_close_date=date.today() + timedelta(days=600),
    )
    for name, side, role in (
        ("Priya Raman", "buyer", "champion"),
        ("Eve Economic", "buyer", "economic_buyer"),
        ("Sam Seller", "seller", "ae"),
    ):
        Stakeholder.objects.create(
            organization=org, deal=deal, name=name, side=side, role=role, email=""
        )
    plan = Plan.objects.create(
        organization=org, deal=deal, target_signature_date=date.today() + timedelta(days=600)
    )
    return user, plan


def workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Milestone", "Owner (Buyer / Seller)", "Due Date", "Status", "Notes"])
    start = date.today()
    for i in range(ROWS):
        buyer = "Priya Raman" if i % 2 else "Eve Economic"
        sheet.append(
            [
                f"Step {i + 1}",
                f"{buyer} / Sam Seller",
                start + timedelta(days=i),
                STATUSES[i % len(STATUSES)],
                "Agreed on the call",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> int:
    from plans import sheet_import, sheets
    from stakeholders.actors import Actor

    call_command("migrate", verbosity=0)
    user, plan = build()
    data = workbook()
    start = time.perf_counter()
    table = sheet_import.read_upload(SimpleUploadedFile("plan.xlsx", data))
    read = time.perf_counter()
    result = sheet_import.preview(table, plan)
    previewed = time.perf_counter()
    counts = sheet_import.apply(
        result, plan, actor=Actor.seller(user), add_people=True, delete_missing=False
    )
    applied = time.perf_counter()
    export_start = time.perf_counter()
    exported = sheets.as_xlsx(plan)
    export_end = time.perf_counter()
    total = applied - start
    print(f"database: {connection.vendor}")
    print(f"workbook: {ROWS} rows, {len(data) / 1024:.1f} KB; imported: {counts}")
    print(f"  read the workbook        {(read - start) * 1000:8.1f} ms")
    print(f"  preview                  {(previewed - read) * 1000:8.1f} ms")
    print(f"  apply (one transaction)  {(applied - previewed) * 1000:8.1f} ms")
    print(f"  import in all            {total * 1000:8.1f} ms  (target < 2000 ms)")
    print(
        f"  export back to XLSX      {(export_end - export_start) * 1000:8.1f} ms "
        f"({len(exported) / 1024:.1f} KB)"
    )
    return 0 if total < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
