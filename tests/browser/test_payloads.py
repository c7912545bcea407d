"""Nothing one party writes runs or navigates in the other party's browser (issue 13, §2)."""

import re
import threading
from datetime import UTC, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from pypdf import PdfReader

from deals.models import Deal, Organization, User
from notifications import digests
from plans.models import Milestone, Plan, PlanDocument, PlanTemplate, TemplateStep
from stakeholders.models import Stakeholder
from stakeholders.services import issue_room_link
from tests.conftest import open_room
from tests.factories import PASSWORD

from .conftest import sign_in

GUARD = """
window.__violations = [];
document.addEventListener("htmx:sseOpen", () => { window.__sseOpen = true; });
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

# Everything a payload could have left in the page: our own templates have no inline
# handlers, no javascript: URLs, no <meta http-equiv> and no script without the nonce
# (json_script blocks are data, not code).
FIND_PAYLOAD = """() => {
  const found = [];
  const show = (what, element) => found.push(what + ": " + element.outerHTML.slice(0, 160));
  document.querySelectorAll("meta[http-equiv], base, iframe, frame, object, embed")
    .forEach((element) => show("element", element));
  document.querySelectorAll("script").forEach((element) => {
    const data = element.type === "application/json";
    if (!element.hasAttribute("nonce") && !data) show("script", element);
  });
  document.querySelectorAll("body style").forEach((element) => show("style", element));
  document.querySelectorAll("*").forEach((element) => {
    for (const attribute of element.attributes) {
      if (/^on/i.test(attribute.name)) show("handler " + attribute.name, element);
      if (/^\\s*(javascript|data|vbscript):/i.test(attribute.value) &&
          /^(href|src|action|formaction|xlink:href|data)$/i.test(attribute.name)) {
        show("url " + attribute.name, element);
      }
    }
  });
  return found;
}"""

# What the page shows as text: its text, form values and the labels of its controls.
SHOWN_TEXT = """() => [
  document.body.innerText,
  ...Array.from(document.querySelectorAll("input, textarea"), (element) => element.value),
  ...Array.from(document.querySelectorAll("[aria-label], [title]"),
    (element) => (element.getAttribute("aria-label") || "") + (element.title || "")),
  document.title,
].join("\\n")"""

# A bare javascript: URL, in fields a template might one day turn into a link.
BARE = "javascript:alert(9)"

# Every page and email that shows a payload shows at least one of these, as text.
LITERALS = ("<svg onload=alert(2)>", "<img src=x onerror=alert(")


@pytest.fixture
def phish():
    """A page on 127.0.0.1 that the payloads try to send people to: it must see no one."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>phished</p>")

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.hits = hits
    yield server
    server.shutdown()
    server.server_close()


def vectors(port: int) -> list[str]:
    return [
        "\"'></title></textarea>",
        f'<meta http-equiv="refresh" content="0;url=//127.0.0.1:{port}/p">',
        "<svg onload=alert(2)>",
        "<img src=x onerror=alert(1)>",
        "<script>alert(3)</script>",
        '<a href="javascript:alert(4)">x</a>',
        "</style><script>alert(5)</script>",
    ]


def payloads(port: int, limit: int = 10_000) -> list[str]:
    """Every vector, packed (first fit, in order) into values of at most `limit` characters:
    the first value always starts by breaking out of an attribute and carries the meta
    refresh when it fits."""
    chunks: list[str] = []
    for vector in vectors(port):
        if len(vector) > limit:
            continue
        for index, chunk in enumerate(chunks):
            if len(chunk) + len(vector) <= limit:
                chunks[index] = chunk + vector
                break
        else:
            chunks.append(vector)
    return chunks


