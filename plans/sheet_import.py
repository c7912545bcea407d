"""Reading a plan from a spreadsheet or a pasted table (issue: sheets and calendars): the
table is read (XLSX, CSV, a table pasted from a document, or the 12-step text template),
its header row found and its columns mapped to a step's fields by the names people use,
each row parsed (dates in the common formats, the workspace deciding day/month order;
statuses; owners matched to the deal's people), and every row that cannot be imported
reported with its number and reason. plans/sheet_views.py previews it and applies it in
one transaction (`apply`).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import transaction

from stakeholders import services as stakeholder_services
from stakeholders.models import Side, Stakeholder

from . import services
from .models import Milestone, Phase, Plan, Risk, SheetImport

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000


class ImportRefused(Exception):  # noqa: N818 - reads as the outcome
    """The file or text cannot be read as a plan, with the message to show."""


# --- Reading the table ------------------------------------------------------------------------


def read_upload(upload) -> list[list]:
    """The rows of an uploaded CSV or XLSX file (cells as text, dates as dates)."""
    if upload.size > MAX_BYTES:
        raise ImportRefused(f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is 5 MB.")
    upload.seek(0)
    data = upload.read()
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if (
        data.startswith((b"%PDF", b"\xd0\xcf\x11\xe0", b"\x89PNG", b"\xff\xd8"))
        or b"\x00" in data[:4096]
    ):
        raise ImportRefused("This is not a spreadsheet: upload a CSV or XLSX file.")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return read_text(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ImportRefused("The file's text could not be read: save it as UTF-8 CSV.")


def _read_xlsx(data: bytes) -> list[list]:
    from openpyxl import load_workbook  # noqa: PLC0415 - only imports load it

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise ImportRefused("This is not a spreadsheet: upload a CSV or XLSX file.") from None
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise ImportRefused("This workbook contains macros: save it as a plain .xlsx first.")
    if not any(name.startswith("xl/") for name in names):
        raise ImportRefused("This is not a spreadsheet: upload a CSV or XLSX file.")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a damaged file
        raise ImportRefused("This workbook could not be read: save it again as .xlsx.") from None
    sheet = book.worksheets[0]
    rows = []
    for row in sheet.iter_rows():
        values = []
        for cell in row:
            value = cell.value
            if cell.data_type == "f" or (isinstance(value, str) and value.startswith("=")):
                raise ImportRefused(
                    f"Cell {cell.coordinate} holds a formula: paste its values instead "
                    "(Paste special → Values) and upload again."
                )
            values.append(value)
        rows.append(values)
        if len(rows) > MAX_ROWS + 20:
            break
    book.close()
    return _trim(rows)


def read_text(text: str) -> list[list]:
    """Rows of CSV, of a table pasted from a document (tabs or pipes), or of the 12-step
    text template ("Step 1 — Title" then "Owner (buyer): … Owner (seller): … Date: …")."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        raise ImportRefused("There is nothing to import: the table is empty.")
    if TEMPLATE_STEP.search(text):
        return _read_template(text)
    lines = [line for line in text.split("\n") if line.strip()]
    if sum("|" in line for line in lines) >= max(2, len(lines) // 2):
        rows = []
        for line in lines:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", cell) or not cell for cell in cells):
                continue  # a Markdown rule line
            rows.append(cells)
        return _trim(rows)
    sample = "\n".join(lines[:20])
    if "\t" in sample:
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;|").delimiter
        except csv.Error:
            delimiter = ","
    return _trim(list(csv.reader(io.StringIO(text), delimiter=delimiter)))


TEMPLATE_STEP = re.compile(r"^\s*Step\s+(\d+)\s*[—–:-]\s*(.+)$", re.I | re.M)
TEMPLATE_FIELD = re.compile(
    r"(Owner\s*\(buyer\)|Owner\s*\(seller\)|Date|Status|Notes)\s*:\s*", re.I
)


def _read_template(text: str) -> list[list]:
    header = ["Step", "Owner (buyer)", "Owner (seller)", "Date", "Status", "Notes"]
    rows = [header]
    blocks = TEMPLATE_STEP.split(text)
    # split() gives [before, number, title, body, number, title, body, ...]
    for index in range(1, len(blocks) - 2, 3):
        title, body = blocks[index + 1].strip(), blocks[index + 2]
        values = dict.fromkeys(header[1:], "")
        parts = TEMPLATE_FIELD.split(body)
        for name, value in zip(parts[1::2], parts[2::2], strict=False):
            key = next(h for h in header[1:] if _norm(h) == _norm(name))
            values[key] = value.strip().strip("_").strip()
        rows.append([title, *values.values()])
    return rows


def _trim(rows: list[list]) -> list[list]:
    """Blank rows and trailing blank cells go; a table over MAX_ROWS is refused."""
    cleaned = []
    for row in rows:
        cells = ["" if value is None else value for value in row]
        while cells and (cells[-1] == "" or (isinstance(cells[-1], str) and not cells[-1].strip())):
            cells.pop()
        if cells:
            cleaned.append(cells)
    if len(cleaned) > MAX_ROWS + 1:
        raise ImportRefused(f"The table has {len(cleaned) - 1} rows; the limit is {MAX_ROWS}.")
    if not cleaned:
        raise ImportRefused("There is nothing to import: the table is empty.")
    return cleaned


# --- Columns ----------------------------------------------------------------------------------

FIELDS = {
    "title": "Step",
    "owners": "Owners (buyer / seller)",
    "buyer_owner": "Buyer owner",
    "seller_owner": "Seller owner",
    "buyer_email": "Buyer owner's email",
    "seller_email": "Seller owner's email",
    "due_date": "Due date",
    "status": "Status",
    "notes": "Notes",
    "phase": "Phase",
    "risk": "High risk",
    "duration": "Duration (days)",
    "": "(not imported)",
}
# Header words → field, tried in order (the first that matches wins).
HEADERS = [
    ("buyer_email", r"(buyer|customer|client).*e-?mail|e-?mail.*(buyer|customer|client)"),
    ("seller_email", r"(seller|vendor|our).*e-?mail|e-?mail.*(seller|vendor)"),
    ("owners", r"owner.*buyer.*seller|owners?\s*\(.*/.*\)|^owners$"),
    ("buyer_owner", r"buyer|customer|client|owner\s*\(buyer\)|their owner"),
    ("seller_owner", r"seller|vendor|our owner|owner\s*\(seller\)|account exec"),
    ("duration", r"duration|^days$|length|effort"),
    ("due_date", r"due|date|deadline|target|^when$|^by$|finish|end"),
    ("status", r"status|state|done|complete|progress|✓"),
    ("notes", r"note|comment|remark|detail|description"),
    ("phase", r"phase|stage|stream"),
    ("risk", r"risk"),
    ("title", r"step|milestone|task|action|activity|deliverable|^item$|^what$|^name$|title"),
    ("owners", r"^owner$|responsible|^who$"),
]


def _norm(text) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", text).strip().casefold()


def field_of(header) -> str:
    name = _norm(header)
    if not name:
        return ""
    for key, pattern in HEADERS:
        if re.search(pattern, name):
            return key
    return ""


def find_header(rows: list[list]) -> tuple[int, list[str]]:
    """The header row (among the first ten, the one naming the most fields, a step among
    them) and its mapping."""
    best, best_index = None, 0
    for index, row in enumerate(rows[:10]):
        mapping = [field_of(cell) for cell in row]
        named = {f for f in mapping if f}
        if "title" in named and (best is None or len(named) > len({f for f in best if f})):
            best, best_index = mapping, index
    if best is None:
        raise ImportRefused(
            "No header row names the steps: the first rows need a column such as “Step”, "
            "“Milestone” or “Task”."
        )
    seen = set()
    for position, key in enumerate(best):  # one column per field: the first one
        if key in seen:
            best[position] = ""
        seen.add(key)
    return best_index, best


# --- Values -----------------------------------------------------------------------------------

STATUSES = [
    (Milestone.Status.DONE, r"^(done|complete[d]?|finished|closed|signed|yes|y|x|✓|✔|☑|100 ?%)$"),
    (Milestone.Status.IN_PROGRESS, r"^(in ?progress|ongoing|started|wip|underway|doing|active)$"),
    (Milestone.Status.BLOCKED, r"^(blocked|stuck|on ?hold|waiting|at risk)$"),
    (Milestone.Status.CANCELLED, r"^(n/?a|not applicable|cancell?ed|dropped|skipped)$"),
    (Milestone.Status.NOT_STARTED, r"^(|not started|to ?do|open|planned|pending|no|new|tbd)$"),
]
VAGUE = re.compile(
    r"\b(tbd|tba|asap|q[1-4]|quarter|end of|eo[mqy]|next|this|soon|week|month|year|h[12])\b",
    re.I,
)
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january", "janvier", "januar", "enero"),
            ("feb", "february", "fevrier", "februar", "febrero"),
            ("mar", "march", "mars", "marz", "marzo"),
            ("apr", "april", "avril", "abril"),
            ("may", "mai", "mayo"),
            ("jun", "june", "juin", "juni", "junio"),
            ("jul", "july", "juillet", "juli", "julio"),
            ("aug", "august", "aout", "agosto"),
            ("sep", "sept", "september", "septembre", "septiembre"),
            ("oct", "october", "octobre", "oktober", "octubre"),
            ("nov", "november", "novembre", "noviembre"),
            ("dec", "december", "decembre", "dezember", "diciembre"),
        ],
        start=1,
    )
    for name in names
}
EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(value, *, day_first: bool) -> tuple[date | None, str]:
    """A date and "" — or None and why not ("" for an empty cell)."""
    if isinstance(value, datetime):
        return value.date(), ""
    if isinstance(value, date):
        return value, ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # an Excel serial number (1954–2119)
            return EXCEL_EPOCH + timedelta(days=int(value)), ""
        return None, f"“{value}” is not a date"
    text = _norm(value).strip(".")
    if not text:
        return None, ""
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return parse_date(float(text), day_first=day_first)
    if match := re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})([t ][\d:.]+)?", text):
        return _date(int(match[1]), int(match[2]), int(match[3]), value)
    if match := re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})", text):
        first, second, year = int(match[1]), int(match[2]), _year(match[3])
        separator_dot = "." in text  # 31.12.2026 is day first everywhere
        if first > 12 or separator_dot:
            day, month = first, second
        elif second > 12:
            month, day = first, second
        else:
            day, month = (first, second) if day_first else (second, first)
        return _date(year, month, day, value)
    words = re.sub(r"[,.]", " ", text).split()
    if len(words) >= 2:
        if len(words) == 3 and words[0].isdigit() and words[1] in MONTHS and words[2].isdigit():
            return _date(_year(words[2]), MONTHS[words[1]], int(words[0]), value)
        if len(words) == 3 and words[0] in MONTHS and words[1].isdigit() and words[2].isdigit():
            return _date(_year(words[2]), MONTHS[words[0]], int(words[1]), value)
    if VAGUE.search(text):
        return None, f"“{value}” is not a precise date: the step is imported without one"
    return None, f"“{value}” is not a date we recognise"


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _date(year: int, month: int, day: int, original) -> tuple[date | None, str]:
    try:
        return date(year, month, day), ""
    except ValueError:
        return None, f"“{original}” is not a date"


