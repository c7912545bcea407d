"""The timeline's data reaches the chart as text: an escaped attribute, never markup, and
one that survives an htmx swap (htmx drops <script> elements, JSON ones included)."""

import json
import re
from html import unescape

from plans.models import Milestone
from tests.conftest import open_room
from tests.helpers import assert_fragment, htmx, url

TITLE = (
    '"\'></textarea><meta http-equiv="refresh" content="0;url=//127.0.0.1:9/p">'
    "<script>alert(1)</script><img src=x onerror=alert(2)>"
)


def timeline_tasks(html: str) -> list[dict]:
    assert "<script" not in html and "<meta" not in html and "<img" not in html
    value = re.search(r'<div class="gantt-target" data-timeline="([^"]*)"', html).group(1)
    return json.loads(unescape(value))["tasks"]


def test_timeline_region_carries_titles_as_escaped_json(alice_client, acme_deal):
    step = Milestone.objects.filter(plan__deal=acme_deal).first()
    Milestone.objects.filter(pk=step.pk).update(title=TITLE)

    response = alice_client.get(
        url("plans:plan-detail", deal_id=acme_deal.public_id), **htmx("timeline")
    )

    tasks = timeline_tasks(assert_fragment(response))
    assert tasks[0]["name"] == TITLE


def test_room_timeline_region_carries_titles_as_escaped_json(client, acme_deal, dana):
    step = Milestone.objects.filter(plan__deal=acme_deal).first()
    Milestone.objects.filter(pk=step.pk).update(title=TITLE)
    open_room(client, dana)

    response = client.get(f"/room/{acme_deal.public_id}/", **htmx("timeline"))

    tasks = timeline_tasks(assert_fragment(response))
    assert TITLE in [task["name"] for task in tasks]


def test_the_rooms_timeline_names_no_internal_step_a_shared_one_depends_on(client, acme_deal, dana):
    internal, shared = Milestone.objects.filter(plan__deal=acme_deal, due_date__isnull=False)[:2]
    Milestone.objects.filter(pk=internal.pk).update(visibility="internal")
    Milestone.objects.filter(pk=shared.pk).update(depends_on=internal)
    open_room(client, dana)

    response = client.get(f"/room/{acme_deal.public_id}/", **htmx("timeline"))

    assert str(internal.public_id) not in assert_fragment(response)
