"""Importing a plan from spreadsheets and pasted tables (plans/sheet_import.py): a corpus of
realistic tables with the plan each should give, every date format, owner matching, the
report of rows that cannot be imported, atomicity, idempotent re-import, the round trip
from an export, and the refusals (size, rows, formulas, macros, non-spreadsheets)."""

import io
import zipfile
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from plans import sheet_import, sheets
from plans.models import Milestone, Plan
from plans.sheet_import import ImportRefused, parse_date, preview, read_text
from stakeholders.actors import Actor
from stakeholders.models import Stakeholder
from tests.factories import make_deal, make_plan
from tests.helpers import url

D = date(2026, 12, 31)

# (name, table as text, expected rows: (title, buyer, seller, due date, status))
CORPUS = [
    (
        "the usual MAP template",
        "Milestone | Owner (Buyer / Seller) | Due Date | Status | Notes\n"
        "|---|---|---|---|---|\n"
        "| Security review | Dana Buyer / Alice Seller | 2026-12-31 | In progress | SIG lite |\n"
        "| Contract signature | Eve Economic / Alice Seller | 31 Dec 2026 | | |",
        [
            ("Security review", "Dana Buyer", "Alice Seller", D, "in_progress"),
            ("Contract signature", "Eve Economic", "Alice Seller", D, "not_started"),
        ],
    ),
    (
        "CSV with separate owner columns",
        "Step,Buyer owner,Seller owner,Due,Status\n"
        "Legal review,dana buyer,alice seller,12/31/2026,Done",
        [("Legal review", "Dana Buyer", "Alice Seller", D, "done")],
    ),
    (
        "semicolons and day-first dates",
        "Task;Customer owner;Deadline;State\nProcurement;Eve Economic;31.12.2026;blocked",
        [("Procurement", "Eve Economic", None, D, "blocked")],
    ),
    (
        "tabs from a document, emails as owners",
        "Action\tBuyer email\tSeller email\tTarget date\tStatus\n"
        "Pilot kickoff\tDANA@initech.test\talice@acme.test\tDec 31, 2026\t✓",
        [("Pilot kickoff", "Dana Buyer", "Alice Seller", D, "done")],
    ),
    (
        "initials and accents",
        "Milestone,Owner (buyer),Owner (seller),Date\n"
        "CFO approval,É. Económic,A. Seller,2026/12/31",
        [("CFO approval", "Eve Economic", "Alice Seller", D, None)],
    ),
    (
        "blank rows and a totals row",
        "Step,Due\n\nMutual NDA,2026-12-31\n,\nTotal,2\n",
        [("Mutual NDA", None, None, D, "not_started")],
    ),
    (
        "a title row above the header",
        "Initech × Acme — mutual action plan,,\n,,\nStep,Owner,When\n"
        "DPA signed,Dana Buyer / Alice Seller,31/12/2026",
        [("DPA signed", "Dana Buyer", "Alice Seller", D, None)],
    ),
    (
        "vague dates are undated, not guessed",
        "Step,Due\nBoard approval,end of Q3\nKickoff,TBD",
        [("Board approval", None, None, None, None), ("Kickoff", None, None, None, None)],
    ),
    (
        "statuses people write",
        "Task,Status\nA,complete\nB,WIP\nC,on hold\nD,n/a\nE,to do",
        [
            ("A", None, None, None, "done"),
            ("B", None, None, None, "in_progress"),
            ("C", None, None, None, "blocked"),
            ("D", None, None, None, "cancelled"),
            ("E", None, None, None, "not_started"),
        ],
    ),
    (
        "a notes column and a phase column",
        "Deliverable,Phase,Notes\nGo-live,Post-signature,Cutover weekend\nSOW,Close,Draft v2",
        [("Go-live", None, None, None, None), ("SOW", None, None, None, None)],
    ),
    (
        "the 12-step text template",
        "Step 1 — Discovery call recap\nOwner (buyer): Dana Buyer Owner (seller): Alice Seller "
        "Date: 2026-12-31\n\nStep 2 — Security questionnaire\nOwner (buyer): __ Owner (seller): "
        "Alice Seller Date: __",
        [
            ("Discovery call recap", "Dana Buyer", "Alice Seller", D, None),
            ("Security questionnaire", None, "Alice Seller", None, None),
        ],
    ),
    (
        "French month names",
        "Étape,Date\nSignature,31 décembre 2026",
        None,  # "Étape" is not a header we know: refused with a clear message
    ),
    (
        "Spanish dates under English headers",
        "Task,Due date\nFirma,31 diciembre 2026",
        [("Firma", None, None, D, None)],
    ),
    (
        "German dates",
        "Milestone,Target\nUnterschrift,31.12.26",
        [("Unterschrift", None, None, D, None)],
    ),
    (
        "Excel serial numbers as text",
        "Step,Date\nSignature,46387",
        [("Signature", None, None, D, None)],
    ),
    (
        "unknown people",
        "Step,Buyer owner,Seller owner\nIT review,Bill Lumbergh,Peter Gibbons",
        [("IT review", None, None, None, None)],
    ),
    (
        "a pipe table without borders",
        "Milestone | Owner | Due\nRedlines | Dana Buyer / Alice Seller | 2026-12-31",
        [("Redlines", "Dana Buyer", "Alice Seller", D, None)],
    ),
    (
        "quoted CSV with commas in cells",
        'Task,Notes,Due\n"Security, privacy & DPA review","Needs SOC 2, pen test",2026-12-31',
        [("Security, privacy & DPA review", None, None, D, None)],
    ),
    (
        "duration and risk columns",
        "Step,Duration (days),High risk\nLegal review,10,yes\nPO,abc,",
        [("Legal review", None, None, None, None), ("PO", None, None, None, None)],
    ),
    (
        "a row without a title is reported",
        "Step,Due\n,2026-12-31\nSignature,2026-12-31",
        [("Signature", None, None, D, None)],
    ),
    (
        "who / what / by",
        "What,Who,By\nReference call,Dana Buyer / Alice Seller,12/31/26",
        [("Reference call", "Dana Buyer", "Alice Seller", D, None)],
    ),
]


