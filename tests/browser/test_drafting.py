"""The seller pastes a call transcript, unticks one proposed item, corrects a date and
accepts: the plan has what was kept, nothing else."""

import re

from playwright.sync_api import expect

from plans.management.commands.seed_demo import DEMO_PASSWORD

from .conftest import sign_in

TRANSCRIPT = """\
[00:00:04] Sam Seller: Thanks for joining. Where are you on the process?
[00:00:11] Priya Raman: We'd like a reference call with one of your healthcare customers first.
[00:00:30] Priya Raman: Then a two-week pilot with the claims team, Jordan Lee runs it.
[00:01:02] Priya Raman: Our board meets on the 3rd, and the CFO wants the business case before that.
[00:01:40] Sam Seller: Understood, I'll set up the reference call by Friday.
"""


def test_seller_drafts_steps_from_a_transcript(page, transactional_db):
    from django.core.management import call_command

    from plans.models import Milestone, Plan

    call_command("seed_demo", quiet=True)
    plan = Plan.objects.filter(archived_at=None, status=Plan.Status.SHARED).order_by("id").first()
    before = set(plan.milestones.values_list("title", flat=True))
    sign_in(page, "seller@example.com", DEMO_PASSWORD)
    page.goto(plan.get_absolute_url())
    page.get_by_role("button", name="Draft from a conversation").click()

    page.get_by_label("Day of the conversation").fill("2026-10-14")
    page.get_by_label("Transcript, notes or email thread").fill(TRANSCRIPT)
    page.get_by_role("button", name="Read the conversation").click()

    expect(page.get_by_role("heading", name="Review what the conversation says")).to_be_visible()
    # Every item shows the sentence it came from.
    pilot_item = page.get_by_role("group", name="Keep step: Pilot")
    expect(pilot_item.get_by_role("blockquote")).to_contain_text("a two-week pilot with the claims")
    page.get_by_role("checkbox", name="Keep step: Board approval").uncheck()
    page.get_by_label("Due date of Customer reference call").fill("2026-10-21")
    page.get_by_role("button", name="Accept into the plan").click()

    expect(
        page.get_by_text(re.compile(r"From the conversation: \d+ step\(s\) added"))
    ).to_be_visible()
    titles = set(plan.milestones.values_list("title", flat=True))
    added = titles - before
    assert "Customer reference call" in added and "Pilot" in added
    assert "Board approval" not in added
    reference = plan.milestones.get(title="Customer reference call")
    assert reference.due_date.isoformat() == "2026-10-21"
    pilot = Milestone.objects.get(plan=plan, title="Pilot")
    assert pilot.duration_days == 10 and pilot.buyer_owner.name == "Jordan Lee"
    assert page.csp_errors == []
