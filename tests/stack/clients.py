"""What the stack tests use to act as people and as the outside world: a seller and a buyer
in plain HTTP sessions through nginx (as a browser with htmx sends requests), an open event
stream, a webhook receiver, and the stack's database read directly."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import requests

from plans.management.commands.seed_demo import DEMO_PASSWORD

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class Answer:
    """One request as the client saw it."""

    method: str
    path: str
    status: int
    seconds: float
    body: str = ""
    content_type: str = ""
    content: bytes = b""
    at: float = field(default_factory=time.monotonic)


class Person:
    """A requests session through nginx. Writes are sent as htmx sends them (HX-Request and
    the CSRF header), so a success is a 2xx fragment."""

    def __init__(self, base_url: str, *, timeout: float = 15):
        self.base = base_url
        self.session = requests.Session()
        self.timeout = timeout

    def request(self, method: str, path: str, *, htmx: bool = False, **kwargs) -> Answer:
        headers = kwargs.pop("headers", {})
        timeout = kwargs.pop("timeout", self.timeout)
        headers.setdefault("Referer", self.base + path)
        if htmx:
            headers["HX-Request"] = "true"
        if method != "GET":
            headers["X-CSRFToken"] = self.session.cookies.get("csrftoken", "")
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                self.base + path,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            return Answer(method, path, 0, time.monotonic() - started, repr(exc))
        seconds = time.monotonic() - started
        content_type = response.headers.get("Content-Type", "")
        text = response.text if "text" in content_type or "json" in content_type else ""
        return Answer(
            method, path, response.status_code, seconds, text, content_type, response.content
        )

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, data: dict | None = None, **kwargs) -> Answer:
        return self.request("POST", path, data=data or {}, **kwargs)

    def _form_post(self, path: str, data: dict) -> Answer:
        page = self.get(path)
        assert page.status == 200, (path, page.status, page.body[:500])
        token = CSRF_FIELD.search(page.body).group(1)
        return self.post(path, {"csrfmiddlewaretoken": token, **data})


def sign_in(base_url: str, email: str, password: str = DEMO_PASSWORD) -> Person:
    person = Person(base_url)
    answer = person._form_post("/accounts/login/", {"login": email, "password": password})
    assert answer.status == 302, (answer.status, answer.body[:500])
    return person


def open_room(base_url: str, room_url: str) -> Person:
    """A buyer who followed their emailed link and pressed "Open deal room"."""
    person = Person(base_url)
    path = "/" + room_url.split("/", 3)[3]
    answer = person._form_post(path, {})
    assert answer.status == 302 and answer.body == "", (answer.status, answer.body[:500])
    return person


class EventStream(threading.Thread):
    """A plan's event stream held open by `person`, read in a thread: the event names
    received, with the time each arrived."""

    def __init__(self, person: Person, plan_id: str):
        super().__init__(daemon=True)
        self.url = f"{person.base}/events/plans/{plan_id}/"
        self.session = person.session
        self.events: list[tuple[float, str]] = []
        self.connected = threading.Event()
        self.ended = threading.Event()
        self.status = None
        self._response = None

    def run(self):
        try:
            with self.session.get(self.url, stream=True, timeout=(5, 60)) as response:
                self._response = response
                self.status = response.status_code
                buffer = b""
                for chunk in response.iter_content(chunk_size=None):
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.startswith(b": connected"):
                            self.connected.set()
                        elif line.startswith(b"event: "):
                            self.events.append((time.monotonic(), line[7:].decode()))
        except (requests.RequestException, AttributeError, ValueError):
            pass
        finally:
            self.ended.set()

    def names_since(self, moment: float) -> list[str]:
        return [name for at, name in list(self.events) if at >= moment]

    def wait_for(self, name: str, *, since: float, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if name in self.names_since(since):
                return True
            time.sleep(0.05)
        return False

    def close(self):
        if self._response is not None:
            self._response.close()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that answers 200 to every delivery and keeps its
    `webhook-id` and event type."""

    def __init__(self):
        received = self.received = []
        lock = self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    received.append((self.headers["webhook-id"], json.loads(body)["type"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tandem"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def counts(self) -> Counter:
        with self.lock:
            return Counter(webhook_id for webhook_id, _ in self.received)


def query(database_url: str, sql: str, params=()) -> list[tuple]:
    """Rows of `sql` on the stack's database (a short connection of its own)."""
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()


def wait_until(condition, *, timeout: float, step: float = 0.25):
    """condition()'s first truthy value within `timeout` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def mail_counts(stack, *, since: int = 0) -> Counter:
    """(recipient, subject) of every message the stack's SMTP sink accepted, counted."""
    return Counter((m["To"], m["Subject"]) for m in stack.mail.snapshot()[since:])


class _FormReader(HTMLParser):
    """The values a browser would submit for the first <form> of a page or fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: list[tuple[str, str]] = []
        self._forms = 0
        self._select: str | None = None
        self._multiple = False
        self._options: list[tuple[str, bool]] = []
        self._option: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._forms += 1
        if self._forms != 1:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self.values.append((name, attrs.get("value", "on")))
            elif kind not in {"submit", "button", "file", "reset"}:
                self.values.append((name, attrs.get("value", "")))
        elif tag == "select" and name:
            self._select, self._options = name, []
            self._multiple = "multiple" in attrs
        elif tag == "option" and self._select is not None:
            self._option = attrs.get("value")
            self._options.append((self._option, "selected" in attrs))
            self._text = ""
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):
        self._text += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is None and self._options:
            value, selected = self._options[-1]
            self._options[-1] = (self._text.strip(), selected)
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected]
            if not chosen and self._options and not self._multiple:
                chosen = [self._options[0][0]]
            self.values.extend((self._select, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.values.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def form_values(html: str) -> dict[str, str | list[str]]:
    """The first form's values as a browser submits them (a name given several values, as
    a multiple select does, maps to the list)."""
    reader = _FormReader()
    reader.feed(html)
    values: dict[str, str | list[str]] = {}
    for name, value in reader.values:
        if name in values:
            previous = values[name]
            values[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[name] = value
    return values
