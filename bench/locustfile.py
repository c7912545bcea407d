"""The simulated people of bench/load.py (locust, headless). Not run on its own: load.py
prepares the data file (LOAD_DATA) and chooses the scenario (LOAD_SCENARIO).

Each simulated user takes a slot of its own (a deal, its seller's session, its champion's
room session, a manager's session, an API key), holds the plan's event stream open for the
whole run (as an open page does), and repeats one request without pause (a closed loop: the
figures are what the stack serves at that concurrency, not what people would ask):

    healthz    GET /healthz (the ceiling: the cheapest answer through the whole proxy path)
    plan       GET the seller's plan page
    room       GET the buyer's deal room
    checkoff   POST a step's status from the plan page, as htmx sends it (done / in progress)
    dashboard  GET the manager dashboard of the workspace
    api        GET /api/v1/milestones/?plan=… (Bearer key)

and one scenario at a person's pace, for latencies under the concurrency rather than at
saturation:

    paced      about one request a second per user (0.5–1.5 s apart), drawn from the above
               (plan page 3, room 3, check-off 2, dashboard 1, API 1)
"""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import time
from urllib.parse import urlencode, urlsplit

import gevent
from locust import FastHttpUser, between, constant, events, task

DATA = json.loads(open(os.environ["LOAD_DATA"]).read())  # noqa: SIM115 - read once at import
SCENARIO = os.environ["LOAD_SCENARIO"]
SLOTS = itertools.count()
# The CSRF secret every simulated browser holds in its cookie and echoes in the header
# (Django accepts the unmasked 32-character secret).
CSRF = "loadbenchloadbenchloadbenchload1"
# The event streams of the run: opened, refused (or failed to open), ended by the server
# before the run did. Written to LOAD_DATA's folder when locust quits (statistics are reset
# once every user has started, and streams open while they start).
STREAMS = {"opened": 0, "refused": 0, "dropped": 0}


@events.quitting.add_listener
def _write_streams(environment, **kwargs):
    path = os.path.join(os.path.dirname(os.environ["LOAD_DATA"]), "streams.json")
    with open(path, "w") as out:
        json.dump(STREAMS, out)


PACED = [("plan", 3), ("room", 3), ("checkoff", 2), ("dashboard", 1), ("api", 1)]


class Person(FastHttpUser):
    # Paced: a random pause of 0.5–1.5 s between requests (people do not act in step).
    wait_time = between(0.5, 1.5) if SCENARIO == "paced" else constant(0)
    host = DATA["url"]

    def on_start(self):
        slot = DATA["slots"][next(SLOTS) % len(DATA["slots"])]
        self.slot = slot
        self.steps = itertools.cycle(slot["steps"])
        self.done: set[str] = set()
        side = "buyer" if SCENARIO == "room" else "seller"
        self.cookies = {
            role: f"sessionid={slot[role]}; csrftoken={CSRF}"
            for role in ("seller", "buyer", "manager")
        }
        self.stream = gevent.spawn(self.hold_stream, self.cookies[side])
        if SCENARIO == "paced":
            # Spawned at once, people would all act in the same instant: spread them out.
            gevent.sleep(random.uniform(0, 1.5))

    def on_stop(self):
        self.stream.kill(block=False)

    def hold_stream(self, cookie: str):
        """The plan's event stream, read until the run ends; its opening is recorded (a
        refused or broken stream counts as an error of the run)."""
        url = urlsplit(DATA["url"])
        started = time.perf_counter()
        name = "SSE stream (open)"
        try:
            connection = socket.create_connection((url.hostname, url.port), timeout=10)
            connection.sendall(
                (
                    f"GET /events/plans/{self.slot['plan']}/ HTTP/1.1\r\n"
                    f"Host: {url.netloc}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n"
                ).encode()
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(4096)
                if not chunk:
                    raise ConnectionError("closed before the headers")
                head += chunk
            status = head.split(b" ", 2)[1]
            if status != b"200":
                raise ConnectionError(f"status {status.decode()}")
        except (OSError, ConnectionError, IndexError) as exc:
            STREAMS["refused"] += 1
            events.request.fire(
                request_type="SSE",
                name=name,
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=exc,
            )
            return
        events.request.fire(
            request_type="SSE",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=len(head),
            exception=None,
        )
        STREAMS["opened"] += 1
        connection.settimeout(None)
        try:
            while connection.recv(65536):
                pass
            STREAMS["dropped"] += 1
        except OSError:
            STREAMS["dropped"] += 1
        finally:
            connection.close()

    def _get(self, path: str, name: str, headers: dict):
        with self.client.get(
            path, headers=headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")

    @task
    def scenario(self):
        if SCENARIO == "paced":
            names, weights = zip(*PACED, strict=True)
            getattr(self, random.choices(names, weights)[0])()
        else:
            getattr(self, SCENARIO)()

    def healthz(self):
        self._get("/healthz", "/healthz (ceiling)", {})

    def plan(self):
        slot = self.slot
        self._get(
            f"/o/{slot['slug']}/deals/{slot['deal']}/",
            "plan page (seller)",
            {"Cookie": self.cookies["seller"]},
        )

    def room(self):
        self._get(
            f"/room/{self.slot['deal']}/", "deal room (buyer)", {"Cookie": self.cookies["buyer"]}
        )

    def dashboard(self):
        self._get(
            f"/o/{self.slot['slug']}/dashboard/",
            "dashboard (manager)",
            {"Cookie": self.cookies["manager"]},
        )

    def api(self):
        self._get(
            f"/api/v1/milestones/?plan={self.slot['plan']}",
            "API milestone list",
            {"Authorization": f"Bearer {self.slot['api_key']}"},
        )

    def checkoff(self):
        step = next(self.steps)
        status = "in_progress" if step in self.done else "done"
        self.done.symmetric_difference_update({step})
        with self.client.post(
            f"/o/{self.slot['slug']}/milestones/{step}/status/",
            data=urlencode({"status": status}),
            headers={
                "Cookie": self.cookies["seller"],
                "X-CSRFToken": CSRF,
                "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            name="check-off (htmx POST)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