def parse_status(value) -> tuple[str, str]:
    raw, text = str(value or "").strip().casefold(), _norm(value)  # ✓ has no ASCII form
    for status, pattern in STATUSES:
        if re.search(pattern, raw) or (text and re.search(pattern, text)):
            return status, ""
    return Milestone.Status.NOT_STARTED, f"status “{value}” is not one we know: not started"


def split_owners(value) -> tuple[str, str]:
    """ "Priya Raman / Sam Seller" → buyer, seller (the usual "Owner (Buyer / Seller)")."""
    parts = re.split(r"\s*(?:/|\||;|\bvs\.?\b)\s*", str(value or "").strip(), maxsplit=1)
    return parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")


def _name_key(name: str) -> str:
    return re.sub(r"[^a-z ]", "", _norm(name))


def match_person(name: str, email: str, people: list[Stakeholder]) -> Stakeholder | None:
    """By email, then by name: case, accents and initials tolerated ("J. Smith" is John
    Smith when only one person fits)."""
    email = (email or "").strip().casefold()
    if email:
        found = [p for p in people if p.email and p.email.casefold() == email]
        if found:
            return found[0]
    key = _name_key(name)
    if not key:
        return None
    exact = [p for p in people if _name_key(p.name) == key]
    if exact:
        return exact[0]
    words = key.split()
    fits = []
    for person in people:
        theirs = _name_key(person.name).split()
        if len(theirs) == len(words) and all(
            a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))
            for a, b in zip(words, theirs, strict=True)
        ):
            fits.append(person)
    return fits[0] if len(fits) == 1 else None


