"""The room's first screen (issue: the room as the buyer's home): what the visiting buyer
owes first — their own open steps, overdue first, each with "Done" and "Need more time" —
then the plan's progress per side and its health in plain words."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from plans import fragments, live
from plans.models import Milestone, Plan
from plans.services import set_milestone_status, update_milestone
from stakeholders.actors import Actor
from tests.conftest import open_room
from tests.factories import add_buyer


def room(client, deal) -> str:
    return client.get(reverse("room", kwargs={"deal_id": deal.public_id})).content.decode()


def first_screen(html: str) -> str:
    """From the title to the end of the progress section."""
    return html[html.index('id="room-title"') : html.index('class="side-progress"')]


def move(step, deal, due_date):
    update_milestone(
        step,
        actor=Actor.seller(deal.owner),
        expected_version=None,
        reason="The buyer asked for it",
        due_date=due_date,
    )


def owned_by(stakeholder):
    return Milestone.objects.filter(buyer_owner=stakeholder).order_by("phase", "position")


def test_the_buyers_own_open_steps_come_first_overdue_first(dana_client, acme_deal, dana):
    # Every buyer-side step dana's: the last of them overdue, the first done.
    Milestone.objects.filter(plan__deal=acme_deal, buyer_owner__isnull=False).update(
        buyer_owner=dana
    )
    steps = list(owned_by(dana))
    assert len(steps) >= 3
    today = timezone.localdate()
    move(steps[-1], acme_deal, today - timedelta(3))
    set_milestone_status(steps[0], actor=Actor.buyer(dana), status="done")

    html = room(dana_client, acme_deal)
    screen = first_screen(html)

    assert screen.index("Your next steps") < screen.index("Plan progress")
    titles = [step.title for step in steps[1:]]
    positions = [screen.index(f"<strong>{title}</strong>") for title in titles]
    assert positions[-1] == min(positions), "the overdue step first"
    assert "3 days overdue" in screen
    assert f"<strong>{steps[0].title}</strong>" not in screen, "done steps are not owed"
    for title in titles:
        assert f'aria-label="Done: {title}"' in screen
        assert f'aria-label="Need more time: {title}"' in screen
    assert html.index("Your next steps") < html.index('id="milestones-heading"')


def test_another_buyers_steps_are_not_mine(client, acme_deal, dana):
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    theirs = [step.title for step in owned_by(eve) if step.buyer_owner_id != dana.pk]
    assert theirs
    open_room(client, dana)

    screen = first_screen(room(client, acme_deal))

    for title in theirs:
        assert f"Done: {title}" not in screen


def test_a_buyer_who_owes_nothing_is_told_so(client, acme_deal):
    newcomer = add_buyer(acme_deal, name="Nina New", email="nina@initech.test", role="buyer_other")
    open_room(client, newcomer)

    screen = first_screen(room(client, acme_deal))

    assert "Nothing is waiting on you." in screen
    assert 'aria-label="Done:' not in screen


def test_progress_per_side_and_health_in_plain_words(dana_client, acme_deal, dana):
    plan = Plan.objects.get(deal=acme_deal)
    shared = list(Milestone.objects.filter(plan=plan, visibility="shared"))
    buyer_side = [m for m in shared if m.buyer_owner_id]
    seller_side = [m for m in shared if not m.buyer_owner_id and m.created_by_side == "seller"]
    set_milestone_status(buyer_side[0], actor=Actor.buyer(dana), status="done")
    move(buyer_side[1], acme_deal, timezone.localdate() - timedelta(1))

    html = room(dana_client, acme_deal)

    account, seller = acme_deal.account_name, "Acme Software"
    assert f"{account}: 1 of {len(buyer_side)} steps done" in html
    assert f"{seller}: 0 of {len(seller_side)} steps done" in html
    assert '<span class="badge badge-warn" id="room-health">At risk</span>' in html
    assert "1 step(s) overdue" in html
    days = (plan.target_signature_date - timezone.localdate()).days
    assert f"{days} days to the target signature date" in html


def test_the_pushed_header_draws_each_buyers_steps_for_them_alone(acme_deal, dana):
    """The header pushed to every buyer's page: each buyer's steps hidden and marked with
    their key (static/js/live.js shows them on that buyer's page)."""
    plan = Plan.objects.get(deal=acme_deal)
    eve = acme_deal.stakeholders.get(email="eve@initech.test")

    header = dict(fragments.render(str(plan.public_id), live.BUYER, ["plan"]))["room-header"]

    for stakeholder in (dana, eve):
        marked = f'<div class="viewer-only" data-for="s{stakeholder.public_id}" hidden>'
        assert marked in header
        block = header[header.index(marked) :]
        block = block[: block.index("</ol>")]
        for step in owned_by(stakeholder):
            if not step.is_closed:
                assert f"Done: {step.title}" in block


def test_done_from_the_first_screen_marks_the_step_done(dana_client, acme_deal, dana):
    step = owned_by(dana).first()
    url = reverse(
        "room-milestone-status",
        kwargs={"deal_id": acme_deal.public_id, "milestone_id": step.public_id},
    )
    assert f'action="{url}"' in first_screen(room(dana_client, acme_deal))

    response = dana_client.post(url, {"status": "done"})

    assert response.status_code == 302
    step.refresh_from_db()
    assert step.status == "done"
    assert f"Done: {step.title}" not in first_screen(room(dana_client, acme_deal))


def test_whats_new_since_the_last_visit(client, acme_deal, dana):
    from django.test import Client

    open_room(client, dana)
    first = room(client, acme_deal)
    assert "What's new since your last visit" not in first, "nothing to compare on a first visit"

    # Between the visits: the seller moves a step, dana checks one off herself.
    steps = list(owned_by(dana))
    move(steps[0], acme_deal, timezone.localdate() + timedelta(30))
    set_milestone_status(steps[1], actor=Actor.buyer(dana), status="done")

    later = Client()
    open_room(later, dana)
    html = room(later, acme_deal)

    news = html[html.index("What's new since your last visit") :]
    news = news[: news.index("</section>")]
    assert steps[0].title in news
    assert "Your last visit:" in news
    assert steps[1].title not in news, "not her own check-off"
    # The first browser's visit is unchanged: its page is its own.
    assert "What's new since your last visit" not in room(client, acme_deal)


def test_nothing_new_is_said_plainly(client, acme_deal, dana):
    from django.test import Client

    open_room(client, dana)
    later = Client()
    open_room(later, dana)

    html = room(later, acme_deal)

    assert "What's new since your last visit" in html
    assert "Nothing has changed since." in html


def test_the_sellers_welcome_note_and_video_open_the_room(alice_client, client, acme_deal, dana):
    url = reverse(
        "plans:plan-overview", kwargs={"org_slug": "acme", "deal_id": acme_deal.public_id}
    )
    note = "Welcome, Initech team!\nEverything we agreed is here. <script>alert(1)</script>"
    response = alice_client.post(
        url,
        {
            "business_outcome": "",
            "success_criteria": "",
            "review_weekday": "0",
            "welcome_note": note,
            "welcome_video_url": "https://video.example.test/intro",
        },
    )
    assert response.status_code == 302
    open_room(client, dana)

    screen = first_screen(room(client, acme_deal))

    assert "Welcome, Initech team!<br>Everything we agreed is here." in screen
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in screen and "<script>alert" not in screen
    assert '<a href="https://video.example.test/intro" rel="noopener noreferrer"' in screen
    assert f"— {acme_deal.owner.display_name}, Acme Software" in screen
    assert screen.index("Welcome, Initech team!") < screen.index("Your next steps")


def test_a_welcome_video_must_be_an_https_address(alice_client, acme_deal):
    url = reverse(
        "plans:plan-overview", kwargs={"org_slug": "acme", "deal_id": acme_deal.public_id}
    )
    plan = Plan.objects.get(deal=acme_deal)
    for address in ("javascript:alert(1)", "http://video.example.test/intro", "data:text/html,x"):
        response = alice_client.post(
            url,
            {"review_weekday": "0", "welcome_note": "Hi", "welcome_video_url": address},
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 422, address
        assert b"https://" in response.content
        plan.refresh_from_db()
        assert (plan.welcome_note, plan.welcome_video_url) == ("", "")


def test_no_welcome_no_section(dana_client, acme_deal):
    assert 'class="welcome"' not in room(dana_client, acme_deal)


def test_an_archived_plan_is_read_only_in_the_room(dana_client, acme_deal, dana):
    """Archived: a banner, no form anywhere in the room, and every write refused (409),
    nothing changed."""
    from plans.services import archive_plan

    plan = Plan.objects.get(deal=acme_deal)
    step = owned_by(dana).first()
    archive_plan(plan, actor=Actor.seller(acme_deal.owner), archived=True)

    html = room(dana_client, acme_deal)
    assert "This plan was archived on" in html
    body = html[html.index('id="live"') :]
    assert "<form" not in body
    assert step.title in body

    def url(name, **kwargs):
        return reverse(name, kwargs={"deal_id": acme_deal.public_id, **kwargs})

    on_step = {"milestone_id": step.public_id}
    writes = [
        (url("room-milestone-status", **on_step), {"status": "done"}),
        (url("room-propose", **on_step), {"proposed_date": "2030-01-01", "reason": "Later"}),
        (url("room-comment", **on_step), {"body": "Still there?"}),
        (url("room-milestone-add"), {"add-title": "Ours", "add-due_date": "2030-01-01"}),
        (url("room-person-add"), {"sh-name": "Pat", "sh-email": "pat@initech.test"}),
        (
            url("room-person-edit", stakeholder_id=dana.public_id),
            {f"sh-{dana.public_id}-name": "Dana B"},
        ),
    ]
    for path, data in writes:
        response = dana_client.post(path, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 409, path
        assert b"archived" in response.content
    step.refresh_from_db()
    dana.refresh_from_db()
    assert (step.status, dana.name) == ("not_started", "Dana Buyer")
    assert not step.comments.exists() and not step.proposals.exists()
    assert Milestone.objects.filter(plan=plan, title="Ours").count() == 0


def test_archiving_pushes_the_rooms_table_and_people(acme_deal, monkeypatch):
    """The open rooms lose their forms at once: the archive redraws the table and people."""
    from plans import receivers

    plan = Plan.objects.get(deal=acme_deal)
    published = []
    monkeypatch.setattr(live, "publish", lambda key, events, internal: published.append(events))

    receivers.publish_live(None, plan=plan, verb="plan_archived")

    assert {"plan", "structure", "stakeholders"} <= set(published[0])


def test_an_archived_plan_is_neither_signed_nor_declined(client, acme_deal):
    """The room offers no "Sign plan" once archived, and signing or declining is refused in
    the domain itself (nothing recorded), from the room as from the seller's page."""
    from plans import evidence
    from plans.models import SignatureEvent
    from plans.services import archive_plan
    from plans.signing import signatures

    plan = Plan.objects.get(deal=acme_deal)
    eve = acme_deal.stakeholders.get(email="eve@initech.test")
    open_room(client, eve)
    plan.refresh_from_db()
    signatures.request_signatures(plan, actor=Actor.seller(acme_deal.owner))
    archive_plan(plan, actor=Actor.seller(acme_deal.owner), archived=True)
    before = SignatureEvent.objects.count()

    assert "Sign plan" not in room(client, acme_deal)
    url = reverse("room-sign", kwargs={"deal_id": acme_deal.public_id})
    data = {"typed_name": eve.name, "consent": "on", "content_hash": evidence.content_hash(plan)}
    refused = client.post(url, data)
    assert refused.status_code == 422
    assert b"archived" in refused.content
    declined = client.post(
        reverse("room-decline", kwargs={"deal_id": acme_deal.public_id}), {"reason": "No"}
    )
    assert declined.status_code == 302
    assert SignatureEvent.objects.count() == before
