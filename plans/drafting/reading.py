"""Reading a conversation into who said what: speaker-labelled transcripts (Zoom, Teams,
Meet: `Name: text`; `[00:12:03] Name: text`; Gong: `Name | 00:12` then the paragraph),
WebVTT and SRT captions (cues of one speaker joined, voice tags read), email threads
(each message's sender; quoted copies of earlier messages read once) and plain notes.
Then sentences, each with its speaker and its place in the text.

The first stage of the extractor (plans/drafting/extract.py): it knows formats, nothing of
plans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# About four hours of talk (a 60-minute call is ~64 KB): drafting reads ~10 s per MB of
# dense text, so the limit keeps a request within seconds.
MAX_BYTES = 256 * 1024
MAX_LINES = 20_000
LIMIT = "256 KB (about four hours of transcript)"


class Unreadable(Exception):  # noqa: N818 - reads as the outcome
    """The text cannot be read as a conversation, with the message to show."""


@dataclass
class Turn:
    speaker: str  # "" when nobody is named (notes)
    text: str
    email: str = ""  # the sender's address in an email thread
    signature: str = ""  # an email's closing lines (name, title, company)


@dataclass
class Sentence:
    speaker: str
    text: str
    turn: int  # the index of its turn


def decode(data: bytes) -> str:
    """The text of an uploaded file, or Unreadable (binary, too large)."""
    if len(data) > MAX_BYTES:
        raise Unreadable(
            f"The file is {len(data) / 1024:,.0f} KB; the limit is {LIMIT}: split it and "
            "draft from each part."
        )
    if b"\x00" in data[:8192] or data.startswith((b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8")):
        raise Unreadable(
            "This is not a text file: upload a transcript (.txt, .vtt, .srt) or paste the text."
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unreadable("The file's text could not be read: save it as UTF-8 text.")


def check(text: str) -> str:
    """The text with its line ends made plain, or Unreadable (empty, too long)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise Unreadable("There is nothing to read: paste a transcript, call notes or an email.")
    if len(text.encode()) > MAX_BYTES:
        raise Unreadable(
            f"The text is {len(text.encode()) / 1024:,.0f} KB; the limit is {LIMIT}: split it "
            "and draft from each part."
        )
    lines = text.count("\n") + 1
    if lines > MAX_LINES:
        raise Unreadable(
            f"The text has {lines:,} lines; the limit is {MAX_LINES:,} "
            "(a caption file of about four hours). Split it and draft from each part."
        )
    return text


# --- Formats ----------------------------------------------------------------------------------

TIMING = re.compile(
    r"^\s*(\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3}\s*-->\s*(\d{1,2}:)?\d{1,2}:\d{2}[.,]\d{1,3}"
)
STAMP = r"[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]?"
NAME = r"[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|van|von|da|del|la|le|bin|al)){0,4}"
# "Name: text", "[00:12:03] Name: text", "00:12:03 Name: text", "Name (00:12): text"
LABELLED = re.compile(rf"^\s*(?:{STAMP}\s*)?(?P<name>{NAME})\s*(?:{STAMP})?\s*:\s+(?P<text>\S.*)$")
# Gong, Chorus: "Name  |  00:12" or "Name 00:12" alone on its line, the paragraph below.
GONG = re.compile(rf"^\s*(?P<name>{NAME})\s*(?:\|\s*)?{STAMP}\s*$")
VOICE = re.compile(r"<v(?:\.[\w.]+)?\s+([^>]+)>")
TAG = re.compile(r"</?[a-z][^>]*>", re.I)
NOT_NAMES = {
    "note",
    "notes",
    "re",
    "fw",
    "fwd",
    "subject",
    "from",
    "to",
    "cc",
    "bcc",
    "sent",
    "date",
    "ps",
    "p.s",
    "action items",
    "next steps",
    "attendees",
    "agenda",
    "todo",
    "update",
    "summary",
    "owner",
    "owners",
    "status",
    "risk",
    "risks",
    "decision",
    "decisions",
    "q",
    "a",
    "eb",
    "po",
    "nb",
    "fyi",
    "edit",
    "timeline",
    "pricing",
    "goal",
    "goals",
    "outcome",
    "context",
    "background",
    "tl;dr",
    "tldr",
    "important",
    "reminder",
    "warning",
    "webvtt",
    "kind",
    "language",
    "style",
    "region",
    "http",
    "https",
    "mailto",
    "tel",
    "phone",
    "mobile",
    "email",
    "e-mail",
    "web",
    "www",
    "attachments",
    "attachment",
    "when",
    "where",
    "who",
    "what",
    "why",
    "how",
    "time",
    "location",
    "meeting",
    "call",
    "recording",
}


