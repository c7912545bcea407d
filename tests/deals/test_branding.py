"""Workspace branding: accent colour and logo in the buyer room; link lifetime setting."""

import io

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
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


# --- The logo is checked by content, re-encoded and served as what it is. Before, a GIF
# named logo.pdf was stored as is and served publicly, inline, as application/pdf. -------


def image_bytes(format, size=(40, 20), **options):
    buffer = io.BytesIO()
    mode = "RGB" if format in {"JPEG", "WEBP"} else "RGBA"
    Image.new(mode, size, "#123456").save(buffer, format=format, **options)
    return buffer.getvalue()


def post_logo(client, upload, name="Acme Software"):
    return client.post(
        reverse("deals:workspace-settings", kwargs={"org_slug": "acme"}),
        {
            "ws-name": name,
            "ws-time_zone": "Europe/London",
            "ws-room_link_days": "30",
            "ws-accent_color": "#1f6feb",
            "ws-map_coverage_threshold": "0",
            "ws-logo": upload,
        },
    )


def served_logo(client, organization):
    response = client.get(reverse("room-logo", kwargs={"org_id": organization.public_id}))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_gif_named_pdf_is_refused_next_to_the_field_and_nothing_changes(client, acme_admin, acme):
    client.force_login(acme_admin)
    post_logo(client, SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png"))
    acme.refresh_from_db()
    before = acme.logo.name

    response = post_logo(
        client,
        SimpleUploadedFile("logo.pdf", image_bytes("GIF"), content_type="application/pdf"),
        name="Renamed",
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert "Upload a PNG, JPEG or WebP image" in html
    assert html.index("Upload a PNG, JPEG or WebP image") < html.index('name="ws-logo"')
    acme.refresh_from_db()
    assert acme.logo.name == before
    assert acme.name == "Acme Software"
    assert served_logo(client, acme)[0]["Content-Type"] == "image/png"


def test_png_named_jpg_is_stored_and_served_as_png(client, acme_admin, acme):
    client.force_login(acme_admin)
    uploaded = png_bytes()

    response = post_logo(
        client, SimpleUploadedFile("logo.jpg", uploaded, content_type="image/jpeg")
    )

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.logo.name.startswith("logos/")
    assert acme.logo.name.endswith(".png")
    assert "logo" not in acme.logo.name.removeprefix("logos/")  # our name, not theirs
    logo, body = served_logo(Client(), acme)  # public: rooms and emails show it
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/png"
    assert logo["Content-Disposition"] == "inline; filename=logo.png"
    assert logo["X-Content-Type-Options"] == "nosniff"
    assert logo["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert Image.open(io.BytesIO(body)).size == (40, 20)


def test_served_logo_is_re_encoded_without_metadata_or_trailing_payload(client, acme_admin, acme):
    client.force_login(acme_admin)
    exif = Image.Exif()
    exif[0x010E] = "secret-exif-description"  # ImageDescription
    jpeg = image_bytes("JPEG", exif=exif.tobytes(), comment=b"secret-comment")
    polyglot = jpeg + b"<script>alert(1)</script>%PDF-1.4 trailing payload"

    assert post_logo(client, SimpleUploadedFile("me.jpeg", polyglot)).status_code == 302

    acme.refresh_from_db()
    assert acme.logo.name.endswith(".jpg")
    logo, body = served_logo(client, acme)
    assert logo["Content-Type"] == "image/jpeg"
    assert body != polyglot
    for leftover in (b"secret-exif", b"secret-comment", b"<script>", b"%PDF"):
        assert leftover not in body
    assert Image.open(io.BytesIO(body)).size == (40, 20)


def test_webp_is_accepted_and_stored_as_png(client, acme_admin, acme):
    client.force_login(acme_admin)

    assert (
        post_logo(client, SimpleUploadedFile("logo.webp", image_bytes("WEBP"))).status_code == 302
    )

    acme.refresh_from_db()
    assert served_logo(client, acme)[0]["Content-Type"] == "image/png"


def test_svg_is_refused(client, acme_admin, acme):
    client.force_login(acme_admin)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

    response = post_logo(client, SimpleUploadedFile("logo.png", svg, content_type="image/png"))

    assert response.status_code == 422
    assert b"SVG logos are not accepted" in response.content
    acme.refresh_from_db()
    assert not acme.logo


def _png_header_only(width, height):
    """A tiny PNG file that declares a huge image (what a decompression bomb looks like
    before its pixels are inflated)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_huge_dimensions_are_refused(client, acme_admin, acme):
    client.force_login(acme_admin)

    for width, height in [(5000, 10), (50_000, 50_000)]:
        response = post_logo(
            client, SimpleUploadedFile("logo.png", _png_header_only(width, height))
        )

        assert response.status_code == 422
        assert "The logo has too many pixels: at most 4096×4096" in response.content.decode()
    acme.refresh_from_db()
    assert not acme.logo


def test_logo_over_one_megabyte_is_refused(client, acme_admin, acme):
    client.force_login(acme_admin)

    response = post_logo(
        client, SimpleUploadedFile("logo.png", png_bytes() + b"\0" * (1024 * 1024))
    )

    assert response.status_code == 422
    assert b"The logo must be at most 1 MB." in response.content


def test_a_stored_logo_that_is_not_an_accepted_image_is_not_served(acme):
    """A logo stored before the check (a GIF named logo.pdf) is never served as a PDF."""
    acme.logo.save("logo.pdf", ContentFile(image_bytes("GIF")))

    response = Client().get(reverse("room-logo", kwargs={"org_id": acme.public_id}))

    assert response.status_code == 404


def test_replacing_the_logo_deletes_the_old_file(client, acme_admin, acme):
    client.force_login(acme_admin)
    post_logo(client, SimpleUploadedFile("a.png", png_bytes()))
    acme.refresh_from_db()
    first = acme.logo.name

    post_logo(client, SimpleUploadedFile("b.png", image_bytes("PNG", size=(10, 10))))

    acme.refresh_from_db()
    assert acme.logo.name != first
    assert not acme.logo.storage.exists(first)


def test_stored_files_are_never_served_by_their_path(settings, acme):
    """Logos are served only by `brand_logo` (their real type, nosniff, sandboxed), room
    files and PDFs only by views that check access. Before, `make run` (DEBUG) also served
    the whole media folder at /media/: a GIF stored as logos/logo.pdf as application/pdf."""
    import importlib

    import pytest
    from django.urls import Resolver404, clear_url_caches, resolve

    import config.urls

    acme.logo.save("logo.pdf", ContentFile(image_bytes("GIF")), save=False)
    settings.DEBUG = True
    try:
        urls = importlib.reload(config.urls)
        with pytest.raises(Resolver404):
            resolve(f"/media/{acme.logo.name}", urlconf=urls)
    finally:
        settings.DEBUG = False
        importlib.reload(config.urls)
        clear_url_caches()
