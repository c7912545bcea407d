"""Number formats and links of the dashboard."""

from django import template

from plans.dashboard.views import PLACEHOLDER

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.4567 → "46%"; None (nothing to divide) → "—"."""
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


@register.filter
def decimal1(value) -> str:
    """12.345 → "12.3"; None → "—"."""
    if value is None:
        return "—"
    return f"{value:.1f}"


@register.filter
def signed_days(value: int) -> str:
    """+12 days / −3 days / on time."""
    if not value:
        return "on the day"
    return f"{value:+d} days"


@register.filter
def plan_link(deal_id, pattern: str) -> str:
    """The plan page of a deal, from the address `pattern` whose placeholder deal is
    replaced (plans.dashboard.views.PLACEHOLDER): one reverse() for every row."""

    return pattern.replace(PLACEHOLDER, str(deal_id))
