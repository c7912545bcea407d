from deals.emails import render_email


def test_plain_text_parts_and_subjects_are_not_html_escaped(acme):
    from deals.models import User

    inviter = User(email="o@acme.test", full_name="Tom O'Brien & Co")

    message = render_email(
        "workspace-invitation",
        {
            "organization": acme,
            "invited_by": inviter,
            "role": "Seller",
            "url": "http://x/?a=1&b=2",
            "expires_at": None,
        },
        to=["x@y.test"],
    )

    assert "Tom O'Brien & Co" in message.subject
    assert "Tom O'Brien & Co" in message.body
    assert "http://x/?a=1&b=2" in message.body
    html = message.alternatives[0][0]
    assert "O&#x27;Brien &amp; Co" in html
