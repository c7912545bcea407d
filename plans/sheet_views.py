"""A plan to a spreadsheet (plans/sheets.py): CSV or XLSX, for the seller team."""

from __future__ import annotations

import re

from django.http import Http404, HttpResponse

from deals.tenancy import org_view

from . import sheets
from .views import _plan

FORMATS = {
    "csv": ("text/csv; charset=utf-8", sheets.as_csv),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        sheets.as_xlsx,
    ),
}


@org_view
def plan_export(request, deal_id, fmt):
    if fmt not in FORMATS:
        raise Http404("CSV or XLSX.")
    plan = _plan(request, deal_id)
    content_type, render = FORMATS[fmt]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{plan.deal.account_name}-plan").strip("-")
    response = HttpResponse(render(plan), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name or "plan"}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
