"""Replies to a buyer's digest (notifications/inbound.py): the digest carries a reply
address; a reply asking for time becomes a comment and a pending date proposal on the
buyer's own step; forged, foreign, automatic or misaddressed mail changes nothing."""

from datetime import date

import pytest
import time_machine
from django.core.management import call_command

from notifications import inbound
from plans.models import Comment, DateProposal, Milestone, Plan, Visibility
from stakeholders.models import Stakeholder

from .conftest import Room, outbox_to, run_sweep, utc

TUESDAY = date(2025, 3, 11)
SECRET = "inbound-secret-for-tests-0123456789"


@pytest.fixture
def receiving(settings):
    settings.INBOUND_EMAIL_DOMAIN = "reply.tandem.test"
    settings.INBOUND_EMAIL_SECRET = SECRET


def reply(to: str, sender: str, body: str, **headers) -> bytes:
    lines = [f"From: Champion <{sender}>", f"To: {to}", "Subject: Re: Your steps this week"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    quoted = (
        "On Mon, Mar 10, 2025 at 9:00 AM Tandem <tandem@localhost> wrote:\n"
        "> Legal review is due 11 Mar"
    )
    return ("\n".join(lines) + "\n\n" + body + "\n\n" + quoted + "\n").encode()


def post(client, raw: bytes, secret=SECRET):
    return client.post(
        "/inbound/email/", raw, content_type="message/rfc822", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )


@pytest.fixture
def room(la, receiving):
    with time_machine.travel(utc(2025, 3, 10, 16, 0), tick=False):
        room = Room(*la)
        room.legal = room.step("Legal redline MSA", TUESDAY)
        room.security = room.step("Security questionnaire", TUESDAY)
        room.internal = room.step("Deal desk approval", TUESDAY, visibility=Visibility.INTERNAL)
        run_sweep()
    return room


def address_of(room) -> str:
    mail = outbox_to(room.buyer.email)[0]
    return next(a for a in mail.reply_to if a.startswith("reply+"))


def test_the_digest_carries_a_reply_address_beside_the_sellers(room):
    mail = outbox_to(room.buyer.email)[0]
    assert mail.reply_to[0] == "ae@la.test"
    assert mail.reply_to[1] == inbound.reply_address(room.buyer)
    assert mail.reply_to[1].endswith("@reply.tandem.test")
    assert not any(a.startswith("reply+") for a in outbox_to("ae@la.test")[0].reply_to or [])


def test_a_reply_asking_for_time_comments_and_proposes_a_date(client, room):
    with time_machine.travel(utc(2025, 3, 11, 16, 0), tick=False):
        body = "Hi Sam, we'll need another week for legal, our counsel is out.\n\nThanks,\nChampion"
        response = post(client, reply(address_of(room), room.buyer.email, body))
    assert response.status_code == 200
    assert "proposed 2025-03-18" in response.content.decode()
    comment = Comment.objects.get(milestone=room.legal)
    assert comment.author_stakeholder == room.buyer
    assert "another week for legal" in comment.body
    assert "wrote:" not in comment.body  # the quoted digest is not part of it
    proposal = DateProposal.objects.get(milestone=room.legal)
    assert proposal.status == "pending" and proposal.proposed_date == date(2025, 3, 18)
    assert Milestone.objects.get(pk=room.legal.pk).due_date == TUESDAY  # the seller decides


def test_the_same_reply_through_the_mail_servers_pipe(room, monkeypatch, capsys):
    import io
    import sys

    raw = reply(
        address_of(room), room.buyer.email, "Security questionnaire: can we push it to the 21st?"
    )
    with time_machine.travel(utc(2025, 3, 11, 16, 0), tick=False):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
        call_command("receive_email")
    assert "proposed 2025-03-21" in capsys.readouterr().out
    assert DateProposal.objects.get().milestone == room.security


@pytest.mark.parametrize(
    ("change", "result"),
    [
        ("forged_sender", "sent by someone else"),
        ("bad_mac", "not valid"),
        ("automatic", "automatic message"),
        ("no_address", "no reply address"),
        ("email_changed", "not valid"),
        ("archived", "not open to the buyer"),
        ("draft", "not open to the buyer"),
    ],
)
def test_mail_that_is_not_the_buyers_reply_changes_nothing(client, room, change, result):
    address, sender, headers = address_of(room), room.buyer.email, {}
    if change == "forged_sender":
        sender = "mallory@evil.test"
    elif change == "bad_mac":
        address = address.replace(address.split(".")[1][:4], "0000", 1)
    elif change == "automatic":
        headers["Auto_Submitted"] = "auto-replied"
    elif change == "no_address":
        address = "ae@la.test"
    elif change == "email_changed":
        Stakeholder.objects.filter(pk=room.buyer.pk).update(email="new@initech.test")
        sender = "new@initech.test"
    elif change == "archived":
        Plan.objects.filter(pk=room.plan.pk).update(archived_at=utc(2025, 3, 11, 0, 0))
    elif change == "draft":
        Plan.objects.filter(pk=room.plan.pk).update(status=Plan.Status.DRAFT)
    raw = reply(address, sender, "We'll need another week for legal.", **headers)
    response = post(client, raw)
    assert response.status_code == 200
    assert result in response.content.decode()
    assert not Comment.objects.exists() and not DateProposal.objects.exists()


def test_the_endpoint_wants_the_gateways_secret(client, room, settings):
    raw = reply(address_of(room), room.buyer.email, "another week for legal")
    assert post(client, raw, secret="wrong").status_code == 403
    assert client.get("/inbound/email/").status_code == 405
    settings.INBOUND_EMAIL_DOMAIN = ""
    assert post(client, raw).status_code == 404
    assert not Comment.objects.exists()


def test_a_reply_never_reaches_an_internal_step(client, room):
    raw = reply(address_of(room), room.buyer.email, "Deal desk approval: another week please")
    post(client, raw)
    assert not Comment.objects.filter(milestone=room.internal).exists()
