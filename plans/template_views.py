"""The workspace's plan templates: list, edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from deals.tenancy import org_view

from .forms import TemplateEditForm
from .models import PlanTemplate


@org_view
def template_list(request):
    templates = (
        PlanTemplate.objects.available_to(request.organization)
        .annotate(step_count=Count("steps"))
        .order_by("organization_id", "name")
    )
    return render(request, "plans/template_list.html", {"templates": templates, "nav": "templates"})


@org_view
def template_edit(request, template_id):
    template = get_object_or_404(
        PlanTemplate.objects.filter(organization=request.organization), public_id=template_id
    )
    form = TemplateEditForm(request.POST or None, instance=template)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Template saved.")
            return redirect("plans:template-list", org_slug=request.organization.slug)
        status = 422
    else:
        status = 200
    context = {
        "template": template,
        "form": form,
        "steps": template.steps.all(),
        "nav": "templates",
    }
    return render(request, "plans/template_edit.html", context, status=status)


@require_POST
@org_view
def template_delete(request, template_id):
    template = get_object_or_404(
        PlanTemplate.objects.filter(organization=request.organization), public_id=template_id
    )
    template.delete()
    messages.success(request, f"Template “{template.name}” deleted.")
    return redirect("plans:template-list", org_slug=request.organization.slug)


# Discussion, files and date proposals ---------------------------------------------------