class Watch:
    """One browser context with every tripwire set: dialogs, navigations, CSP reports and
    console errors are recorded as problems; `check` looks at one page."""

    def __init__(self, browser, base_url, who, *, offline_except=None):
        self.who = who
        self.problems = []
        self.offline = offline_except is not None
        self.context = browser.new_context(base_url=base_url)
        if self.offline:
            # Emails are opened as a mail client would show them, without our CSP and with
            # no network: only the phishing page answers, so a navigation would reach it.
            self.context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(offline_except)
                    else route.abort()
                ),
            )
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(GUARD)
        self.page = self.context.new_page()
        self.expected = None
        self.pointed_at = set()  # the timeline bars whose popup was checked already
        self.page.on("dialog", self._dialog)
        self.page.on("framenavigated", self._navigated)
        self.page.on("console", self._console)

    def _console(self, message):
        if message.type != "error" or message.location.get("url", "").endswith("/favicon.ico"):
            return
        if self.offline and message.text.startswith("Failed to load resource"):
            return  # an email's images, refused on purpose
        self.problems.append(f"{self.who} on {self.page.url}: console error: {message.text}")

    def _dialog(self, dialog):
        self.problems.append(f"{self.who} on {self.page.url}: dialog {dialog.message!r}")
        dialog.dismiss()

    def _navigated(self, frame):
        if frame == self.page.main_frame and self.expected and frame.url != self.expected:
            self.problems.append(f"{self.who}: navigated from {self.expected} to {frame.url}")

    def open(self, path, *, what=None) -> bool:
        if not self.navigate(lambda: self.page.goto(path), what=what or path):
            return False
        self.check(what or path)
        return self.page.url == self.expected

    def open_thread(self, thread, *, what):
        """The thread of a step as it opens in the page shown: an htmx swap of `thread`."""
        if self.page.url == self.expected:
            self.page.locator(f'a[href="{thread}"]').first.click()
            self.page.locator("#thread-panel .comment").first.wait_for()
            self.check(what)

    def navigate(self, action, *, what=""):
        """Run `action`, which navigates on purpose. False if a payload took the page
        elsewhere meanwhile (recorded)."""
        self.expected = None
        try:
            action()
            self.page.wait_for_load_state()
        except PlaywrightError as error:
            self.problems.append(f"{self.who} {what}: {error.message.splitlines()[0]}")
            return False
        self.expected = self.page.url
        return True

    def show(self, html, *, what):
        if self.navigate(lambda: self.page.set_content(html), what=what):
            self.check(what)

    def check(self, what):
        page = self.page
        # Point at the timeline's bars named by a payload: the chart shows a popup on
        # mouseenter (after 200 ms), whose title must be the name, as text.
        for bar in page.locator(".gantt .bar-wrapper").all():
            label = bar.locator(".bar-label").text_content()
            if "<" not in label or label in self.pointed_at:
                continue
            self.pointed_at.add(label)
            bar.dispatch_event("mouseenter")
            page.wait_for_timeout(250)
            title = page.locator(".popup-wrapper .title").text_content()
            if title != label:
                self.problems.append(f"{self.who} {what}: popup {title!r} for bar {label!r}")
        # Longer than the payload's refresh delay (0 s), so a refresh would have happened.
        page.wait_for_timeout(300)
        where = f"{self.who} {what}"
        if self.expected and page.url != self.expected:
            self.problems.append(f"{where}: now at {page.url}")
            return
        try:
            found = page.evaluate(FIND_PAYLOAD)
            shown = page.evaluate(SHOWN_TEXT)
            violations = page.evaluate("window.__violations || []")
        except PlaywrightError as error:  # the page went away while we looked
            self.problems.append(f"{where}: {error.message.splitlines()[0]}")
            return
        self.problems += [f"{where}: {element}" for element in found]
        self.problems += [f"{where}: CSP violation {violation}" for violation in violations]
        if not any(literal in shown for literal in LITERALS):
            self.problems.append(f"{where}: no payload shown as text (did this page get one?)")


class Writer:
    """A party writing through the product's own forms (Django's test client: the same
    views, forms, services, signals and emails as a browser)."""

    def __init__(self, client):
        self.client = client

    def post(self, url, data, *, status=302, **extra):
        response = self.client.post(url, data, **extra)
        assert response.status_code == status, (url, response.status_code, response.content[:800])
        return response

    def content_hash(self, url):
        html = self.client.get(url).content.decode()
        return re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)