def turns_of(text: str) -> list[Turn]:
    """Who said what, in order (consecutive lines of one speaker joined)."""
    text = check(text)
    stripped = text.lstrip("\ufeff \n")
    if stripped.startswith("WEBVTT"):
        return _merge(_captions(stripped, vtt=True))
    if re.match(r"^\d+\s*\n" + TIMING.pattern.lstrip("^"), stripped):
        return _merge(_captions(stripped, vtt=False))
    if _is_email(text):
        return _email(text)
    return _merge(_labelled(text))


def _captions(text: str, *, vtt: bool) -> list[Turn]:
    turns, block = [], []
    for line in [*text.split("\n"), ""]:
        if line.strip():
            block.append(line)
            continue
        if not block:
            continue
        timing = next((i for i, b in enumerate(block) if TIMING.match(b)), None)
        if timing is not None and not (vtt and block[0].startswith(("NOTE", "STYLE", "REGION"))):
            cue = " ".join(b.strip() for b in block[timing + 1 :])
            speaker = ""
            if voice := VOICE.search(cue):
                speaker = voice[1].strip()
            cue = TAG.sub("", cue).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            cue = re.sub(r"^\s*-\s*", "", cue)  # "- " marks a change of speaker in captions
            if not speaker and (match := LABELLED.match(cue)) and _plausible(match["name"]):
                speaker, cue = match["name"], match["text"]
            turns.append(Turn(speaker=speaker.strip(), text=cue.strip()))
        block = []
    # A cue without a speaker continues the previous speaker's sentence (captions are cut
    # every few seconds, often mid-sentence).
    last = ""
    for turn in turns:
        turn.speaker = turn.speaker or last
        last = turn.speaker
    return turns


def _plausible(name: str) -> bool:
    return name.strip().casefold().rstrip(".") not in NOT_NAMES and len(name) <= 60


def _labelled(text: str) -> list[Turn]:
    lines = text.split("\n")
    labels: dict[str, int] = {}
    for line in lines:
        match = LABELLED.match(line) or GONG.match(line)
        if match and _plausible(match["name"]):
            # A full name, or a label after a timestamp, is a speaker at once; one word
            # before a colon only when it starts two lines or more (one "Decision: …" is not).
            sure = (
                len(match["name"].split()) > 1 or re.match(r"\s*[\[(]?\d", line) or GONG.match(line)
            )
            labels[match["name"]] = labels.get(match["name"], 0) + (2 if sure else 1)
    speakers = {name for name, count in labels.items() if count >= 2}
    turns: list[Turn] = []
    current = ""
    for line in lines:
        if not line.strip():
            if turns and not turns[-1].speaker:
                turns.append(Turn(speaker="", text=""))  # a paragraph break in notes
            continue
        gong = GONG.match(line)
        if gong and gong["name"] in speakers:
            current = gong["name"]
            continue
        match = LABELLED.match(line)
        if match and match["name"] in speakers:
            current = match["name"]
            turns.append(Turn(speaker=current, text=match["text"].strip()))
            continue
        if re.fullmatch(r"\s*" + STAMP + r"\s*", line):
            continue
        turns.append(Turn(speaker=current, text=line.strip()))
    return [t for t in turns if t.text]


def _merge(turns: list[Turn]) -> list[Turn]:
    merged: list[Turn] = []
    for turn in turns:
        if not turn.text:
            continue
        bullet = re.match(r"^\s*(?:[-*•·▪◦]|\d+[.)])\s+", turn.text)
        if merged and merged[-1].speaker == turn.speaker and turn.speaker and not bullet:
            merged[-1].text += " " + turn.text
        else:
            merged.append(Turn(speaker=turn.speaker, text=turn.text))
    return merged


# --- Email threads ----------------------------------------------------------------------------

WROTE = re.compile(
    r"^\s*>*\s*On\s.{4,80}?,?\s+(?P<name>[^<\n\d]{2,60}?)\s*(?:<(?P<email>[^>\s]+@[^>\s]+)>)?\s*wrote:\s*$",
    re.M,
)
HEADER = re.compile(
    r"^\s*>*\s*From:\s*(?P<name>[^<\n]*?)\s*(?:<(?P<email>[^>\s]+@[^>\s]+)>|(?P<bare>\S+@\S+))?\s*$",
    re.M,
)
SKIP_HEADER = re.compile(r"^\s*(Sent|To|Cc|Bcc|Date|Subject|Importance)\s*:", re.I)
SIGN_OFF = re.compile(
    r"^\s*(thanks|thank you|best|best regards|regards|kind regards|cheers|sincerely|warmly|"
    r"talk soon|many thanks|thx|all the best|warm regards|--|—)[,!.]?\s*$",
    re.I,
)


