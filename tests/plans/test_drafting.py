# ruff: noqa: E501 - transcripts are long lines
"""The conversation extractor, stage by stage (plans/drafting/): reading each format into
turns, days and durations, steps (ruled out, merged, corrected), owners, anchors and
statements; then applying the seller's choices with the backward schedule."""

from datetime import date

import pytest

from plans.drafting import reading
from plans.drafting.dates import dates_in, durations_in
from plans.drafting.extract import Context, Person, extract
from plans.drafting.lexicon import load

CALL = date(2026, 10, 14)  # a Wednesday
LEX = load()


def turns(text):
    return [(t.speaker, t.text) for t in reading.turns_of(text)]


# --- Reading -----------------------------------------------------------------------------------


def test_zoom_and_timestamped_labels():
    text = "[00:00:05] Dana Whitfield: Hello.\n[00:00:09] Sam Ortiz: Hi Dana.\nDana Whitfield: Security review next."
    assert turns(text) == [
        ("Dana Whitfield", "Hello."),
        ("Sam Ortiz", "Hi Dana."),
        ("Dana Whitfield", "Security review next."),
    ]


def test_a_single_label_like_line_is_not_a_speaker():
    text = "Decision: go ahead with the pilot.\nNext we sign."
    assert [speaker for speaker, _ in turns(text)] == ["", ""]


def test_gong_paragraphs():
    text = "Dana Whitfield  |  00:12\nWe need four weeks.\n\nSam Ortiz  |  00:40\nUnderstood.\n\nDana Whitfield | 01:02\nThanks."
    assert turns(text)[:2] == [
        ("Dana Whitfield", "We need four weeks."),
        ("Sam Ortiz", "Understood."),
    ]


def test_webvtt_voice_tags_and_cues_cut_mid_sentence():
    text = (
        "WEBVTT\n\nNOTE exported by Teams\n\n1\n00:00:01.000 --> 00:00:03.000\n<v Dana Whitfield>We usually need\n\n"
        "00:00:03.000 --> 00:00:05.500\nfour weeks for security review.</v>\n\n"
        "00:00:06.000 --> 00:00:08.000\n<v Sam Ortiz>Got it &amp; noted.</v>\n"
    )
    assert turns(text) == [
        ("Dana Whitfield", "We usually need four weeks for security review."),
        ("Sam Ortiz", "Got it & noted."),
    ]


def test_srt_with_labels():
    text = "1\n00:00:01,000 --> 00:00:04,000\nDana Whitfield: Legal needs two weeks.\n\n2\n00:00:04,500 --> 00:00:06,000\nSam Ortiz: OK."
    assert turns(text) == [("Dana Whitfield", "Legal needs two weeks."), ("Sam Ortiz", "OK.")]


def test_an_email_thread_reads_each_message_once_with_its_sender():
    text = (
        "Thanks Sam, we'll need the DPA before legal signs off.\n\nBest,\nDana Whitfield\nCISO, Acme Logistics\n\n"
        "On Tue, Oct 13, 2026 at 9:14 AM Sam Ortiz <sam@brightwave.test> wrote:\n"
        "> Hi Dana, attached is our SOC 2 report.\n> \n> Sam\n"
    )
    result = reading.turns_of(text)
    assert [t.speaker for t in result] == ["Dana Whitfield", "Sam Ortiz"]
    assert result[1].email == "sam@brightwave.test"
    assert "CISO" in result[0].signature


def test_sentences_keep_abbreviations_whole():
    found = reading.sentences_of(
        [reading.Turn("A", "Mr. Smith agreed, e.g. on terms. Then we sign.")]
    )
    assert [s.text for s in found] == ["Mr. Smith agreed, e.g. on terms.", "Then we sign."]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "nothing to read"),
        ("x" * (reading.MAX_BYTES + 1), "the limit is 256 KB"),
        ("a\n" * (reading.MAX_LINES + 1), "lines; the limit is"),
    ],
)
def test_unreadable_text(text, message):
    with pytest.raises(reading.Unreadable, match=message):
        reading.turns_of(text)


def test_binary_files_are_refused():
    with pytest.raises(reading.Unreadable, match="not a text file"):
        reading.decode(b"%PDF-1.7 \x00\x01")
    assert reading.decode("Dana: café".encode("cp1252")) == "Dana: café"


# --- Days and durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day", "vague"),
    [
        ("by the 14th", date(2026, 10, 14), False),
        ("the 3rd", date(2026, 11, 3), False),
        ("our fiscal year ends September 30", date(2027, 9, 30), False),
        ("on 30 September", date(2027, 9, 30), False),
        ("by Friday", date(2026, 10, 16), False),
        ("next Tuesday", date(2026, 10, 20), False),
        ("end of next week", date(2026, 10, 23), False),
        ("end of the month", date(2026, 10, 31), False),
        ("in two weeks", date(2026, 10, 28), False),
        ("tomorrow", date(2026, 10, 15), False),
        ("3/14", date(2027, 3, 14), False),
        ("before end of Q3", date(2027, 9, 30), True),
        ("mid-November", date(2026, 11, 15), True),
        ("before the January kickoff", date(2027, 1, 31), True),
        ("early next year", date(2027, 1, 31), True),
    ],
)
def test_days_said(text, day, vague):
    found = dates_in(text, base=CALL, day_first=False, lexicon=LEX)
    assert [(m.day, m.vague) for m in found][-1:] == [(day, vague)]


