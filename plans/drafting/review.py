"""The review of a drafted conversation (plans/drafting/extract.py): what the page shows —
people, steps matched to the plan's own, the buyer's dates, outcome and criteria, each
with its sentence — and the seller's choices read back from its form, with a message next
to every field that cannot be used. Accepting applies them (apply.py). The plan page's
"Draft from a conversation" (plans/drafting_views.py) and the plan's creation use it.
"""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from deals.models import Membership
from plans.models import Milestone, Plan
from stakeholders.actors import Actor
from stakeholders.models import ROLE_CHOICES, Side, Stakeholder, side_of_role

from . import apply as applying
from .extract import Context, Draft, Person, extract, type_of
from .lexicon import load

TARGET_KINDS = ("target_signature", "fiscal_year_end", "deadline")
ANCHOR_LABELS = {
    "target_signature": "Wants to sign by",
    "fiscal_year_end": "Fiscal year or budget ends",
    "go_live": "Needs to be live by",
    "deadline": "Hard date",
}


def context_for(plan: Plan, call_date: date, *, author: str = "") -> Context:
    """The deal's people and companies, for the extractor."""
    people = [
        Person(
            name=s.name,
            side=s.side,
            title=s.title,
            role=s.role,
            email=s.email or "",
            key=str(s.public_id),
        )
        for s in Stakeholder.objects.filter(deal_id=plan.deal_id)
    ]
    # The workspace's own people are the seller's side (they are not offered as new people).
    on_deal = {p.email.casefold() for p in people if p.email}
    for member in Membership.objects.filter(organization_id=plan.organization_id).select_related(
        "user"
    ):
        user = member.user
        if user.email.casefold() not in on_deal and user.display_name:
            people.append(
                Person(
                    name=user.display_name, side=Side.SELLER, email=user.email, key=f"u:{user.pk}"
                )
            )
    return Context(
        call_date=call_date,
        day_first=not plan.organization.time_zone.startswith("America/"),
        people=people,
        seller_company=plan.organization.name,
        buyer_company=plan.deal.account_name,
        author=author,
    )


def today_of(plan: Plan) -> date:
    return timezone.now().astimezone(ZoneInfo(plan.organization.time_zone)).date()


def parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def review(request, plan: Plan, base: dict, *, text: str, call_date: date, source: str):
    """The review of `text` — or, for the review form's `apply`, the plan changed."""
    draft = extract(text, context_for(plan, call_date, author=request.user.display_name))
    shown = _review(plan, draft)
    errors: dict[str, str] = {}
    if request.POST.get("action") == "apply":
        choices, errors = _choices(request.POST, plan, draft, shown)
        if not errors:
            choices.call_date, choices.source = call_date, source
            if request.POST.get("keep") == "on":
                choices.keep_text = text
            counts = applying.apply(plan, choices, actor=Actor.seller(request.user))
            messages.success(
                request,
                f"From the conversation: {counts['added']} step(s) added, "
                f"{counts['changed']} changed"
                + (f", {counts['people']} new people" if counts["people"] else "")
                + ".",
            )
            return redirect(plan.get_absolute_url())
        _keep_posted(shown, request.POST)
        _place_errors(shown, errors)
    context = {
        **base,
        "text": text,
        "source": source,
        "call_date": call_date,
        "review": shown,
        "errors": errors,
        "keep": request.POST.get("keep") == "on",
        "roles": ROLE_CHOICES,
    }
    return render(request, "plans/plan_draft_review.html", context, status=422 if errors else 200)


# --- The review -------------------------------------------------------------------------------


