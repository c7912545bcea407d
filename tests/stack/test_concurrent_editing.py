"""Concurrent editing on the production topology: two sellers and one buyer edit the same
steps through the pages' own endpoints for 60 s, as their browsers would.

Each seller opens a step's edit form (htmx GET: the row as a form, carrying the version
they saw), types for a moment, and saves the whole form with a title of their own; on a
409 (the step changed meanwhile) they reopen the form and try again. The buyer meanwhile
checks the same steps off and on again and comments on them. Afterwards:

- no server error, and every answer is a 2xx or a 409 (no other refusal);
- every accepted edit is in the database and the activity feed: each accepted title is
  recorded once in the feed, no two accepted edits of a step started from the same version
  (that would be a lost update), and a step's title is the one of its last accepted edit;
- every buyer status change and comment is in the feed and the database.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter, defaultdict

from .clients import Answer, form_values, open_room, query, sign_in
from .test_redis_outage import initech

SECONDS = 60
# "Typing": the time between opening a form and saving it.
THINK = (0.05, 0.4)


class Seller(threading.Thread):
    def __init__(self, person, name: str, steps: list[str], until: float):
        super().__init__(daemon=True)
        self.person, self.name, self.steps, self.until = person, name, steps, until
        self.answers: list[Answer] = []
        # (step, version the form carried, title saved) of every accepted edit.
        self.accepted: list[tuple[str, int, str]] = []
        self.refused = 0
        self.random = random.Random(name)

    def run(self):
        edit = 0
        while time.monotonic() < self.until:
            step = self.random.choice(self.steps)
            path = f"/o/acme/milestones/{step}/edit/"
            form = self.person.get(path, htmx=True)
            self.answers.append(form)
            if form.status != 200:
                continue
            values = form_values(form.body)
            edit += 1
            title = f"{self.name} edit {edit}"
            values["title"] = title
            time.sleep(self.random.uniform(*THINK))
            saved = self.person.post(path, values, htmx=True)
            self.answers.append(saved)
            if 200 <= saved.status < 300:
                self.accepted.append((step, int(values["version"]), title))
            elif saved.status == 409:
                self.refused += 1


class Buyer(threading.Thread):
    def __init__(self, person, deal: str, steps: list[str], until: float):
        super().__init__(daemon=True)
        self.person, self.deal, self.steps, self.until = person, deal, steps, until
        self.answers: list[Answer] = []
        self.statuses: dict[str, list[str]] = defaultdict(list)
        self.comments: list[tuple[str, str]] = []

    def run(self):
        turn = 0
        while time.monotonic() < self.until:
            step = self.steps[turn % len(self.steps)]
            turn += 1
            if turn % 3 == 0:
                body = f"Buyer note {turn}"
                answer = self.person.post(
                    f"/room/{self.deal}/steps/{step}/comment/", {"body": body}, htmx=True
                )
                if 200 <= answer.status < 300:
                    self.comments.append((step, body))
            else:
                current = (self.statuses[step] or ["in_progress"])[-1]
                status = "in_progress" if current == "done" else "done"
                answer = self.person.post(
                    f"/room/{self.deal}/steps/{step}/status/", {"status": status}, htmx=True
                )
                if 200 <= answer.status < 300:
                    self.statuses[step].append(status)
            self.answers.append(answer)
            time.sleep(0.1)


def test_two_sellers_and_a_buyer_editing_the_same_steps(demo_stack):
    stack = demo_stack
    ids = initech(stack.database_url)
    deal, plan = ids["deal"], ids["plan"]
    steps = ids["buyer_steps"]
    # The buyer's steps start in progress, so that each of the buyer's toggles is a change.
    buyer = open_room(stack.url, stack.room_url)
    for step in steps:
        answer = buyer.post(f"/room/{deal}/steps/{step}/status/", {"status": "in_progress"})
        assert answer.status in (200, 302), answer.body[:300]
    (feed_before,) = query(
        stack.database_url,
        "SELECT coalesce(max(a.id), 0) FROM plans_activity a JOIN plans_plan p"
        " ON p.id = a.plan_id WHERE p.public_id = %s",
        (plan,),
    )[0]

    until = time.monotonic() + SECONDS
    people = [
        Seller(sign_in(stack.url, "seller@example.com"), "Sam", steps, until),
        Seller(sign_in(stack.url, "admin@example.com"), "Ada", steps, until),
        Buyer(buyer, deal, steps, until),
    ]
    for person in people:
        person.start()
    for person in people:
        person.join(SECONDS + 60)
        assert not person.is_alive()
    sellers, room = people[:2], people[2]

    answers = [answer for person in people for answer in person.answers]
    statuses = Counter(answer.status for answer in answers)
    assert all(200 <= status < 300 or status == 409 for status in statuses), statuses
    refusals = sum(seller.refused for seller in sellers)
    accepted = [edit for seller in sellers for edit in seller.accepted]
    # Enough happened for the check to mean something: edits of both sides, and conflicts.
    assert len(accepted) >= 20 and refusals >= 1, (len(accepted), refusals)
    assert sum(len(changes) for changes in room.statuses.values()) >= 20

    feed = query(
        stack.database_url,
        "SELECT a.verb, a.summary, a.actor_name, m.public_id::text FROM plans_activity a"
        " LEFT JOIN plans_milestone m ON m.id = a.milestone_id"
        " WHERE a.plan_id = (SELECT id FROM plans_plan WHERE public_id = %s) AND a.id > %s",
        (plan, feed_before),
    )
    edited = Counter(
        re.match(r"edited “(.*)” \(", summary).group(1)
        for verb, summary, _, _ in feed
        if verb == "milestone_edited"
    )
    titles = [title for _, _, title in accepted]
    assert edited == Counter(titles), "every accepted edit once in the feed, and nothing else"

    rows = dict(
        query(
            stack.database_url,
            "SELECT public_id::text, title FROM plans_milestone WHERE public_id::text = ANY(%s)",
            (steps,),
        )
    )
    for step in steps:
        versions = [version for edited_step, version, _ in accepted if edited_step == step]
        assert len(versions) == len(set(versions)), f"two edits of {step} from one version"
        last = max((edit for edit in accepted if edit[0] == step), key=lambda edit: edit[1])
        assert rows[step] == last[2]

    # The buyer's side: each status change and comment in the feed, the last status saved.
    status_verbs = {"milestone_completed", "milestone_reopened", "milestone_status"}
    for step in steps:
        changes = room.statuses[step]
        in_feed = [m for verb, _, _, m in feed if verb in status_verbs and m == step]
        assert len(in_feed) == len(changes), step
        ((saved,),) = query(
            stack.database_url,
            "SELECT status FROM plans_milestone WHERE public_id::text = %s",
            (step,),
        )
        assert saved == changes[-1]
    commented = Counter(m for verb, _, _, m in feed if verb == "commented")
    assert commented == Counter(step for step, _ in room.comments)
    bodies = {
        body
        for (body,) in query(
            stack.database_url,
            "SELECT c.body FROM plans_comment c JOIN plans_milestone m ON m.id = c.milestone_id"
            " WHERE m.public_id::text = ANY(%s)",
            (steps,),
        )
    }
    assert {body for _, body in room.comments} <= bodies