def _is_email(text: str) -> bool:
    return (
        bool(WROTE.search(text))
        or len(HEADER.findall(text)) >= 1
        and bool(re.search(r"^\s*>*\s*(Subject|Sent|To):", text, re.M))
    )


def _email(text: str) -> list[Turn]:
    """Each message of a thread as a turn of its sender; a line quoted with ">" is read
    once (the earlier message it copies is usually quoted in full, and sometimes only
    there)."""
    lines = [re.sub(r"^(\s*>)+\s?", "", line) for line in text.split("\n")]
    body = "\n".join(lines)
    starts = []
    for match in WROTE.finditer(body):
        name = re.sub(r"^(?:[AaPp]\.?[Mm]\.?\s+)", "", match["name"].strip(" \"',"))
        starts.append((match.start(), match.end(), name, match["email"] or ""))
    for match in HEADER.finditer(body):
        starts.append(
            (
                match.start(),
                match.end(),
                match["name"].strip(" \"'"),
                match["email"] or match["bare"] or "",
            )
        )
    starts.sort()
    # The first message's sender is not written above it: its signature tells.
    pieces = [("", "", body[: starts[0][0]] if starts else body)]
    for index, (_start, end, name, email) in enumerate(starts):
        stop = starts[index + 1][0] if index + 1 < len(starts) else len(body)
        pieces.append((name, email, body[end:stop]))
    turns, seen = [], set()
    for name, email, chunk in pieces:
        content, signature = [], []
        in_signature = False
        for line in chunk.split("\n"):
            if SKIP_HEADER.match(line):
                continue
            if SIGN_OFF.match(line):
                in_signature = True
                continue
            (signature if in_signature else content).append(line)
        paragraph = "\n".join(content).strip()
        fresh = [p for p in re.split(r"\n\s*\n", paragraph) if p.strip() and _key(p) not in seen]
        seen.update(_key(p) for p in fresh)
        sign = "\n".join(s for s in signature if s.strip())
        if not name and sign:
            name = sign.split("\n")[0].strip()
        if fresh:
            turns.append(
                Turn(speaker=name, text="\n\n".join(fresh), email=email.casefold(), signature=sign)
            )
        elif sign and turns is not None:
            turns.append(Turn(speaker=name, text="", email=email.casefold(), signature=sign))
    return turns


def _key(paragraph: str) -> str:
    return re.sub(r"\W+", " ", paragraph).strip().casefold()


# --- Sentences ------------------------------------------------------------------------------

ABBREVIATIONS = "".join(
    rf"(?<!\b{word}\.)"
    for word in (
        "Mr",
        "Ms",
        "Dr",
        "St",
        "vs",
        r"e\.g",
        r"i\.e",
        "etc",
        "Mrs",
        "No",
        "approx",
        "Jr",
        "Inc",
    )
)
SPLIT = re.compile(
    ABBREVIATIONS + r"(?<=[.!?…])[\"”’)]*\s+(?=[\"“(]?[A-Z0-9])|\n+\s*(?:[-*•·▪◦]\s+|\d+[.)]\s+)?"
)


MAX_SENTENCE = 500  # characters; a longer run without a full stop is read in parts


def sentences_of(turns: list[Turn]) -> list[Sentence]:
    out = []
    for index, turn in enumerate(turns):
        for piece in SPLIT.split(turn.text):
            piece = (piece or "").strip(" \t-*•·")
            for part in _parts(piece):
                if len(part) > 1:
                    out.append(Sentence(speaker=turn.speaker, text=part, turn=index))
    return out


def _parts(text: str) -> list[str]:
    """A run-on "sentence" (captions without punctuation, a pasted blob) in parts of at most
    MAX_SENTENCE characters, cut at a space: every rule then reads a bounded text."""
    parts = []
    while len(text) > MAX_SENTENCE:
        cut = text.rfind(" ", MAX_SENTENCE // 2, MAX_SENTENCE)
        cut = cut if cut > 0 else MAX_SENTENCE
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    parts.append(text)
    return parts
