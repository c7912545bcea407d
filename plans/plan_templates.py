"""The workspace's plan templates: made from a plan, created and edited (the built-in ones are
read-only; plans/builtin_templates.py). A plan made from a template keeps its own copy of
the steps (plans.services.create_plan_from_template)."""

from __future__ import annotations

from django.db import transaction

from deals.models import Organization

from .models import Phase, Plan, PlanTemplate, TemplateStep, Visibility


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
    return template


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
