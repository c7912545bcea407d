"""{% viewer_only keys %}…{% endviewer_only %}: content that only some viewers of a page see
(plans/viewers.py). `keys` is one key or several.

Drawn for one viewer (the context's `viewer`: their keys), the content is there when the
viewer holds one of `keys`, and absent otherwise. Drawn for everyone (`viewer` is EVERYONE:
a fragment pushed to every open page of an audience), it is there hidden, inside
`<div class="viewer-only" data-for="…" hidden>`, and static/js/live.js shows it on the
pages of those viewers. A template drawn without `viewer` shows it to nobody.
"""

from django import template
from django.utils.html import format_html

from plans.viewers import EVERYONE

register = template.Library()


class ViewerOnlyNode(template.Node):
    def __init__(self, keys, nodelist):
        self.keys, self.nodelist = keys, nodelist

    def render(self, context):
        keys = self.keys.resolve(context)
        keys = [keys] if isinstance(keys, str) else list(keys or ())
        keys = sorted({key for key in keys if key})
        viewer = context.get("viewer", frozenset())
        if not keys:
            return ""
        if viewer == EVERYONE:
            return format_html(
                '<div class="viewer-only" data-for="{}" hidden>{}</div>',
                " ".join(keys),
                self.nodelist.render(context),
            )
        return self.nodelist.render(context) if viewer & set(keys) else ""


@register.tag
def viewer_only(parser, token):
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("{% viewer_only keys %} takes one argument.")
    nodelist = parser.parse(("endviewer_only",))
    parser.delete_first_token()
    return ViewerOnlyNode(parser.compile_filter(bits[1]), nodelist)