def _review(plan: Plan, draft: Draft) -> dict:
    """What the review page shows: people (known and new), steps with the plan's step each
    would update, anchors, outcome and criteria."""
    stakeholders = list(Stakeholder.objects.filter(deal_id=plan.deal_id).order_by("side", "name"))
    by_key = {str(s.public_id): s for s in stakeholders}
    new_people = [p for p in draft.people if not p.key]  # "u:…": the workspace's members
    role_only = []
    for step in draft.steps:
        if step.owner_title and not step.owner and step.owner_title not in role_only:
            role_only.append(step.owner_title)
    for title in role_only:
        side = next(s.side for s in draft.steps if s.owner_title == title)
        new_people.append(Person(name=title, side=side, title=title, quote="", speaker=""))
    people = []
    for index, person in enumerate(new_people):
        role = _role_for(person)
        people.append(
            {
                "index": index,
                "name": person.name,
                "title": person.title,
                "side": person.side,
                "role": role,
                "quote": person.quote,
                "speaker": person.speaker,
                "take": True,
            }
        )
    steps_by_type = {}
    for milestone in Milestone.objects.filter(plan=plan).order_by("phase", "position"):
        steps_by_type.setdefault(type_of(milestone.title), milestone)
    steps = []
    for item in draft.steps:
        owner = ""
        if item.owner:
            match = next((p for p in draft.people if p.name == item.owner), None)
            if match and match.key and match.key in by_key:
                owner = f"p:{match.key}"
            else:
                owner = next((f"n:{p['index']}" for p in people if p["name"] == item.owner), "")
        elif item.owner_title:
            owner = next((f"n:{p['index']}" for p in people if p["name"] == item.owner_title), "")
        existing = steps_by_type.get(item.type)
        steps.append(
            {
                "type": item.type,
                "title": existing.title if existing else item.title,
                "quote": item.quote,
                "speaker": item.speaker,
                "owner": owner,
                "owner_said": item.owner or item.owner_title,
                "duration": item.duration_days or "",
                "duration_text": item.duration_text,
                "date": item.date.isoformat() if item.date else "",
                "date_text": item.date_text,
                "vague": item.vague,
                "risks": item.risks,
                "existing": existing,
                "target": str(existing.public_id) if existing else "new",
                "take": True,
            }
        )
    anchors = [
        {
            "kind": a.kind,
            "label": ANCHOR_LABELS[a.kind],
            "date": a.date.isoformat() if a.date else "",
            "vague": a.vague,
            "date_text": a.date_text,
            "quote": a.quote,
            "speaker": a.speaker,
            "take": False,
        }
        for a in draft.anchors
    ]
    first_target = next(
        (a for a in anchors if a["kind"] in TARGET_KINDS and a["date"] and not a["vague"]), None
    )
    if first_target:
        first_target["take"] = True
    outcomes = [s.quote for s in draft.of_kind("outcome")]
    criteria = [{"text": s.quote, "take": True} for s in draft.of_kind("criteria")]
    owner_options = [("", "No one yet")]
    owner_options += [
        (f"p:{s.public_id}", f"{s.name} ({s.get_side_display().lower()})") for s in stakeholders
    ]
    owner_options += [(f"n:{p['index']}", f"{p['name']} (new)") for p in people]
    target_options = [("new", "Add as a new step")]
    target_options += [(str(m.public_id), f"Update “{m.title}”") for m in steps_by_type.values()]
    return {
        "owner_options": owner_options,
        "target_options": target_options,
        "people": people,
        "known": [by_key[p.key] for p in draft.people if p.key and p.key in by_key],
        "stakeholders": stakeholders,
        "steps": steps,
        "anchors": anchors,
        "outcomes": outcomes,
        "outcome": outcomes[0] if outcomes and not plan.business_outcome else "",
        "criteria": criteria,
        "risks": [s for s in draft.of_kind("risk") if not s.step],
        "plan_steps": list(steps_by_type.values()),
    }


def _role_for(person: Person) -> str:
    if person.role:
        return person.role
    return "buyer_other" if person.side == Side.BUYER else "seller_other"


def _keep_posted(review: dict, post) -> None:
    """On a refused accept, the review shows what the seller had chosen and typed."""
    for person in review["people"]:
        prefix = f"person-{person['index']}-"
        person["take"] = post.get(prefix + "take") == "on"
        for name in ("name", "title", "role"):
            person[name] = post.get(prefix + name, person[name])
    for step in review["steps"]:
        prefix = f"step-{step['type']}-"
        step["take"] = post.get(prefix + "take") == "on"
        for name in ("title", "owner", "duration", "date", "target"):
            step[name] = post.get(prefix + name, step[name])
    for anchor in review["anchors"]:
        prefix = f"anchor-{anchor['kind']}-"
        anchor["take"] = post.get(prefix + "take") == "on"
        anchor["date"] = post.get(prefix + "date", anchor["date"])
    review["outcome"] = post.get("outcome", review["outcome"])
    for index, criterion in enumerate(review["criteria"]):
        criterion["take"] = post.get(f"criterion-{index}-take") == "on"
        criterion["text"] = post.get(f"criterion-{index}-text", criterion["text"])


def _place_errors(review: dict, errors: dict) -> None:
    """Each message next to its item."""
    for person in review["people"]:
        person["errors"] = [
            m for k, m in errors.items() if k.startswith(f"person-{person['index']}-")
        ]
    for step in review["steps"]:
        step["errors"] = [m for k, m in errors.items() if k.startswith(f"step-{step['type']}-")]
    for anchor in review["anchors"]:
        anchor["errors"] = [
            m for k, m in errors.items() if k.startswith(f"anchor-{anchor['kind']}-")
        ]


