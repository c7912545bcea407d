"""Row locks taken to edit a step or a plan do not block the foreign-key checks of rows that
merely point at it (PostgreSQL).

A step edit locks its row for the read-compare-write. Locked FOR UPDATE (and its plan with
it, through the join), it blocked every transaction that inserted a row pointing at the step
or the plan — a comment, an activity — at that one's commit (the foreign-key check takes a
KEY SHARE lock); two such transactions locking in opposite orders deadlocked: a buyer's
comment answered 503 while two sellers edited the same step (tests/stack/
test_concurrent_editing.py). The edit locks FOR NO KEY UPDATE, the row only.

Every write of a deal's plan moves the deal's revision (deals/revisions.py) in its
transaction, as its last statement: two writes of one deal take turns on the deal's row for
the few milliseconds between that statement and their commit — the second waits, neither
fails.
"""

import threading
import time

import pytest
from django.db import connection, transaction

from plans import services
from plans.models import Comment, Milestone
from stakeholders.actors import Actor
from tests.conftest import needs_postgres


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_a_comment_during_an_edit_of_its_step_waits_for_it_and_commits(acme_deal, alice):
    step = Milestone.objects.filter(plan__deal=acme_deal).first()
    editing = threading.Event()

    def edit():
        try:
            with transaction.atomic():
                services.update_milestone(
                    step, actor=Actor.seller(alice), expected_version=step.version, title="Edited"
                )
                editing.set()
                time.sleep(0.5)  # the edit's transaction is still open
        finally:
            connection.close()

    editor = threading.Thread(target=edit)
    editor.start()
    try:
        assert editing.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
        services.add_comment(step, actor=Actor.seller(alice), body="Legal has the redlines.")
    finally:
        editor.join(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")

    assert Comment.objects.filter(milestone=step, body="Legal has the redlines.").exists()
    assert Milestone.objects.get(pk=step.pk).title == "Edited"
