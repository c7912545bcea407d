"""{% viewer_only %}: what only some viewers of a page see, drawn for one viewer or, in a
pushed fragment, for everyone (hidden and marked; static/js/live.js shows it)."""

from django.template import Context, Template

from plans import viewers

TEMPLATE = Template("{% load viewers %}{% viewer_only keys %}<a>Sign plan</a>{% endviewer_only %}")


def draw(keys, **context) -> str:
    return TEMPLATE.render(Context({"keys": keys, **context}))


def test_a_viewer_holding_a_key_sees_it_as_it_is():
    assert draw(["u1", "eabc"], viewer=frozenset({"u1"})) == "<a>Sign plan</a>"


def test_another_viewer_gets_nothing_of_it():
    assert draw(["u1"], viewer=frozenset({"u2"})) == ""


def test_for_everyone_it_is_hidden_and_marked_with_its_keys():
    html = draw(["u1", "eabc"], viewer=viewers.EVERYONE)

    assert html == '<div class="viewer-only" data-for="eabc u1" hidden><a>Sign plan</a></div>'


def test_no_keys_or_no_viewer_draws_nothing():
    assert draw([], viewer=viewers.EVERYONE) == ""
    assert draw(["u1"]) == ""


def test_a_seller_is_known_by_account_and_by_address(alice):
    class Signer:
        user_id = None
        email = alice.email

    assert viewers.seller_keys(Signer()) <= viewers.user_keys(alice)
    assert alice.email not in " ".join(viewers.user_keys(alice))