@pytest.fixture
def plan(acme_deal):
    return Plan.objects.get(deal=acme_deal)


@pytest.mark.parametrize(("name", "text", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_the_corpus_reads_as_expected(plan, name, text, expected):
    if expected is None:
        with pytest.raises(ImportRefused, match="No header row names the steps"):
            preview(read_text(text), plan)
        return
    result = preview(read_text(text), plan)
    got = [
        (
            row.title,
            row.buyer.name if row.buyer else None,
            row.seller.name if row.seller else None,
            row.due_date,
            row.status,
        )
        for row in result.importable
    ]
    assert len(got) == len(expected), got
    for (title, buyer, seller, due, status), want in zip(got, expected, strict=True):
        assert (title, buyer, seller, due) == want[:4], (name, title)
        if want[4] is not None:
            assert status == want[4], (name, title)


@pytest.mark.parametrize(
    ("value", "day_first", "expected"),
    [
        ("2026-12-31", True, D),
        ("2026-12-31T00:00:00", True, D),
        ("12/31/2026", True, D),
        ("31/12/2026", False, D),
        ("03/04/2026", True, date(2026, 4, 3)),
        ("03/04/2026", False, date(2026, 3, 4)),
        ("31.12.2026", False, D),
        ("31 Dec 2026", True, D),
        ("Dec 31, 2026", True, D),
        ("December 31 2026", True, D),
        (46387, True, D),
        ("46387", True, D),
        (D, True, D),
    ],
)
def test_every_date_format(value, day_first, expected):
    assert parse_date(value, day_first=day_first) == (expected, "")


@pytest.mark.parametrize("value", ["end of Q3", "TBD", "ASAP", "next week", "H2"])
def test_vague_dates_are_flagged_not_guessed(value):
    found, problem = parse_date(value, day_first=True)
    assert found is None and "not a precise date" in problem


def test_the_workspaces_time_zone_decides_day_and_month(plan):
    plan.organization.time_zone = "America/New_York"
    table = read_text("Step,Due\nA,03/04/2026")
    assert preview(table, plan).importable[0].due_date == date(2026, 3, 4)
    plan.organization.time_zone = "Europe/Paris"
    assert preview(table, plan).importable[0].due_date == date(2026, 4, 3)


def test_applying_adds_updates_reports_and_is_idempotent(plan, alice):
    actor = Actor.seller(alice)
    existing = plan.milestones.order_by("position").first()
    text = (
        f"Step,Owner,Due,Status\n{existing.title},Dana Buyer / Alice Seller,,done\n"
        "Board approval,Bill Lumbergh / Alice Seller,2030-01-15,\n"
        ",,2030-01-15,\n"
    )
    before = plan.milestones.count()
    result = preview(read_text(text), plan)
    assert [row.number for row in result.refused] == [4]
    assert result.refused[0].error == "no step title"
    counts = sheet_import.apply(result, plan, actor=actor, add_people=True, delete_missing=False)
    assert counts == {"added": 1, "changed": 1, "unchanged": 0, "deleted": 0, "people": 1}
    assert plan.milestones.count() == before + 1
    existing.refresh_from_db()
    assert existing.status == "done" and existing.buyer_owner.name == "Dana Buyer"
    new = plan.milestones.get(title="Board approval")
    assert new.buyer_owner.name == "Bill Lumbergh" and new.buyer_owner.side == "buyer"
    assert new.due_date == date(2030, 1, 15)
    # The same table again changes nothing (the new person is known now).
    again = preview(read_text(text), plan)
    counts = sheet_import.apply(again, plan, actor=actor, add_people=True, delete_missing=False)
    assert counts == {"added": 0, "changed": 0, "unchanged": 2, "deleted": 0, "people": 0}
    assert Stakeholder.objects.filter(name="Bill Lumbergh").count() == 1


def test_nothing_is_half_imported(plan, alice, monkeypatch):
    """The existing step's change is undone when adding the new ones fails."""
    existing = plan.milestones.order_by("position").first()
    before = list(plan.milestones.values_list("title", "status"))
    result = preview(read_text(f"Step,Status\n{existing.title},done\nOne\nTwo"), plan)

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(sheet_import.services, "add_milestones", failing)
    with pytest.raises(RuntimeError):
        sheet_import.apply(
            result, plan, actor=Actor.seller(alice), add_people=False, delete_missing=False
        )
    assert list(plan.milestones.values_list("title", "status")) == before


def test_delete_missing_only_when_asked(plan, alice):
    actor = Actor.seller(alice)
    result = preview(read_text("Step\nOnly this one"), plan)
    sheet_import.apply(result, plan, actor=actor, add_people=False, delete_missing=False)
    assert plan.milestones.count() > 1
    result = preview(read_text("Step\nOnly this one"), plan)
    sheet_import.apply(result, plan, actor=actor, add_people=False, delete_missing=True)
    assert list(plan.milestones.values_list("title", flat=True)) == ["Only this one"]


def test_an_export_imported_into_a_new_deal_gives_the_same_plan(plan, alice, acme):
    steps = list(plan.milestones.order_by("phase", "position"))
    Milestone.objects.filter(pk=steps[0].pk).update(status="done")
    exported = SimpleUploadedFile("plan.xlsx", sheets.as_xlsx(plan))
    deal = make_deal(acme, alice, account_name="Hooli")
    from tests.factories import add_buyer

    add_buyer(deal, name="Dana Buyer", email="dana@hooli.test")
    add_buyer(deal, name="Eve Economic", email="eve@hooli.test", role="economic_buyer")
    target = make_plan(deal, template=None, target=plan.target_signature_date)
    result = preview(sheet_import.read_upload(exported), target)
    sheet_import.apply(
        result, target, actor=Actor.seller(alice), add_people=True, delete_missing=False
    )

    def shape(p):
        return [
            (
                m.title,
                m.phase,
                m.buyer_owner.name if m.buyer_owner else None,
                m.seller_owner.name if m.seller_owner else None,
                m.due_date,
                m.status,
            )
            for m in p.milestones.order_by("phase", "position")
        ]

    assert shape(target) == shape(plan)


def _xlsx(rows, *, macro=False) -> SimpleUploadedFile:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    if macro:
        buffer = io.BytesIO(data)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr("xl/vbaProject.bin", b"macro")
        data = buffer.getvalue()
    return SimpleUploadedFile("plan.xlsx", data)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (_xlsx([["Step", "Due"], ["A", "=TODAY()"]]), "holds a formula"),
        (_xlsx([["Step"], ["A"]], macro=True), "contains macros"),
        (SimpleUploadedFile("a.pdf", b"%PDF-1.4 x"), "not a spreadsheet"),
        (SimpleUploadedFile("big.csv", b"Step\n" + b"a\n" * 2001), "the limit is 2000"),
        (SimpleUploadedFile("huge.csv", b"Step\n" + b"x" * (5 * 1024 * 1024)), "limit is 5 MB"),
        (SimpleUploadedFile("none.csv", b"Colour,Size\nred,1"), "No header row names the steps"),
    ],
)
def test_refusals_say_why_and_change_nothing(alice_client, acme_deal, plan, upload, message):
    before = plan.milestones.count()
    response = alice_client.post(
        url("plans:plan-import", deal_id=acme_deal.public_id), {"file": upload}
    )
    assert response.status_code == 422
    assert message in response.content.decode()
    assert plan.milestones.count() == before


