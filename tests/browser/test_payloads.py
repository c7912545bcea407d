"""Nothing one party writes runs or navigates in the other party's browser (issue 13, §2)."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.urls import reverse

from plans.models import Plan
from stakeholders.services import issue_room_link
from tests.conftest import open_room
from tests.factories import PASSWORD, add_buyer, make_deal, make_plan

from .conftest import sign_in

GUARD = """
window.__violations = [];
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

    def __init__(self, browser, base_url, who):
        self.who = who
        self.problems = []
        self.context = browser.new_context(base_url=base_url)
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(GUARD)
        self.page = self.context.new_page()
        self.expected = None
        self.page.on("dialog", self._dialog)
        self.page.on("framenavigated", self._navigated)
        self.page.on(
            "console",
            lambda message: (
                message.type == "error"
                and self.problems.append(f"{self.who}: console error: {message.text}")
            ),
        )

    def _dialog(self, dialog):
        self.problems.append(f"{self.who} on {self.page.url}: dialog {dialog.message!r}")
        dialog.dismiss()

    def _navigated(self, frame):
        if frame == self.page.main_frame and self.expected and frame.url != self.expected:
            self.problems.append(f"{self.who}: navigated from {self.expected} to {frame.url}")

    def open(self, path, *, what=None):
        self.expected = None
        self.page.goto(path)
        self.expected = self.page.url
        self.check(what or path)

    def check(self, what):
        page = self.page
        # Hover the timeline's bars named by a payload: the chart shows a popup on hover
        # (after 200 ms), whose title must be the name, as text.
        for bar in page.locator(".gantt .bar-wrapper").all():
            label = bar.locator(".bar-label").text_content()
            if "<" not in label:
                continue
            bar.locator(".bar").hover(force=True)
            page.wait_for_timeout(250)
            title = page.locator(".popup-wrapper .title").text_content()
            if title != label:
                self.problems.append(f"{self.who} {what}: popup {title!r} for bar {label!r}")
        # Longer than the payload's refresh delay (0 s), so a refresh would have happened.
        page.wait_for_timeout(400)
        where = f"{self.who} {what}"
        if self.expected and page.url != self.expected:
            self.problems.append(f"{where}: now at {page.url}")
            return
        self.problems += [f"{where}: {found}" for found in page.evaluate(FIND_PAYLOAD)]
        self.problems += [
            f"{where}: CSP violation {violation}"
            for violation in page.evaluate("window.__violations || []")
        ]


@pytest.fixture
def deal(transactional_db):
    from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

    acme = OrganizationFactory(name="Acme Software", slug="acme")
    seller = MembershipFactory(
        organization=acme,
        user=UserFactory(email="sam@acme.test", full_name="Sam Seller"),
        role="admin",
    ).user
    deal = make_deal(acme, seller)
    add_buyer(deal, name="Dana Buyer", email="dana@initech.test", role="champion")
    add_buyer(deal, name="Eve Economic", email="eve@initech.test", role="economic_buyer")
    make_plan(deal)
    return deal


def test_payloads_written_by_one_party_never_act_in_the_others_browser(
    browser, live_server, phish, deal
):
    port = phish.server_address[1]
    plan = Plan.objects.get(deal=deal)
    dana = deal.stakeholders.get(email="dana@initech.test")

    buyer = Client()
    open_room(buyer, dana)
    for title in payloads(port, 200):
        response = buyer.post(
            reverse("room-milestone-add", kwargs={"deal_id": deal.public_id}),
            {
                "add-title": title,
                "add-phase": "close",
                "add-buyer_owner": dana.pk,
                "add-due_date": (plan.target_signature_date - timedelta(days=3)).isoformat(),
                "add-duration_days": 2,
                "add-description": "".join(payloads(port)),
            },
        )
        assert response.status_code == 302, response.content[:300]

    seller = Watch(browser, live_server.url, "seller")
    sign_in(seller.page, "sam@acme.test", PASSWORD)
    seller.open(deal.get_absolute_url(), what="plan page")

    _, token = issue_room_link(dana)
    room = Watch(browser, live_server.url, "buyer")
    room.page.goto(f"/r/{token}/")
    room.page.get_by_role("button", name="Open deal room").click()
    room.page.wait_for_url("**/room/**")
    room.open(reverse("room", kwargs={"deal_id": deal.public_id}), what="room")

    problems = seller.problems + room.problems
    if phish.hits:
        problems.append(f"the phishing page was reached: {phish.hits}")
    assert not problems, "\n".join(problems)