def test_a_corrected_day_comes_last():
    found = dates_in("the 14th — no sorry, the 21st", base=CALL, day_first=False, lexicon=LEX)
    assert found[-1].day == date(2026, 10, 21)


def test_day_first_follows_the_workspace():
    assert dates_in("4/3", base=CALL, day_first=True, lexicon=LEX)[0].day == date(2027, 3, 4)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("we usually need four weeks", 20),
        ("two sprints", 20),
        ("ten business days", 10),
        ("a couple of weeks", 10),
        ("two to three weeks", 15),
        ("a week or two", 10),
        ("about 30 days", 21),
        ("a four-week pilot", 20),
    ],
)
def test_durations_in_business_days(text, days):
    assert [d.days for d in durations_in(text, lexicon=LEX)] == [days]


def test_in_two_weeks_is_a_day_not_a_duration():
    assert durations_in("we can sign in two weeks", lexicon=LEX) == []
    assert durations_in("24/7 support, last two weeks ago", lexicon=LEX) == []


# --- Items ---------------------------------------------------------------------------------------


def draft(text, **context):
    context.setdefault("call_date", CALL)
    return extract(text, Context(**context))


def test_steps_ruled_out_are_dropped_and_mentions_merged():
    result = draft(
        "Dana Whitfield: We won't need a pilot. No separate DPA, it's in the MSA.\n"
        "Dana Whitfield: Legal review takes about two weeks.\n"
        "Sam Ortiz: I'll send the order form by Friday.\n"
        "Dana Whitfield: And legal review should be done by the 30th."
    )
    steps = {s.type: s for s in result.steps}
    assert "pilot" not in steps and "privacy_review" not in steps
    assert steps["legal_review"].duration_days == 10
    assert steps["legal_review"].date == date(2026, 10, 30)
    assert steps["proposal"].owner == "Sam Ortiz" and steps["proposal"].date == date(2026, 10, 16)


def test_owners_by_name_by_speaker_and_by_role():
    result = draft(
        "Dana Whitfield: Marcus Lee from procurement will handle vendor onboarding.\n"
        "Dana Whitfield: I'll get the security questionnaire back to you.\n"
        "Dana Whitfield: We need sign-off from our CFO before signature.",
        people=[Person(name="Sam Ortiz", side="seller")],
    )
    steps = {s.type: s for s in result.steps}
    assert steps["procurement"].owner == "Marcus Lee"
    assert steps["security_review"].owner == "Dana Whitfield"
    assert steps["executive_approval"].owner_title == "CFO"
    people = {p.name: p for p in result.people}
    assert people["Marcus Lee"].side == "buyer" and people["Marcus Lee"].title == "Procurement"


def test_a_role_said_is_the_person_holding_it_when_known():
    result = draft(
        "Dana Whitfield: Our CFO has to approve the budget by the 30th.",
        people=[Person(name="Eve Economic", side="buyer", role="economic_buyer", key="k1")],
    )
    assert result.steps[0].owner == "Eve Economic"


def test_anchors_and_statements():
    result = draft(
        "Dana Whitfield: Our fiscal year ends September 30, so we want to sign before then.\n"
        "Dana Whitfield: It needs to be live before the January kickoff.\n"
        "Dana Whitfield: The goal is to cut onboarding time in half.\n"
        "Dana Whitfield: Success looks like 90% of claims routed automatically.\n"
        "Dana Whitfield: Legal is swamped until January, honestly."
    )
    anchors = {a.kind: a for a in result.anchors}
    assert anchors["fiscal_year_end"].date == date(2027, 9, 30)
    assert anchors["go_live"].vague
    assert [s.quote for s in result.of_kind("outcome")] == [
        "The goal is to cut onboarding time in half."
    ]
    assert result.of_kind("criteria")[0].quote.startswith("Success looks like")
    risk = result.of_kind("risk")[0]
    assert risk.step == "legal_review"
    legal = next(s for s in result.steps if s.type == "legal_review")
    assert legal.date is None  # the blocker's end is not the step's date
    assert legal.risks == ["Legal is swamped until January, honestly."]


def test_a_ten_thousand_word_transcript_is_read():
    line = "[00:00:01] Dana Whitfield: Um, so, you know, security review takes four weeks and legal two.\n"
    result = draft(line * 650)
    assert {s.type for s in result.steps} >= {"security_review", "legal_review"}


def test_a_run_on_text_is_read_in_bounded_parts():
    """Captions without punctuation or a pasted blob: every rule reads at most 500
    characters at a time, so a large paste costs time in proportion to its size."""
    blob = "we need the security review by the 14th and legal sign off " * 300
    parts = reading.sentences_of([reading.Turn("", blob), reading.Turn("", "x" * 2000)])
    assert max(len(p.text) for p in parts) <= reading.MAX_SENTENCE
    assert sum(len(p.text) for p in parts) >= len(blob.strip()) + 2000 - len(parts)
