"""The client's address behind proxies, and the security log's append-only entries."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import RequestFactory

from deals.models import SecurityEvent
from deals.security import client_ip, record, record_for_user


def _request(remote, forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_client_ip_without_trusted_proxies_ignores_forwarded_header(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_client_ip_from_untrusted_peer_ignores_spoofed_header(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(_request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"


def test_client_ip_behind_trusted_proxy_is_the_forwarded_client(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(_request("127.0.0.1", "198.51.100.1")) == "198.51.100.1"


def test_client_ip_reads_from_the_right_past_trusted_hops_only(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    # The client wrote "1.2.3.4" itself; our proxies appended the real hops.
    request = _request("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.1.2.3")
    assert client_ip(request) == "198.51.100.7"


def test_client_ip_garbage_in_header_stops_at_last_trusted_hop(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client_ip(_request("127.0.0.1", "not-an-ip")) == "127.0.0.1"


def test_client_ip_ipv6_proxy_network(settings):
    settings.TRUSTED_PROXIES = ["::1", "fd00::/8"]
    assert client_ip(_request("::1", "2001:db8::5, fd00::1")) == "2001:db8::5"


def test_record_takes_address_agent_and_user_from_request(acme, alice, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    request = _request("127.0.0.1", "198.51.100.1")
    request.META["HTTP_USER_AGENT"] = "Browser/1.0"
    request.user = alice
    event = record(acme, SecurityEvent.Kind.API_KEY_CREATED, request=request, target="CRM key")
    event.refresh_from_db()
    assert (event.ip_address, event.user_agent, event.user, event.actor_email) == (
        "198.51.100.1",
        "Browser/1.0",
        alice,
        "alice@acme.test",
    )


def test_record_for_user_writes_one_entry_per_workspace(acme, globex, alice):
    from tests.factories import MembershipFactory

    MembershipFactory(organization=globex, user=alice)
    events = record_for_user(alice, SecurityEvent.Kind.SIGN_IN)
    assert {e.organization_id for e in events} == {acme.pk, globex.pk}


def test_security_event_cannot_be_changed_or_deleted_by_the_app(acme):
    event = record(acme, SecurityEvent.Kind.SIGN_IN, actor="x")
    event.summary = "changed"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger is PostgreSQL only")
def test_security_event_update_refused_by_postgresql(acme):
    event = record(acme, SecurityEvent.Kind.SIGN_IN, actor="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=event.pk).update(summary="tampered")
    assert SecurityEvent.objects.get(pk=event.pk).summary == ""


def test_deleting_a_user_keeps_their_entries_with_name_and_email(acme, alice):
    event = record(acme, SecurityEvent.Kind.SIGN_IN, user=alice)

    alice.delete()

    event = SecurityEvent.objects.get(pk=event.pk)
    assert (event.user, event.actor, event.actor_email) == (None, "Alice Seller", "alice@acme.test")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigger is PostgreSQL only")
def test_security_event_update_setting_user_and_more_is_refused(acme, alice):
    event = record(acme, SecurityEvent.Kind.SIGN_IN, user=alice)
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurityEvent.objects.filter(pk=event.pk).update(user=None, actor="someone else")
    assert SecurityEvent.objects.get(pk=event.pk).actor == "Alice Seller"