def _choices(post, plan: Plan, draft: Draft, review: dict):
    """The seller's choices from the review form, or the errors next to each field."""
    errors: dict[str, str] = {}
    roles = {value for value, _label in ROLE_CHOICES}
    people: dict[str, applying.NewPerson] = {}
    for person in review["people"]:
        prefix = f"person-{person['index']}-"
        if post.get(prefix + "take") != "on":
            continue
        name = post.get(prefix + "name", "").strip()
        role = post.get(prefix + "role", "")
        if not name:
            errors[prefix + "name"] = "Give their name, or untick them."
        elif len(name) > 150:
            errors[prefix + "name"] = "At most 150 characters."
        if role not in roles:
            errors[prefix + "role"] = "Choose a role."
        title = post.get(prefix + "title", "").strip()[:150]
        side = side_of_role(role) if role in roles else Side.BUYER
        people[f"n:{person['index']}"] = applying.NewPerson(
            name=name, side=side, title=title, role=role
        )
    stakeholders = {f"p:{s.public_id}": s for s in review["stakeholders"]}
    existing = {str(m.public_id): m for m in review["plan_steps"]}
    steps, taken_targets = [], set()
    by_type = {item.type: item for item in draft.steps}
    for step in review["steps"]:
        prefix = f"step-{step['type']}-"
        if post.get(prefix + "take") != "on":
            continue
        title = post.get(prefix + "title", "").strip()
        if not title:
            errors[prefix + "title"] = "Give the step a title, or untick it."
        elif len(title) > 200:
            errors[prefix + "title"] = "At most 200 characters."
        owner_value = post.get(prefix + "owner", "")
        owner = None
        if owner_value in stakeholders:
            owner = stakeholders[owner_value]
        elif owner_value in people:
            owner = people[owner_value]
        elif owner_value.startswith("n:"):
            errors[prefix + "owner"] = (
                "This person is not added: tick them above or choose another owner."
            )
        elif owner_value:
            errors[prefix + "owner"] = "Choose an owner from the list."
        duration = None
        raw_duration = post.get(prefix + "duration", "").strip()
        if raw_duration:
            if re.fullmatch(r"\d{1,3}", raw_duration) and 1 <= int(raw_duration) <= 260:
                duration = int(raw_duration)
            else:
                errors[prefix + "duration"] = "A number of business days from 1 to 260."
        due = None
        raw_date = post.get(prefix + "date", "").strip()
        if raw_date:
            due = parse_date(raw_date)
            if due is None:
                errors[prefix + "date"] = "A date such as 2027-03-14."
        target = post.get(prefix + "target", "new")
        milestone = existing.get(target)
        if target != "new" and milestone is None:
            errors[prefix + "target"] = "Choose a step of this plan or “Add as a new step”."
        if milestone is not None:
            if milestone.pk in taken_targets:
                errors[prefix + "target"] = "Two items update this step: choose another for one."
            taken_targets.add(milestone.pk)
        item = by_type[step["type"]]
        steps.append(
            applying.StepChoice(
                type=step["type"],
                title=title[:200],
                quote=item.quote,
                owner=owner,
                duration_days=duration,
                due_date=due,
                notes=[f"Said on the call: “{risk}”" for risk in item.risks],
                existing=milestone,
            )
        )
    target_date = None
    taken = [a for a in review["anchors"] if post.get(f"anchor-{a['kind']}-take") == "on"]
    for anchor in taken:
        prefix = f"anchor-{anchor['kind']}-"
        day = parse_date(post.get(prefix + "date", ""))
        if day is None:
            errors[prefix + "date"] = "A date such as 2027-03-14."
            continue
        if anchor["kind"] == "go_live":
            go_live = next((s for s in steps if s.type == "go_live"), None)
            if go_live is None:
                steps.append(
                    applying.StepChoice(
                        type="go_live",
                        title=load().steps["go_live"].title,
                        quote=anchor["quote"],
                        owner=None,
                        duration_days=None,
                        due_date=day,
                    )
                )
            elif go_live.due_date is None:
                go_live.due_date = day
            continue
        if target_date is not None:
            errors[prefix + "take"] = "Only one date can be the target signature date."
        target_date = day
    outcome = post.get("outcome", "").strip()
    if len(outcome) > 300:
        errors["outcome"] = "At most 300 characters."
    criteria = []
    for index, _criterion in enumerate(review["criteria"]):
        if post.get(f"criterion-{index}-take") == "on":
            text = post.get(f"criterion-{index}-text", "").strip()
            if text:
                criteria.append(text[:300])
    chosen = applying.Choices(
        steps=steps,
        people=list(people.values()),
        target_date=target_date,
        outcome=outcome if post.get("outcome-take") == "on" else "",
        criteria=criteria,
    )
    return chosen, errors
