"""Scale-out: two web (gunicorn) and two events (uvicorn) processes behind nginx, as
`docker compose up --scale web=2 --scale events=2` runs them.

A seller signed in through the proxy is signed in on each web process (sessions live in the
shared database, not in a process); a buyer's check-off POSTed through the proxy reaches
event streams held on each events process (the events go through Redis, not through the
process that saved the change); the requests nginx spreads over the processes all succeed.
"""

from __future__ import annotations

import time

from .clients import EventStream, Person, open_room, sign_in
from .test_redis_outage import initech


def _at(person: Person, base_url: str) -> Person:
    """The same browser session, talking to `base_url` (one process, past nginx)."""
    direct = Person(base_url)
    direct.session = person.session
    return direct


def _ports(stack, kind: str) -> list[int]:
    return [
        process.port
        for name, process in sorted(stack.processes.items())
        if name.rstrip("0123456789") == kind
    ]


def test_a_session_and_a_change_reach_every_process(demo_stack):
    stack = demo_stack
    web_ports, events_ports = _ports(stack, "web"), _ports(stack, "events")
    assert len(web_ports) == 2 and len(events_ports) == 2, stack.processes.keys()
    ids = initech(stack.database_url)
    deal, plan, step = ids["deal"], ids["plan"], ids["buyer_steps"][0]
    seller = sign_in(stack.url, "seller@example.com")
    buyer = open_room(stack.url, stack.room_url)

    # Signed in through nginx, signed in on each web process.
    for port in web_ports:
        page = _at(seller, f"http://127.0.0.1:{port}").get(f"/o/acme/deals/{deal}/")
        assert page.status == 200, (port, page.status, page.body[:300])
        assert "Initech" in page.body
    anonymous = Person(f"http://127.0.0.1:{web_ports[0]}").get(f"/o/acme/deals/{deal}/")
    assert anonymous.status == 302

    # Streams held on each events process (opened past nginx, so each process surely
    # holds one of each side) and two more through nginx.
    streams = [
        EventStream(_at(person, f"http://127.0.0.1:{port}"), plan)
        for port in events_ports
        for person in (seller, buyer)
    ] + [EventStream(seller, plan), EventStream(buyer, plan)]
    for stream in streams:
        stream.start()
    try:
        for stream in streams:
            assert stream.connected.wait(20), (stream.url, stream.status)

        # The buyer checks their step off through nginx (it lands on one web process).
        before = time.monotonic()
        done = buyer.post(f"/room/{deal}/steps/{step}/status/", {"status": "done"}, htmx=True)
        assert done.status == 200, done.body[:300]
        for stream in streams:
            assert stream.wait_for(f"milestone-{step}", since=before, timeout=5), (
                stream.url,
                stream.events[-5:],
            )

        # What nginx spreads over the processes: every request answered.
        pages = [seller.get(f"/o/acme/deals/{deal}/") for _ in range(10)]
        pages += [buyer.get(f"/room/{deal}/") for _ in range(10)]
        assert [page.status for page in pages] == [200] * 20
    finally:
        for stream in streams:
            stream.close()
        buyer.post(f"/room/{deal}/steps/{step}/status/", {"status": "in_progress"}, htmx=True)