# The emails where one party's words reach the other (templates/emails/<name>-body.html),
# told apart by their subjects (templates/emails/<name>-subject.txt).
EMAILS = {
    "mention": r" mentioned you on “",
    "room-invitation": r" shared the .* plan with you$",
    "colleague-invited": r" invited .* to the .* deal room$",
    "link-requested": r" needs a new link to the .* deal room$",
    "invitation-reminder": r"^Reminder: your deal room for ",
    "workspace-invitation": r" invited you to .* on Tandem$",
    "signature-request": r"^Please sign the ",
    "signing-code": r"^Your code to sign the ",
    "plan-signed": r" mutual action plan is signed$",
    "digest": r": your steps",
    "weekly-review": r"^Weekly review: ",
    "escalation": r"^Overdue \d+ days: ",
    "stale-plan": r"^No activity on ",
    "buyer-activity": r"",  # its subject is the first notice's text
}


def template_of(message) -> str:
    return next(name for name, words in EMAILS.items() if re.search(words, message.subject))


def pdf_upload(name):
    return SimpleUploadedFile(name, b"%PDF-1.7\n" + b"0" * 100, content_type="application/pdf")


def test_payloads_written_by_one_party_never_act_in_the_others_browser(
    browser, live_server, phish, transactional_db
):
    from plans import builtin_templates

    if not PlanTemplate.objects.filter(organization=None).exists():
        builtin_templates.install(PlanTemplate, TemplateStep)
    port = phish.server_address[1]
    full = "".join(vectors(port))  # every vector: for long fields

    def fit(limit, index=0):
        chunks = payloads(port, limit)
        return chunks[min(index, len(chunks) - 1)]

    short = '"><img src=x onerror=alert(6)>'  # phones (40 characters)
    file_name = "\"'><img src=x onerror=alert(7)><svg onload=alert(8)>.pdf"  # no "/" in a name

    # The seller signs up: their full name and the workspace's name are payloads.
    sam = Writer(Client())
    sam.post(
        reverse("account_signup"),
        {
            "full_name": fit(150),
            "email": "sam@acme.test",
            "workspace_name": fit(120),
            "time_zone": "UTC",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    user = User.objects.get(email="sam@acme.test")
    sam.client.force_login(user)  # a fresh sign-in: signing needs no password again
    org = Organization.objects.get(memberships__user=user)
    o = f"/o/{org.slug}"

    def new_deal(index):
        sam.post(
            f"{o}/deals/new/",
            {
                "account_name": fit(200, index),
                "name": fit(200, index),
                "amount": "50000",
                "currency": "USD",
                "stage": "evaluation",
                "owner": user.pk,
                "target_close_date": (timezone.localdate() + timedelta(days=60)).isoformat(),
            },
        )
        return Deal.objects.filter(organization=org).order_by("-pk").first()

    deal = new_deal(0)
    d = f"{o}/deals/{deal.public_id}"
    core = PlanTemplate.objects.get(organization=None, name="Core (8 steps)")
    target = deal.target_close_date
    sam.post(
        f"{d}/plan/create/",
        {"template": core.pk, "target_date": target.isoformat(), "business_outcome": full},
    )
    plan = Plan.objects.get(deal=deal)
    buyer_due = target - timedelta(days=3)
    review_day = buyer_due - timedelta(days=1)
    while review_day.weekday() >= 5:
        review_day -= timedelta(days=1)
    sam.post(
        f"{d}/plan/overview/",
        {
            "business_outcome": full,
            "success_criteria": f"{full}\n{fit(300)}\n{BARE}",
            "review_weekday": review_day.weekday(),
        },
    )
    for name, email, role, title in [
        ("Dana Buyer", "dana@initech.test", "champion", ""),
        ("Eve Economic", "eve@initech.test", "economic_buyer", ""),
        (fit(150), "larry@initech.test", "legal_reviewer", BARE),
        (fit(150, 1), "sid@acme.test", "se", fit(150)),
    ]:
        sam.post(
            f"{d}/stakeholders/add/",
            {
                "sh-name": name,
                "sh-title": title,
                "sh-email": email,
                "sh-phone": BARE if email.startswith("larry") else short,
                "sh-role": role,
                "sh-is_required_signer": "unknown",
                "sh-user": "",
            },
        )
    dana = Stakeholder.objects.get(deal=deal, email="dana@initech.test")
    eve = Stakeholder.objects.get(deal=deal, email="eve@initech.test")
    seller_owner = Stakeholder.objects.get(deal=deal, role="ae")

    # The seller adds a shared step, then writes its description, notes and a date change.
    due = target - timedelta(days=10)
    sam.post(
        f"{d}/milestones/add/",
        {
            "add-title": fit(200),
            "add-phase": "close",
            "add-buyer_owner": dana.pk,
            "add-seller_owner": seller_owner.pk,
            "add-due_date": due.isoformat(),
            "add-duration_days": 3,
            "add-risk": "legal",
            "add-visibility": "shared",
        },
    )
    seller_step = Milestone.objects.filter(plan=plan).order_by("-pk").first()
    sam.post(
        f"{o}/milestones/{seller_step.public_id}/edit/",
        {
            "title": fit(200),
            "phase": "close",
            "buyer_owner": dana.pk,
            "seller_owner": seller_owner.pk,
            "due_date": (due + timedelta(days=2)).isoformat(),
            "duration_days": 3,
            "status": "in_progress",
            "risk": "legal",
            "visibility": "shared",
            "depends_on": "",
            "description": full,
            "shared_notes": full,
            "internal_note": full,
            "version": seller_step.version,
            "reason": fit(300),
        },
    )
    sam.post(
        f"{o}/milestones/{seller_step.public_id}/comment/",
        {"body": f"@Dana Buyer {full}"},
        status=200,
    )
    sam.post(
        f"{o}/milestones/{seller_step.public_id}/attach/",
        {"file": pdf_upload(file_name)},
        status=200,
    )
    sam.post(
        f"{d}/plan/save-template/",
        {"template-name": fit(120), "template-description": fit(300)},
    )
    template = PlanTemplate.objects.get(organization=org)
    # A second deal, planned from that template, carries the vectors that did not fit.
    other = new_deal(1)
    sam.post(
        f"{o}/deals/{other.public_id}/plan/create/",
        {"template": template.pk, "target_date": target.isoformat(), "business_outcome": full},
    )

    # The champion, in the room: her own details, steps, a proposal, a comment, a file and
    # a colleague.
    dana_writer = Writer(Client())
    open_room(dana_writer.client, dana)
    room_path = f"/room/{deal.public_id}"
    dana_writer.post(
        f"{room_path}/people/{dana.public_id}/edit/",
        {
            f"sh-{dana.public_id}-name": fit(150),
            f"sh-{dana.public_id}-title": fit(150, 1),
            f"sh-{dana.public_id}-phone": short,
        },
    )
    for title in payloads(port, 200):
        dana_writer.post(
            f"{room_path}/steps/add/",
            {
                "add-title": title,
                "add-phase": "close",
                "add-buyer_owner": dana.pk,
                "add-due_date": buyer_due.isoformat(),
                "add-duration_days": 2,
                "add-description": full,
            },
        )
    buyer_step = Milestone.objects.filter(plan=plan, created_by_side="buyer").first()
    dana_writer.post(
        f"{room_path}/steps/{buyer_step.public_id}/propose/",
        {"proposed_date": (target - timedelta(days=1)).isoformat(), "reason": fit(300)},
    )
    dana_writer.post(
        f"{room_path}/steps/{seller_step.public_id}/comment/",
        {"body": f"@{user.full_name} {full}"},
        status=200,
    )
    dana_writer.post(
        f"{room_path}/steps/{seller_step.public_id}/attach/",
        {"file": pdf_upload(file_name)},
        status=200,
    )
    dana_writer.post(
        f"{room_path}/people/add/",
        {
            "sh-name": fit(150),
            "sh-title": fit(150, 1),
            "sh-email": "bill@initech.test",
            "sh-role": "technical_evaluator",
        },
    )

    # A colleague of the seller is invited to the workspace; a revoked link is asked again.
    sam.post(f"{o}/settings/", {"invite-email": "kim@acme.test", "invite-role": "seller"})
    larry = Stakeholder.objects.get(deal=deal, email="larry@initech.test")
    link, revoked = issue_room_link(larry)
    sam.post(f"{o}/links/{link.public_id}/revoke/", {})
    Writer(Client()).post(f"/r/{revoked}/request/", {}, status=200)

    # Signatures: the economic buyer renames herself, declines with a reason, then signs
    # (typed name and browser name are hers to choose); the AE signs.
    sam.post(f"{d}/plan/request-signatures/", {})
    eve_writer = Writer(Client(HTTP_USER_AGENT=full))
    open_room(eve_writer.client, eve)
    eve_writer.post(
        f"{room_path}/people/{eve.public_id}/edit/",
        {f"sh-{eve.public_id}-name": fit(150, 1), f"sh-{eve.public_id}-title": fit(150)},
    )
    eve_writer.post(f"{room_path}/sign/decline/", {"reason": full})
    eve_writer.post(f"{room_path}/sign/code/", {})
    sam.post(f"{d}/plan/request-signatures/", {})
    eve_writer.post(
        f"{room_path}/sign/",
        {
            "content_hash": eve_writer.content_hash(f"{room_path}/sign/"),
            "typed_name": fit(150, 1),
            "consent": "on",
        },
    )
    sam.post(
        f"{d}/plan/sign/",
        {
            "content_hash": sam.content_hash(f"{d}/plan/sign/"),
            "typed_name": user.full_name,
            "consent": "on",
        },
    )
    plan.refresh_from_db()
    assert plan.status == "signed"

    # The pages where the other party sees all this: first the plan page and the room, left
    # open while each side adds a step (live, below).
    seller = Watch(browser, live_server.url, "seller")
    seller.navigate(lambda: sign_in(seller.page, "sam@acme.test", PASSWORD))
    seller.open(deal.get_absolute_url())
    buyer = Watch(browser, live_server.url, "buyer")
    _, token = issue_room_link(Stakeholder.objects.get(pk=dana.pk))
    buyer.open(f"/r/{token}/", what="link page")
    # In through the link page's button (as test_live_room does) would depend on that page
    # staying put: the session of the champion's own link is handed to the browser instead.
    session = dana_writer.client.cookies[settings.SESSION_COOKIE_NAME].value
    buyer.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}]
    )
    buyer.open(f"{room_path}/")

    # Live: each side adds a step; the other's open page swaps in the new rows and redraws
    # its timeline (htmx over the event stream). One write at a time, each awaited on both
    # pages: SQLite serves the live server's threads and this one on one connection.
    for watch in (seller, buyer):
        watch.page.wait_for_function("() => window.__sseOpen === true")
    live_steps = [
        (dana_writer, f"{room_path}/steps/add/", {}),
        (
            sam,
            f"{d}/milestones/add/",
            {"add-seller_owner": seller_owner.pk, "add-visibility": "shared"},
        ),
    ]
    for count, (writer, url, fields) in enumerate(live_steps, start=1):
        writer.post(
            url,
            {
                "add-title": "Live " + fit(195),
                "add-phase": "close",
                "add-buyer_owner": dana.pk,
                "add-due_date": buyer_due.isoformat(),
                "add-duration_days": 2,
                **fields,
            },
        )
        for watch in (seller, buyer):
            watch.page.wait_for_function(
                """(count) => Array.from(document.querySelectorAll(".gantt .bar-label"))
                     .filter((label) => label.textContent.startsWith("Live ")).length === count""",
                arg=count,
            )
    for watch in (seller, buyer):
        watch.check("after live updates")
    # The thread as it opens in these pages (an htmx swap).
    seller.open_thread(f"{o}/milestones/{seller_step.public_id}/thread/", what="thread in page")
    buyer.open_thread(f"{room_path}/steps/{seller_step.public_id}/thread/", what="thread in room")

    for path in [
        f"{o}/milestones/{seller_step.public_id}/thread/",
        f"{o}/milestones/{buyer_step.public_id}/thread/",
        f"{o}/milestones/{seller_step.public_id}/edit/",
        f"{o}/stakeholders/{dana.public_id}/edit/",
        f"{d}/plan/overview/",
        f"{d}/edit/",
        f"{d}/plan/sign/",
        f"{d}/plan/audit/",
        f"{o}/deals/",
        f"{o}/dashboard/",
        f"{o}/templates/",
        f"{o}/templates/{template.public_id}/",
        f"{o}/settings/",
        f"{o}/notifications/",
        other.get_absolute_url(),
    ]:
        seller.open(path)
    for path in [
        f"{room_path}/steps/{seller_step.public_id}/thread/",
        f"{room_path}/steps/{buyer_step.public_id}/propose/",
        f"{room_path}/people/{dana.public_id}/edit/",
        f"{room_path}/sign/",
    ]:
        buyer.open(path)
    _, token = issue_room_link(Stakeholder.objects.get(pk=dana.pk))
    buyer.open(
        reverse(
            "room-act",
            kwargs={"token": token, "milestone_id": buyer_step.public_id, "action": "done"},
        ),
        what="act link page",
    )

    # Reminder sweeps: the digest (the day before the buyer's steps are due, also the weekly
    # review day), escalations of the overdue buyer steps, and the stale-plan alert.
    # Also the reminder of the colleague's unopened invitation, a few days from now.
    today = timezone.localdate()
    # The stale-plan day is moved later past a weekend, never earlier: 14 days after the
    # last activity (now) must have passed by 10:00 of that day, whatever the hour now.
    stale_day = today + timedelta(days=digests.STALE_DAYS + 1)
    while stale_day.weekday() >= 5:
        stale_day += timedelta(days=1)
    for day in [
        today + timedelta(days=5),
        review_day,
        buyer_due + timedelta(days=10),
        stale_day,
    ]:
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        digests.sweep(datetime.combine(day, time(10), tzinfo=UTC))
    reader = Watch(browser, live_server.url, "mail", offline_except=f"http://127.0.0.1:{port}/")
    emails = {
        # One of each kind to each side (the same template for two buyers differs only in
        # names and links).
        (template_of(message), message.to[0].endswith("@acme.test")): (message, html)
        for message in mail.outbox
        for html, mime in getattr(message, "alternatives", [])
        if mime == "text/html"
    }
    for message, html in emails.values():
        reader.show(html, what=f"email {template_of(message)} to {message.to}")
    problems = seller.problems + buyer.problems + reader.problems
    if missing := set(EMAILS) - {kind for kind, _ in emails}:
        problems.append(f"emails not sent, so not checked: {sorted(missing)}")

    document = PlanDocument.objects.get(plan=plan, sealed=True, status="ready")
    with document.file.open("rb") as handle:
        text = "".join(page.extract_text() for page in PdfReader(handle).pages)
    flat = re.sub(r"\s+", "", text)
    for label, literal in [
        ("business outcome", full),
        ("criterion", fit(300)),
        ("step title", fit(200)),
        ("workspace", fit(120)),
        ("account", fit(200)),
        ("names", fit(150)),
        ("names", fit(150, 1)),
    ]:
        if re.sub(r"\s+", "", literal) not in flat:
            problems.append(f"the PDF does not show the {label} as text")
    if phish.hits:
        problems.append(f"the phishing page was reached: {phish.hits}")
    assert not problems, "\n".join(problems)
