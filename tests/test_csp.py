"""Content-Security-Policy from day one: no inline scripts, styles or hx-on handlers."""

import re
from pathlib import Path

from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def test_pages_send_strict_csp_with_nonce(client, alice):
    client.force_login(alice)

    response = client.get(reverse("deals:deal-list", kwargs={"org_slug": "acme"}))

    policy = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    scripts = re.findall(rb"<script[^>]*>", response.content)
    assert scripts, "htmx must be loaded"
    for tag in scripts:
        assert b"src=" in tag, f"inline script: {tag!r}"
        assert f'nonce="{nonce}"'.encode() in tag
    assert b"htmx-2" in response.content
    assert b'"allowEval":false' in response.content


def test_templates_have_no_inline_styles_scripts_or_hx_on():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if "emails" in path.parts or "pdf" in path.parts:
            continue  # email clients and the PDF renderer are not browsers under our CSP
        text = path.read_text()
        if re.search(r"\sstyle=|hx-on|<style|<script(?![^>]*\ssrc=)", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
