"""The workspace's plan templates: list, edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from deals.tenancy import org_view

from . import plan_templates
from .forms import TemplateEditForm
from .models import PlanTemplate, TemplateResource


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
        "sections": template.sections.prefetch_related("resources"),
        "nav": "templates",
    }
    return render(request, "plans/template_edit.html", context, status=status)


@require_POST
@org_view
def template_resource_remove(request, template_id, resource_id):
    item = get_object_or_404(
        TemplateResource.objects.filter(
            section__template__organization=request.organization,
            section__template__public_id=template_id,
        ),
        public_id=resource_id,
    )
    plan_templates.remove_template_resource(item)
    messages.success(request, f"“{item.title}” removed from the template.")
    return redirect("plans:template-edit", request.organization.slug, template_id)


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