# --- The preview ------------------------------------------------------------------------------


@dataclass
class Row:
    number: int  # the row's number in the sheet (1-based, the header counted)
    title: str = ""
    phase: str = Phase.CLOSE
    due_date: date | None = None
    duration: int | None = None
    status: str = Milestone.Status.NOT_STARTED
    notes: str = ""
    risk: str = ""
    buyer_name: str = ""
    seller_name: str = ""
    buyer: Stakeholder | None = None
    seller: Stakeholder | None = None
    warnings: list[str] = field(default_factory=list)
    error: str = ""
    existing: Milestone | None = None


@dataclass
class Preview:
    header: list
    mapping: list[str]
    rows: list[Row]
    new_people: dict[str, set[str]]  # side → names not matched

    @property
    def importable(self) -> list[Row]:
        return [row for row in self.rows if not row.error]

    @property
    def refused(self) -> list[Row]:
        return [row for row in self.rows if row.error]


def preview(table: list[list], plan: Plan, *, mapping: list[str] | None = None) -> Preview:
    """What importing `table` into `plan` would do: each row parsed, matched to an existing
    step by title, its owners to the deal's people. Two queries."""
    header_index, found = find_header(table)
    mapping = list(mapping) if mapping is not None else found
    header = table[header_index]
    mapping += [""] * (len(header) - len(mapping))
    people = list(Stakeholder.objects.filter(deal_id=plan.deal_id))
    steps = {_norm(m.title): m for m in Milestone.objects.filter(plan=plan)}
    day_first = not plan.organization.time_zone.startswith("America/")
    rows: list[Row] = []
    new_people: dict[str, set[str]] = {Side.BUYER: set(), Side.SELLER: set()}
    for offset, cells in enumerate(table[header_index + 1 :], start=header_index + 2):
        values = {key: cells[i] for i, key in enumerate(mapping) if key and i < len(cells)}
        row = Row(number=offset)
        row.title = str(values.get("title", "") or "").strip()[:200]
        if not row.title:
            if any(str(v).strip() for v in values.values()):
                row.error = "no step title"
                rows.append(row)
            continue
        if re.fullmatch(r"(total|totals|sum|subtotal)\b.*", _norm(row.title)):
            continue  # a totals row is not a step
        row.due_date, problem = parse_date(values.get("due_date", ""), day_first=day_first)
        if problem:
            row.warnings.append(problem)
        row.status, problem = parse_status(values.get("status", ""))
        if problem:
            row.warnings.append(problem)
        row.notes = str(values.get("notes", "") or "").strip()[:2000]
        phase = _norm(values.get("phase", ""))
        row.phase = (
            Phase.POST if re.search(r"post|after|onboard|implement|kick", phase) else (Phase.CLOSE)
        )
        if _norm(values.get("risk", "")) in {"yes", "y", "x", "high", "true", "1", "✓"}:
            row.risk = Risk.EXECUTIVE
        if duration := str(values.get("duration", "") or "").strip():
            digits = re.match(r"\d+", duration)
            if digits and 1 <= int(digits[0]) <= 365:
                row.duration = int(digits[0])
            else:
                row.warnings.append(f"duration “{duration}” is not a number of days")
        buyer_name = str(values.get("buyer_owner", "") or "").strip()
        seller_name = str(values.get("seller_owner", "") or "").strip()
        if "owners" in values:
            combined_buyer, combined_seller = split_owners(values["owners"])
            buyer_name, seller_name = buyer_name or combined_buyer, seller_name or combined_seller
        row.buyer_name, row.seller_name = buyer_name[:150], seller_name[:150]
        sides = (
            (Side.BUYER, buyer_name, "buyer_email"),
            (Side.SELLER, seller_name, "seller_email"),
        )
        for side, name, email_key in sides:
            if not name and not values.get(email_key):
                continue
            on_side = [p for p in people if p.side == side]
            person = match_person(name, str(values.get(email_key, "") or ""), on_side)
            if person is None and name:
                new_people[side].add(name)
            if side == Side.BUYER:
                row.buyer = person
            else:
                row.seller = person
        row.existing = steps.get(_norm(row.title))
        rows.append(row)
    if not any(not row.error for row in rows):
        raise ImportRefused("No row of the table names a step.")
    return Preview(header=header, mapping=mapping, rows=rows, new_people=new_people)


