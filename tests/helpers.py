"""Small helpers shared by view tests."""

from django.urls import reverse

HTMX = {"HTTP_HX_REQUEST": "true"}


def htmx(target: str | None = None) -> dict:
    """Headers of an htmx request (optionally aimed at an element id)."""
    return {**HTMX, "HTTP_HX_TARGET": target} if target else dict(HTMX)


def url(name: str, org_slug: str = "acme", **kwargs) -> str:
    return reverse(name, kwargs={"org_slug": org_slug, **kwargs})


def assert_fragment(response, status: int = 200) -> str:
    """The response is an htmx fragment: the right status and no page around it."""
    assert response.status_code == status, response.content[:500]
    html = response.content.decode()
    assert "<html" not in html
    assert "<body" not in html
    return html.strip()


def assert_page(response, status: int = 200) -> str:
    assert response.status_code == status, response.content[:500]
    html = response.content.decode()
    assert "<html" in html
    return html


def snapshot() -> dict:
    """Every tenant row of deals, stakeholders and plans, to prove that nothing changed."""
    from deals.models import Deal
    from plans.models import (
        Activity,
        DueDateChange,
        Milestone,
        Plan,
        PlanTemplate,
        Resource,
        ResourceSection,
        ResourceShareLink,
        ResourceVersion,
        ResourceView,
        TemplateStep,
    )
    from stakeholders.models import Stakeholder

    models = [
        Deal,
        Stakeholder,
        Plan,
        Milestone,
        DueDateChange,
        Activity,
        PlanTemplate,
        TemplateStep,
        ResourceSection,
        Resource,
        ResourceVersion,
        ResourceView,
        ResourceShareLink,
    ]
    return {
        model.__name__: [
            {field.attname: getattr(row, field.attname) for field in model._meta.concrete_fields}
            for row in model.objects.order_by("pk")
        ]
        for model in models
    }


def assert_error_next_to(html: str, field_id: str, message: str) -> None:
    """`message` is shown in the error list right before the input `field_id`."""
    from django.utils.html import escape

    id_at = html.find(f'id="{field_id}"')
    assert id_at != -1, f"no field {field_id}"
    field_at = html.rfind("<", 0, id_at)  # the start of the field's tag
    message_at = html.rfind(escape(message), 0, field_at)
    if message_at == -1:
        message_at = html.rfind(message, 0, field_at)
    assert message_at != -1, f"{message!r} is not shown before {field_id}"
    between = html[message_at:field_at]
    assert between.count("<input") + between.count("<select") + between.count("<textarea") == 0, (
        f"{message!r} is not next to {field_id}"
    )
