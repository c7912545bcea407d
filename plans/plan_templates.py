"""The workspace's plan templates: made from a plan, created and edited (the built-in ones are
read-only; plans/builtin_templates.py). A plan made from a template keeps its own copy of
the steps (plans.services.create_plan_from_template)."""

from __future__ import annotations

from django.core.files.base import File
from django.db import transaction

from deals.models import Organization

from .models import (
    Phase,
    Plan,
    PlanTemplate,
    Resource,
    ResourceSection,
    ResourceVersion,
    TemplateResource,
    TemplateSection,
    TemplateStep,
    Visibility,
)


@transaction.atomic
def save_plan_as_template(
    plan: Plan, *, organization: Organization, name: str, description: str = ""
) -> PlanTemplate:
    """Copy the plan's shared steps (title, phase, duration, owner roles, risk) into a new
    workspace template. Internal steps stay out."""
    template = PlanTemplate.objects.create(
        organization=organization, name=name.strip(), description=description.strip()
    )
    milestones = (
        plan.milestones.filter(visibility=Visibility.SHARED)
        .select_related("buyer_owner", "seller_owner")
        .order_by("phase", "position")
    )
    ordered = sorted(milestones, key=lambda m: (m.phase != Phase.CLOSE, m.position))
    TemplateStep.objects.bulk_create(
        TemplateStep(
            template=template,
            position=position,
            title=m.title,
            description=m.description,
            phase=m.phase,
            duration_days=m.duration_days,
            buyer_role=m.buyer_owner.role if m.buyer_owner else "",
            seller_role=m.seller_owner.role if m.seller_owner else "",
            risk=m.risk,
            is_signature_step=m.is_signature_step,
        )
        for position, m in enumerate(ordered, start=1)
    )
    _materials_into_template(plan, template)
    return template


def _copy_file(source, target, name: str) -> None:
    """Store a copy of the stored file `source` as the FileField `target` (a new name)."""
    with source.open("rb") as handle:
        target.save(name, File(handle, name=name), save=False)


def _materials_into_template(plan: Plan, template: PlanTemplate) -> None:
    """The plan's shared materials (sections, links, the current version of each file, the
    step each is about) become the template's: plans made from it start with them. Files
    are copied. Internal materials and the buyers' own files stay out."""
    sections = {}
    for section in plan.resource_sections.all():
        sections[section.pk] = TemplateSection.objects.create(
            template=template,
            position=section.position,
            title=section.title,
            buyer_uploads=section.buyer_uploads,
        )
    resources = (
        Resource.objects.filter(plan=plan, visibility=Visibility.SHARED, side="seller")
        .select_related("current", "milestone")
        .order_by("position", "id")
    )
    for resource in resources:
        copy = TemplateResource(
            section=sections[resource.section_id],
            position=resource.position,
            kind=resource.kind,
            title=resource.title,
            url=resource.url,
            note=resource.note,
            visibility=resource.visibility,
            # Only a shared step's title: an internal one's stays with the plan.
            step_title=(
                resource.milestone.title
                if resource.milestone and resource.milestone.visibility == Visibility.SHARED
                else ""
            ),
        )
        current = resource.current
        if current is not None:
            try:
                _copy_file(current.file, copy.file, current.original_name)
            except FileNotFoundError:
                continue  # a file lost from storage is not carried over
            copy.original_name = current.original_name
            copy.content_type = current.content_type
            copy.size = current.size
        copy.save()


def copy_template_materials(template: PlanTemplate, plan: Plan, *, added_by: str) -> None:
    """A new plan's materials, from its template's: the same sections, links and files (a
    copy of each file, as version 1), each about the plan's step of the same title."""
    sections = list(template.sections.prefetch_related("resources"))
    if not sections:
        return
    steps = {m.title: m for m in plan.milestones.all()}
    for section in sections:
        plan_section = ResourceSection.objects.create(
            organization_id=plan.organization_id,
            plan=plan,
            title=section.title,
            position=section.position,
            buyer_uploads=section.buyer_uploads,
        )
        for item in section.resources.all():
            resource = Resource.objects.create(
                organization_id=plan.organization_id,
                plan=plan,
                section=plan_section,
                milestone=steps.get(item.step_title) if item.step_title else None,
                kind=item.kind,
                title=item.title,
                url=item.url,
                note=item.note,
                visibility=item.visibility,
                position=item.position,
                added_by_name=added_by,
            )
            if item.kind != Resource.Kind.FILE or not item.file:
                continue
            version = ResourceVersion(
                organization_id=plan.organization_id,
                resource=resource,
                number=1,
                original_name=item.original_name,
                content_type=item.content_type,
                size=item.size,
                uploaded_by_name=added_by,
            )
            try:
                _copy_file(item.file, version.file, item.original_name)
            except FileNotFoundError:
                resource.delete()  # a file lost from storage is not offered
                continue
            version.save()
            Resource.objects.filter(pk=resource.pk).update(current=version)


def remove_template_resource(item: TemplateResource) -> None:
    item.delete()


def _template_steps(template: PlanTemplate, steps: list[dict]) -> None:
    TemplateStep.objects.bulk_create(
        TemplateStep(template=template, position=position, **step)
        for position, step in enumerate(steps, start=1)
    )


@transaction.atomic
def create_template(
    organization: Organization, *, name: str, description: str = "", steps: list[dict]
) -> PlanTemplate:
    """Create a workspace template with `steps` (dicts of TemplateStep fields, in order)."""
    template = PlanTemplate.objects.create(
        organization=organization, name=name.strip(), description=description.strip()
    )
    _template_steps(template, steps)
    return template


@transaction.atomic
def update_template(
    template: PlanTemplate,
    *,
    name: str | None = None,
    description: str | None = None,
    steps: list[dict] | None = None,
) -> PlanTemplate:
    """Edit a workspace template; `steps`, when given, replace all its steps. Plans made
    from it earlier keep their own copies of the steps."""
    if template.is_built_in:
        raise ValueError("Built-in templates are read-only.")
    if name is not None:
        template.name = name.strip()
    if description is not None:
        template.description = description.strip()
    template.save(update_fields=["name", "description"])
    if steps is not None:
        template.steps.all().delete()
        _template_steps(template, steps)
    return template
