"""Workspace branding: accent colour and logo in the buyer room; link lifetime setting."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from deals.models import Organization


def png_bytes():
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "#123456").save(buffer, format="PNG")
    return buffer.getvalue()


def test_admin_sets_accent_logo_and_link_lifetime(client, acme_admin, acme):
    client.force_login(acme_admin)

    response = client.post(
        reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}),
        {
            "ws-name": "Acme Software",
            "ws-time_zone": "Europe/London",
            "ws-room_link_days": "14",
            "ws-accent_color": "#aa3300",
            "ws-map_coverage_threshold": "0",
            "ws-logo": SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png"),
        },
    )

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.room_link_days == 14
    assert acme.accent_color == "#aa3300"
    assert acme.logo
    css = client.get(reverse("room-theme", kwargs={"org_id": acme.public_id}))
    assert b"--tandem-accent: #aa3300" in css.content
    assert css["Content-Type"] == "text/css"
    logo = client.get(reverse("room-logo", kwargs={"org_id": acme.public_id}))
    assert b"".join(logo.streaming_content).startswith(b"\x89PNG")


def test_bad_accent_colour_is_refused_next_to_the_field(client, acme_admin, acme):
    client.force_login(acme_admin)

    response = client.post(
        reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}),
        {
            "ws-name": "Acme",
            "ws-time_zone": "UTC",
            "ws-room_link_days": "0",
            "ws-accent_color": "red",
        },
    )

    assert response.status_code == 422
    assert b"Use a colour like #1f6feb." in response.content
    assert Organization.objects.get(pk=acme.pk).accent_color == "#1f6feb"


def test_room_carries_the_workspace_theme(dana_client, acme_deal):
    response = dana_client.get(reverse("room", kwargs={"deal_id": acme_deal.public_id}))

    theme = reverse("room-theme", kwargs={"org_id": acme_deal.organization.public_id})
    assert theme.encode() in response.content


def test_logo_of_workspace_without_logo_is_404(client, acme):
    assert client.get(reverse("room-logo", kwargs={"org_id": acme.public_id})).status_code == 404


BAD_ACCENT = "red}</style><script>alert(1)</script><style>*{x:"


def test_theme_writes_only_a_colour_whatever_is_stored(client, acme):
    """The settings form validates the colour; the stylesheet does not trust that alone (a
    value written another way — admin shell, import, an older version — could close the rule
    and add its own)."""
    # Seven characters (the column's length) are enough to close the rule and open another.
    Organization.objects.filter(pk=acme.pk).update(accent_color="red;}*{")

    css = client.get(reverse("room-theme", kwargs={"org_id": acme.public_id})).content.decode()

    assert css.count("#1f6feb") == 4
    assert "red" not in css and "*" not in css and css.count("}") == 1


def test_emails_put_only_a_colour_in_their_style(acme):
    from deals.emails import render_email

    message = render_email(
        "workspace-invitation",
        {"organization": acme, "accent": BAD_ACCENT, "url": "https://x.test/", "role": "seller"},
        to=["new@acme.test"],
    )

    html = message.alternatives[0][0]
    assert "background: #1f6feb;" in html
    assert "red}" not in html and "alert" not in html
