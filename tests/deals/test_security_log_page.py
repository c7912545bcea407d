"""Settings → Security log: admins only, newest first in the workspace's time zone,
filters, pages of 50, CSV export of the filtered set; nothing can edit or delete an entry."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.http import StreamingHttpResponse
from django.urls import NoReverseMatch, reverse

from deals.models import SecurityEvent
from deals.user_agents import describe
from deals.views import spreadsheet_safe
from tests.factories import MembershipFactory

Kind = SecurityEvent.Kind
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _url(slug="acme", name="security-log"):
    return reverse(f"deals:{name}", kwargs={"org_slug": slug})


def _entry(organization, kind=Kind.SIGN_IN, *, at=None, **fields):
    fields.setdefault("actor", "Ada Admin")
    fields.setdefault("actor_email", "admin@acme.test")
    return SecurityEvent.objects.create(
        organization=organization,
        kind=kind,
        created_at=at or datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        **fields,
    )


@pytest.fixture
def admin_client(client, acme_admin):
    client.force_login(acme_admin)
    return client


def _rows(response):
    """The (what, who) of each row of the table, in order."""
    html = response.content.decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return body.split("<tr>")[1:]


# Access ---------------------------------------------------------------------------------------


def test_security_log_admin_sees_entries_newest_first_in_workspace_time(admin_client, acme):
    _entry(acme, Kind.SIGN_IN, at=datetime(2025, 6, 2, 9, 30, tzinfo=UTC))
    _entry(
        acme,
        Kind.ROLE_CHANGED,
        at=datetime(2025, 6, 3, 23, 15, tzinfo=UTC),
        ip_address="198.51.100.7",
        user_agent=FIREFOX,
        target="Alice Seller <alice@acme.test>",
        summary="Seller → Manager",
    )

    response = admin_client.get(_url())

    assert response.status_code == 200
    rows = _rows(response)
    assert len(rows) == 2
    newest = rows[0]
    # Acme is in Europe/London: 23:15 UTC on 3 June is 00:15 on 4 June (BST).
    assert "4 Jun 2025, 00:15:00" in newest
    for text in [
        "Role changed",
        "Ada Admin",
        "admin@acme.test",
        "198.51.100.7",
        "Firefox 128 on Linux",
        f'title="{FIREFOX}"',
        "Alice Seller &lt;alice@acme.test&gt;",
        "Seller → Manager",
    ]:
        assert text in newest
    assert "Signed in" in rows[1] and "2 Jun 2025, 10:30:00" in rows[1]


@pytest.mark.parametrize("persona", ["alice", "bob"])
def test_security_log_is_404_to_sellers_and_managers(client, acme, persona, request):
    _entry(acme)
    client.force_login(request.getfixturevalue(persona))

    assert client.get(_url()).status_code == 404
    assert client.get(_url(name="security-log-export")).status_code == 404


def test_security_log_is_404_to_anonymous_visitors(client, acme):
    assert client.get(_url()).status_code == 404
    assert client.get(_url(name="security-log-export")).status_code == 404


def test_security_log_of_another_workspace_is_404_and_never_mixed(client, acme, globex, charlie):
    from deals.models import Membership

    Membership.objects.filter(user=charlie).update(role="admin")
    _entry(acme, target="acme-secret-target")
    _entry(globex, actor="Charlie Globex", target="globex-target")
    client.force_login(charlie)

    assert client.get(_url("acme")).status_code == 404
    assert client.get(_url("acme", "security-log-export")).status_code == 404
    own = client.get(_url("globex"))
    export = client.get(_url("globex", "security-log-export"))

    assert b"globex-target" in own.content and b"acme-secret-target" not in own.content
    content = b"".join(export.streaming_content)
    assert b"globex-target" in content and b"acme-secret-target" not in content


def test_settings_page_links_the_security_log_for_admins_only(client, acme, acme_admin, alice):
    client.force_login(acme_admin)
    settings_url = reverse("deals:workspace-settings", kwargs={"org_slug": "acme"})
    assert _url().encode() in client.get(settings_url).content

    client.force_login(alice)
    assert _url().encode() not in client.get(settings_url).content


# Append-only --------------------------------------------------------------------------------


def test_security_log_has_no_way_to_change_or_delete_entries(admin_client, acme):
    event = _entry(acme)

    assert admin_client.post(_url()).status_code == 405
    assert admin_client.post(_url(name="security-log-export")).status_code == 405
    for name in ["security-log-edit", "security-log-delete", "security-event-delete"]:
        with pytest.raises(NoReverseMatch):
            reverse(f"deals:{name}", kwargs={"org_slug": "acme"})
    assert SecurityEvent.objects.get(pk=event.pk).actor == "Ada Admin"
    if admin.site.is_registered(SecurityEvent):  # pragma: no cover - not registered today
        model_admin = admin.site._registry[SecurityEvent]
        assert not model_admin.has_change_permission(None)
        assert not model_admin.has_delete_permission(None)


# Filters --------------------------------------------------------------------------------------


def _kinds(response):
    return [
        SecurityEvent.Kind(kind).label
        for kind in Kind.values
        for row in _rows(response)
        if f"<td>{SecurityEvent.Kind(kind).label}</td>" in row
    ]


def test_security_log_filters_by_kind_and_by_group(admin_client, acme):
    _entry(acme, Kind.SIGN_IN)
    _entry(acme, Kind.API_KEY_CREATED)
    _entry(acme, Kind.LOCKOUT, details={"limit": "sign-in"}, target="sign-in lockout")
    _entry(acme, Kind.LOCKOUT, details={"limit": "room-link"}, target="room lockout")
    _entry(acme, Kind.SIGNED)

    by_kind = admin_client.get(_url(), {"kind": "api_key_created"})
    sign_in = admin_client.get(_url(), {"kind": "group:sign-in"})
    buyers = admin_client.get(_url(), {"kind": "group:buyer-access"})

    assert _kinds(by_kind) == ["API key created"]
    assert len(_rows(sign_in)) == 2 and b"sign-in lockout" in sign_in.content
    assert b"room lockout" not in sign_in.content
    assert len(_rows(buyers)) == 1 and b"room lockout" in buyers.content


def test_every_kind_belongs_to_a_group():
    grouped = {kind for _, kinds, _ in SecurityEvent.GROUPS.values() for kind in kinds}
    assert grouped | {Kind.LOCKOUT} == set(Kind.values)


def test_security_log_filters_by_actor_text_date_range_and_ip(admin_client, acme):
    _entry(acme, actor="Bob Manager", actor_email="bob@acme.test", target="bob-entry")
    _entry(acme, actor="Dana Buyer", actor_email="dana@initech.test", target="dana-entry")
    # 23:30 UTC on 1 June is 00:30 on 2 June in London.
    _entry(acme, at=datetime(2025, 6, 1, 23, 30, tzinfo=UTC), target="late-entry")
    _entry(acme, at=datetime(2025, 5, 31, 12, 0, tzinfo=UTC), target="may-entry")
    _entry(acme, ip_address="2001:db8::5", target="v6-entry")

    def targets(**params):
        response = admin_client.get(_url(), params)
        assert response.status_code == 200
        return {t for t in ["bob", "dana", "late", "may", "v6"] if f"{t}-entry" in response.text}

    assert targets(who="INITECH") == {"dana"}
    assert targets(who="bob manager") == {"bob"}
    assert targets(since="2025-06-02") == {"bob", "dana", "late", "v6"}
    assert targets(until="2025-06-01") == {"may"}
    assert targets(since="2025-06-01", until="2025-06-01") == set()
    assert targets(ip="2001:DB8:0::5") == {"v6"}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"kind": "drop_table"}, "kind", "Choose an event or a group from the list."),
        ({"kind": "group:nothing"}, "kind", "Choose an event or a group from the list."),
        ({"since": "yesterday"}, "since", "Enter a date such as 2025-01-31."),
        ({"until": "9999-12-31"}, "until", "Choose a date between 2000 and 2999."),
        ({"since": "2025-06-02", "until": "2025-06-01"}, "until", "on or after"),
        ({"ip": "10.0.0.300"}, "ip", "Enter one IP address"),
        ({"who": "x" * 300}, "who", "Enter at most 254 characters."),
    ],
)
def test_security_log_bad_filter_says_what_is_wrong_next_to_it(
    admin_client, acme, params, field, message
):
    _entry(acme, target="should-not-show")

    response = admin_client.get(_url(), params)

    assert response.status_code == 422
    html = response.content.decode()
    error = html.split(f'id="id_{field}-error"', 1)[1].split("</span>", 1)[0]
    assert message.replace("“", "&ldquo;") in error or message in error
    assert "should-not-show" not in html
    export = admin_client.get(_url(name="security-log-export"), params)
    assert export.status_code == 422 and export["Content-Type"].startswith("text/plain")


def test_security_log_pages_of_fifty_keep_the_filters(admin_client, acme):
    start = datetime(2025, 6, 1, tzinfo=UTC)
    for n in range(120):
        _entry(acme, Kind.SIGN_IN, at=start + timedelta(minutes=n), target=f"entry-{n:03}")
    _entry(acme, Kind.SIGNED, at=start + timedelta(days=1))

    first = admin_client.get(_url(), {"kind": "sign_in"})
    third = admin_client.get(_url(), {"kind": "sign_in", "page": "3"})
    beyond = admin_client.get(_url(), {"kind": "sign_in", "page": "99"})
    garbage = admin_client.get(_url(), {"kind": "sign_in", "page": "x"})

    assert len(_rows(first)) == 50 and "entry-119" in _rows(first)[0]
    assert b"?kind=sign_in&amp;page=2" in first.content
    assert len(_rows(third)) == 20 and "entry-000" in _rows(third)[-1]
    assert b"Page 3 of 3" in beyond.content
    assert b"Page 1 of 3" in garbage.content


def test_security_log_htmx_page_is_only_the_results(admin_client, acme):
    _entry(acme)

    response = admin_client.get(
        _url(), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="security-log-results"
    )

    assert response.content.decode().lstrip().startswith('<section id="security-log-results"')
    assert b"<form" not in response.content


# CSV export -----------------------------------------------------------------------------------


def _csv(response):
    assert isinstance(response, StreamingHttpResponse)
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_security_log_export_has_every_column_of_the_filtered_set(admin_client, acme):
    _entry(
        acme,
        Kind.API_KEY_NEW_IP,
        at=datetime(2025, 6, 2, 9, 30, tzinfo=UTC),
        actor="API key “CRM”",
        actor_email="",
        ip_address="203.0.113.9",
        user_agent="crm/2.0",
        target="CRM (tdm_abcd1234…)",
        summary="First request from 203.0.113.9.",
        details={"key": "k1"},
    )
    _entry(acme, Kind.SIGN_IN, target="not-exported")

    response = admin_client.get(_url(name="security-log-export"), {"kind": "group:api"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="tandem-acme-security')
    assert response["Cache-Control"] == "no-store"
    header, *rows = _csv(response)
    assert header == [
        "time",
        "kind",
        "event",
        "actor",
        "actor_email",
        "ip_address",
        "user_agent",
        "target",
        "summary",
        "details",
    ]
    assert rows == [
        [
            "2025-06-02T10:30:00+01:00",
            "api_key_new_ip",
            "API key used from a new IP address",
            "API key “CRM”",
            "",
            "203.0.113.9",
            "crm/2.0",
            "CRM (tdm_abcd1234…)",
            "First request from 203.0.113.9.",
            '{"key": "k1"}',
        ]
    ]


def test_security_log_export_neutralises_formulas(admin_client, acme):
    _entry(
        acme,
        Kind.SIGNING_CODE_FAILED,
        actor='=HYPERLINK("http://evil.example","x")',
        actor_email="@evil.example",
        user_agent="+cmd|' /C calc'!A0",
        target="-2+3",
        summary="\tTabbed",
        details={"note": "=1+1"},
    )
    _entry(acme, Kind.SIGN_IN, summary="\rcarriage")

    _, first, second = _csv(admin_client.get(_url(name="security-log-export")))

    # Newest first: the sign-in was written last.
    assert second[1] == "signing_code_failed"
    actor, email, agent, target, summary, details = (second[i] for i in (3, 4, 6, 7, 8, 9))
    assert actor == '\'=HYPERLINK("http://evil.example","x")'
    assert (email, agent, target, summary) == (
        "'@evil.example",
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'\tTabbed",
    )
    assert details == '{"note": "=1+1"}'  # JSON starts with "{": inert
    assert first[8] == "'\rcarriage"
    assert all(cell[:1] not in "=+-@\t\r" for row in (first, second) for cell in row if cell)


def test_spreadsheet_safe_prefixes_exactly_the_formula_starts():
    assert [spreadsheet_safe(v) for v in ["=a", "+a", "-a", "@a", "\ta", "\ra", "a=", "", "1"]] == [
        "'=a",
        "'+a",
        "'-a",
        "'@a",
        "'\ta",
        "'\ra",
        "a=",
        "",
        "1",
    ]


# Query counts ---------------------------------------------------------------------------------


def _grow(organization, count):
    SecurityEvent.objects.bulk_create(
        SecurityEvent(
            organization=organization,
            kind=Kind.SIGN_IN,
            actor=f"User {n}",
            actor_email=f"u{n}@acme.test",
            ip_address="203.0.113.9",
            user_agent=FIREFOX,
        )
        for n in range(count)
    )


def test_security_log_page_query_count_is_constant(
    admin_client, acme, django_assert_max_num_queries
):
    _grow(acme, 3)
    admin_client.get(_url())  # the session remembers the workspace once
    with django_assert_max_num_queries(8) as small:
        assert admin_client.get(_url(), {"kind": "group:sign-in"}).status_code == 200
    _grow(acme, 200)

    with django_assert_max_num_queries(len(small.captured_queries)):
        response = admin_client.get(_url(), {"kind": "group:sign-in", "page": "2"})

    assert len(_rows(response)) == 50


def test_security_log_export_query_count_is_constant(
    admin_client, acme, django_assert_max_num_queries
):
    _grow(acme, 3)
    admin_client.get(_url())  # the session remembers the workspace once
    with django_assert_max_num_queries(8) as small:
        rows = _csv(admin_client.get(_url(name="security-log-export")))
    assert len(rows) == 4
    _grow(acme, 600)

    with django_assert_max_num_queries(len(small.captured_queries)):
        rows = _csv(admin_client.get(_url(name="security-log-export")))

    assert len(rows) == 604


# User agents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (FIREFOX, "Firefox 128 on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
            "Edge 120 on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.2 Safari/605.1.15",
            "Safari 17 on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
            "Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.6099.28 Safari/537.36",
            "Headless Chrome 120 on Linux",
        ),
        ("Mozilla/5.0 (Linux; rv:1.0) Unknown/1.0", "Mozilla/5.0 on Linux"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("x" * 100, "x" * 39 + "…"),
        ("", ""),
    ],
)
def test_user_agent_is_described_in_a_few_words(user_agent, expected):
    assert describe(user_agent) == expected


def test_other_workspace_admin_memberships_do_not_open_the_log(client, acme, globex, acme_admin):
    """An admin of Globex who is only a seller in Acme sees Acme's log as a 404."""
    other = MembershipFactory(organization=globex, role="admin").user
    MembershipFactory(organization=acme, user=other, role="seller")
    client.force_login(other)

    assert client.get(_url("acme")).status_code == 404
    assert client.get(_url("globex")).status_code == 200
