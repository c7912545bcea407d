from .models import Membership


def shell(request):
    """What base.html needs: the CSP nonce for django-htmx, and the workspace switcher."""
    context = {"csp_nonce": getattr(request, "csp_nonce", None)}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        # Loaded by org_view on workspace pages; elsewhere one query, evaluated lazily only
        # by pages that draw the navigation.
        context["my_memberships"] = getattr(request, "memberships", None) or (
            Membership.objects.filter(user=user).select_related("organization")
        )
    return context
