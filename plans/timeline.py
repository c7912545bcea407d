"""Data for the timeline (Gantt) view: planned vs current dates, today, the target."""

from __future__ import annotations

import json

from .models import Milestone, Plan
from .scheduling import start_of


def timeline_data(plan: Plan, milestones: list[Milestone]) -> dict:
    """The chart of `milestones` (the room passes its shared steps only: a dependency on a
    step not drawn is left out, its id with it)."""
    tasks = []
    drawn = {milestone.pk for milestone in milestones}
    for milestone in milestones:
        if milestone.due_date is None:
            continue
        start = start_of(milestone.due_date, milestone.duration_days)
        # Frappe Gantt takes one class name per bar (it calls classList.add with it).
        if milestone.status == Milestone.Status.DONE:
            css_class = "status-done"
        elif milestone.slip_days:
            css_class = "slipped"
        elif milestone.is_high_risk:
            css_class = "high-risk"
        else:
            css_class = "status-" + milestone.status
        tasks.append(
            {
                "id": f"m-{milestone.public_id}",
                "name": milestone.title
                + (f" (+{milestone.slip_days}d)" if milestone.slip_days else ""),
                "start": start.isoformat(),
                "end": milestone.due_date.isoformat(),
                "progress": 100 if milestone.status == Milestone.Status.DONE else 0,
                "custom_class": css_class,
                "dependencies": f"m-{milestone.depends_on.public_id}"
                if milestone.depends_on_id in drawn
                else "",
            }
        )
        if milestone.slip_days and milestone.baseline_date:
            tasks.append(
                {
                    "id": f"m-{milestone.public_id}-planned",
                    "name": f"{milestone.title} — planned",
                    "start": start_of(milestone.baseline_date, milestone.duration_days).isoformat(),
                    "end": milestone.baseline_date.isoformat(),
                    "progress": 0,
                    "custom_class": "baseline",
                    "dependencies": "",
                }
            )
    tasks.append(
        {
            "id": "target",
            "name": "Target signature",
            "start": plan.target_signature_date.isoformat(),
            "end": plan.target_signature_date.isoformat(),
            "progress": 0,
            "custom_class": "target",
            "dependencies": "",
        }
    )
    return {"tasks": tasks}


def timeline_json(plan: Plan, milestones: list[Milestone]) -> str:
    """The timeline's data as JSON, for the chart's `data-timeline` attribute (autoescaped
    there like any attribute). Not a `json_script` block: htmx drops every <script> element
    of a swapped fragment (`allowScriptTags` is off), so a live refresh would lose it."""
    return json.dumps(timeline_data(plan, milestones))
