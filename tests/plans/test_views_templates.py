import pytest

from plans.models import PlanTemplate
from tests.factories import PlanTemplateFactory, TemplateStepFactory
from tests.helpers import assert_error_next_to, assert_page, snapshot, url


@pytest.fixture
def acme_template(acme):
    template = PlanTemplateFactory(organization=acme, name="Acme way", description="Ours")
    TemplateStepFactory(template=template, title="Kick the tyres")
    return template


def test_template_list_shows_built_ins_and_own_templates_only(alice_client, acme_template, globex):
    PlanTemplateFactory(organization=globex, name="Globex secret")

    html = assert_page(alice_client.get(url("plans:template-list")))

    for name in ["SMB (5 steps)", "Core (8 steps)", "Enterprise (12 steps)", "Acme way"]:
        assert name in html
    assert "Globex secret" not in html
    assert 'aria-label="Edit Acme way"' in html
    assert 'aria-label="Edit Enterprise (12 steps)"' not in html  # built-ins are read-only


def test_template_edit_get_shows_steps(alice_client, acme_template):
    html = assert_page(
        alice_client.get(url("plans:template-edit", template_id=acme_template.public_id))
    )

    assert 'value="Acme way"' in html
    assert "Kick the tyres" in html


def test_template_edit_post_saves(alice_client, acme_template):
    response = alice_client.post(
        url("plans:template-edit", template_id=acme_template.public_id),
        {"name": "Acme way v2", "description": "Better"},
    )

    assert response.status_code == 302
    acme_template.refresh_from_db()
    assert (acme_template.name, acme_template.description) == ("Acme way v2", "Better")


def test_template_edit_empty_name_is_422(alice_client, acme_template):
    before = snapshot()

    response = alice_client.post(
        url("plans:template-edit", template_id=acme_template.public_id),
        {"name": "", "description": "x"},
    )

    html = assert_page(response, 422)
    assert_error_next_to(html, "id_name", "This field is required.")
    assert snapshot() == before


def test_template_delete(alice_client, acme_template):
    response = alice_client.post(
        url("plans:template-delete", template_id=acme_template.public_id), follow=True
    )

    assert "Template “Acme way” deleted." in response.content.decode()
    assert not PlanTemplate.objects.filter(pk=acme_template.pk).exists()


def test_template_delete_refuses_get(alice_client, acme_template):
    response = alice_client.get(url("plans:template-delete", template_id=acme_template.public_id))

    assert response.status_code == 405


@pytest.mark.parametrize("name", ["plans:template-edit", "plans:template-delete"])
def test_built_in_templates_cannot_be_edited_or_deleted(alice_client, enterprise, name):
    before = snapshot()

    response = alice_client.post(url(name, template_id=enterprise.public_id), {"name": "Mine"})

    assert response.status_code == 404
    assert snapshot() == before
