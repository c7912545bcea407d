import pytest
from django.urls import reverse

ORG_PAGES = ["deals:workspace-home", "deals:deal-list", "deals:workspace-settings"]


@pytest.mark.parametrize("name", ORG_PAGES)
def test_org_pages_other_org_is_404(client, alice, globex, charlie, name):
    client.force_login(alice)

    response = client.get(reverse(name, kwargs={"org_slug": "globex"}))

    assert response.status_code == 404


@pytest.mark.parametrize("name", ORG_PAGES)
def test_org_pages_unknown_org_is_404(client, alice, name):
    client.force_login(alice)

    assert client.get(reverse(name, kwargs={"org_slug": "nowhere"})).status_code == 404


@pytest.mark.parametrize("name", ORG_PAGES)
def test_org_pages_anonymous_redirects_to_sign_in(client, acme, name):
    url = reverse(name, kwargs={"org_slug": "acme"})

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_deal_list_member_sees_own_workspace(client, alice):
    client.force_login(alice)

    response = client.get(reverse("deals:deal-list", kwargs={"org_slug": "acme"}))

    assert response.status_code == 200
    assert b"Deals" in response.content
    assert b"Acme Software" in response.content


def test_home_redirects_to_last_workspace(client, alice, globex):
    from deals.models import Membership

    Membership.objects.create(organization=globex, user=alice, role="seller")
    client.force_login(alice)
    client.get(reverse("deals:deal-list", kwargs={"org_slug": "globex"}))

    response = client.get("/")

    assert response["Location"] == "/o/globex/deals/"


@pytest.mark.parametrize(
    ("role", "home"), [("seller", "/o/acme/deals/"), ("manager", "/o/acme/dashboard/")]
)
def test_a_workspaces_address_opens_its_home(client, acme, role, home):
    """/o/acme/ (the README's address of the demo workspace) and / both lead there: the
    deals for sellers, the pipeline dashboard for managers."""
    from deals.models import Membership
    from tests.factories import UserFactory

    user = UserFactory()
    Membership.objects.create(organization=acme, user=user, role=role)
    client.force_login(user)

    assert client.get("/o/acme/")["Location"] == home
    assert client.get("/")["Location"] == home
    assert client.get(home).status_code == 200


def test_workspace_switcher_lists_every_workspace_of_the_user(client, alice, globex):
    from deals.models import Membership

    Membership.objects.create(organization=globex, user=alice, role="seller")
    client.force_login(alice)

    response = client.get(reverse("deals:deal-list", kwargs={"org_slug": "acme"}))

    assert b'href="/o/globex/deals/"' in response.content
    assert b'href="/o/acme/deals/"' in response.content


def test_home_without_workspace_offers_to_create_one(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory())

    response = client.get("/", follow=True)

    assert response.redirect_chain[-1][0] == reverse("workspace-create")
    response = client.post(
        reverse("workspace-create"), {"name": "New Co", "time_zone": "Asia/Tokyo"}
    )
    assert response["Location"] == "/o/new-co/deals/"


def test_for_org_scopes_rows(alice, charlie, acme, globex):
    from deals.models import Membership

    assert set(Membership.objects.for_org(acme).values_list("user__email", flat=True)) == {
        "alice@acme.test"
    }