def test_the_preview_maps_columns_and_the_seller_corrects_them(alice_client, acme_deal, plan):
    response = alice_client.post(
        url("plans:plan-import", deal_id=acme_deal.public_id),
        {"text": "Step,Comments,When\nLegal review,<script>alert(1)</script>,2030-01-15"},
    )
    assert response.status_code == 302
    page = alice_client.get(response["Location"]).content.decode()
    assert "<script>alert(1)</script>" not in page  # cells are text, never HTML
    assert "Legal review" in page and "15 Jan 2030" in page
    # Read "When" as nothing: the step comes without its date.
    remapped = alice_client.post(
        response["Location"], {"action": "remap", "column": ["title", "notes", ""]}
    ).content.decode()
    assert "15 Jan 2030" not in remapped
    applied = alice_client.post(
        response["Location"], {"action": "apply", "column": ["title", "notes", "due_date"]}
    )
    assert applied.status_code == 302
    step = plan.milestones.get(title="Legal review")
    assert step.due_date == date(2030, 1, 15)
    assert step.shared_notes == "<script>alert(1)</script>"
    # Applied once: the preview is gone.
    assert alice_client.get(response["Location"]).status_code == 404


def test_another_workspace_cannot_import_or_see_the_preview(
    client, alice_client, charlie, acme_deal
):
    from django.test import Client

    response = alice_client.post(
        url("plans:plan-import", deal_id=acme_deal.public_id), {"text": "Step\nA"}
    )
    other = Client()
    other.force_login(charlie)
    assert other.get(response["Location"]).status_code == 404
    for org in ("globex", "acme"):
        path = url("plans:plan-import", org_slug=org, deal_id=acme_deal.public_id)
        assert other.post(path, {"text": "Step\nA"}).status_code == 404


def test_a_new_plan_starts_from_a_spreadsheet(alice_client, alice, acme):
    deal = make_deal(acme, alice, account_name="Hooli")
    create = url("plans:plan-create", deal_id=deal.public_id)
    bad = alice_client.post(
        create,
        {"target_date": "2031-03-14", "sheet": SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")},
    )
    assert bad.status_code == 422 and "not a spreadsheet" in bad.content.decode()
    assert not Plan.objects.filter(deal=deal).exists()
    sheet = SimpleUploadedFile(
        "map.csv", b"Milestone,Due Date\nKickoff,2031-01-10\nSign,2031-03-14"
    )
    response = alice_client.post(create, {"target_date": "2031-03-14", "sheet": sheet})
    assert response.status_code == 302 and "/imports/" in response["Location"]
    plan = Plan.objects.get(deal=deal)
    assert not plan.milestones.exists()  # nothing imported before the preview is applied
    alice_client.post(response["Location"], {"action": "apply"})
    assert list(plan.milestones.order_by("position").values_list("title", flat=True)) == [
        "Kickoff",
        "Sign",
    ]