def keep_for_preview(table: list[list], plan: Plan, *, user, source: str):
    """Keep a table read for import until its preview is applied (cells as JSON: dates as
    ISO dates)."""
    return SheetImport.objects.create(
        organization_id=plan.organization_id,
        plan=plan,
        user=user,
        source=source[:255],
        table=[[_json_cell(value) for value in row] for row in table],
    )


def _json_cell(value):
    if isinstance(value, datetime):
        value = value.date() if value.time() == time.min else value
    return value.isoformat() if hasattr(value, "isoformat") else value


# --- Applying ---------------------------------------------------------------------------------


@transaction.atomic
def apply(
    result: Preview,
    plan: Plan,
    *,
    actor,
    add_people: bool,
    delete_missing: bool,
    source: str = "",
) -> dict:
    """Import the rows without an error: matched steps changed, new ones added, none deleted
    unless `delete_missing`; unknown owners added as people of their side if `add_people`.
    All or nothing. Importing the same table again changes nothing. Returns the counts."""
    created_people: dict[tuple[str, str], Stakeholder] = {}
    if add_people:
        for side, names in result.new_people.items():
            for name in sorted(names):
                role = "buyer_other" if side == Side.BUYER else "seller_other"
                created_people[(side, name)] = stakeholder_services.add_stakeholder(
                    plan.deal, actor=actor, name=name, role=role
                )
    counts = {"added": 0, "changed": 0, "unchanged": 0, "deleted": 0, "people": len(created_people)}
    seen, new_steps = set(), []
    for row in result.importable:
        buyer = row.buyer or created_people.get((Side.BUYER, row.buyer_name))
        seller = row.seller or created_people.get((Side.SELLER, row.seller_name))
        fields = {
            "title": row.title,
            "due_date": row.due_date,
            "buyer_owner": buyer,
            "seller_owner": seller,
            "shared_notes": row.notes,
        }
        if row.duration:
            fields["duration_days"] = row.duration
        existing = row.existing
        if existing is None:
            new_steps.append({**fields, "phase": row.phase, "status": row.status})
            continue
        seen.add(existing.pk)
        current = Milestone.objects.get(pk=existing.pk)
        changes = {
            name: value
            for name, value in fields.items()
            if getattr(current, name) != value and not (name == "due_date" and value is None)
        }
        if row.status != current.status:
            changes["status"] = row.status
        if not changes:
            counts["unchanged"] += 1
            continue
        reason = "Imported from a spreadsheet" if "due_date" in changes else ""
        services.update_milestone(
            current, actor=actor, expected_version=current.version, reason=reason, **changes
        )
        counts["changed"] += 1
    # New steps in one go: one change of the plan, one line in its feed.
    counts["added"] = services.add_milestones(
        plan,
        actor=actor,
        steps=new_steps,
        summary=f"imported {len(new_steps)} step{'s' if len(new_steps) != 1 else ''}"
        + (f" from {source}" if source else ""),
    )
    seen.update(
        Milestone.objects.filter(plan=plan, title__in=[s["title"] for s in new_steps]).values_list(
            "pk", flat=True
        )
    )
    if delete_missing:
        for step in Milestone.objects.filter(plan=plan).exclude(pk__in=seen):
            services.delete_milestone(step, actor=actor)
            counts["deleted"] += 1
    return counts
