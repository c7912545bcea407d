"""A plan to and from a spreadsheet: export as CSV or XLSX (plans/sheets.py); import from
CSV, XLSX or a pasted table with a preview whose column mapping the seller corrects
(plans/sheet_import.py)."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from deals.tenancy import org_view

from . import sheet_import, sheets
from .models import SheetImport
from .views import _actor, _plan, _refuse_if_archived

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


# --- Import -----------------------------------------------------------------------------------


@org_view
def plan_import(request, deal_id):
    """GET: upload a CSV/XLSX or paste a table. POST: read it, then its preview."""
    plan = _plan(request, deal_id)
    context = {"plan": plan, "deal": plan.deal, "nav": "deals", "error": ""}
    if request.method == "GET":
        return render(request, "plans/sheet_import.html", context)
    if refused := _refuse_if_archived(plan):
        return refused
    upload, text = request.FILES.get("file"), request.POST.get("text", "")
    try:
        if upload is not None:
            table, source = sheet_import.read_upload(upload), upload.name[:255]
        elif text.strip():
            if len(text.encode()) > sheet_import.MAX_BYTES:
                raise sheet_import.ImportRefused("The pasted text is over 5 MB.")
            table, source = sheet_import.read_text(text), "pasted table"
        else:
            raise sheet_import.ImportRefused("Choose a file or paste a table.")
        sheet_import.preview(table, plan)  # refuses a table that names no step
    except sheet_import.ImportRefused as refused:
        context["error"] = str(refused)
        return render(request, "plans/sheet_import.html", context, status=422)
    draft = sheet_import.keep_for_preview(table, plan, user=request.user, source=source)
    return redirect("plans:plan-import-preview", request.organization.slug, draft.public_id)


@org_view
def import_preview(request, import_id):
    """GET: what the import would do. POST: `remap` with the columns' fields chosen again,
    or `apply` it (one transaction; then the plan)."""
    draft = get_object_or_404(
        SheetImport.objects.for_org(request.organization)
        .filter(user=request.user, applied_at=None)
        .select_related("plan", "plan__deal", "plan__organization"),
        public_id=import_id,
    )
    plan = draft.plan
    plan.organization = request.organization
    mapping = draft.mapping
    if request.method == "POST":
        if refused := _refuse_if_archived(plan):
            return refused
        chosen = request.POST.getlist("column")
        if chosen and all(key in sheet_import.FIELDS for key in chosen):
            mapping = chosen
    try:
        result = sheet_import.preview(draft.table, plan, mapping=mapping)
    except sheet_import.ImportRefused as refused:
        context = {"plan": plan, "deal": plan.deal, "nav": "deals", "error": str(refused)}
        return render(request, "plans/sheet_import.html", context, status=422)
    if request.method == "POST" and request.POST.get("action") == "apply":
        counts = sheet_import.apply(
            result,
            plan,
            actor=_actor(request),
            add_people=request.POST.get("add_people") == "on",
            delete_missing=request.POST.get("delete_missing") == "on",
            source=draft.source,
        )
        SheetImport.objects.filter(pk=draft.pk).update(applied_at=timezone.now())
        messages.success(
            request,
            f"Imported from {draft.source}: {counts['added']} step(s) added, "
            f"{counts['changed']} changed, {counts['unchanged']} unchanged"
            + (f", {counts['deleted']} deleted" if counts["deleted"] else "")
            + (f", {counts['people']} new people" if counts["people"] else "")
            + (f"; {len(result.refused)} row(s) not imported" if result.refused else "")
            + ".",
        )
        return redirect(plan.get_absolute_url())
    if request.method == "POST":
        SheetImport.objects.filter(pk=draft.pk).update(mapping=result.mapping)
    context = {
        "plan": plan,
        "deal": plan.deal,
        "draft": draft,
        "result": result,
        "columns": list(zip(result.header, result.mapping, strict=False)),
        "fields": list(sheet_import.FIELDS.items()),
        "nav": "deals",
    }
    return render(request, "plans/sheet_import_preview.html", context)
